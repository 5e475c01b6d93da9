"""Data defaults: the case-reference counter, the provider tenant, and the staff groups."""

from django.db import migrations

from helpdesk.defaults import ensure_defaults


def create_defaults(apps, schema_editor):
    ensure_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0002_initial"),
        ("tenants", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
