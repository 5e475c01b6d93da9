"""Full-text indexes for the admin's case search (issue 16), on PostgreSQL only: GIN indexes on
the same expressions ``helpdesk.admin_views.case_search`` searches, so a word search over a
million cases reads the index. SQLite (development) searches with a plain substring scan and
gets no index. The indexes are not part of the model state: SQLite cannot build them."""

from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import migrations

CASE_INDEX = GinIndex(
    SearchVector("subject", "description", config="english"), name="case_fulltext"
)
UPDATE_INDEX = GinIndex(SearchVector("body", config="english"), name="caseupdate_fulltext")


def add_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.add_index(apps.get_model("helpdesk", "Case"), CASE_INDEX)
    schema_editor.add_index(apps.get_model("helpdesk", "CaseUpdate"), UPDATE_INDEX)


def remove_indexes(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.remove_index(apps.get_model("helpdesk", "Case"), CASE_INDEX)
    schema_editor.remove_index(apps.get_model("helpdesk", "CaseUpdate"), UPDATE_INDEX)


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0010_notification_intent")]

    operations = [migrations.RunPython(add_indexes, remove_indexes)]
