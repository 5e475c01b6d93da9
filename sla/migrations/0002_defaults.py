"""The contract's SLA defaults: see ``sla.defaults``."""

from django.db import migrations

from sla.defaults import ensure_defaults


def create_defaults(apps, schema_editor):
    ensure_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("sla", "0001_initial"),
        ("helpdesk", "0003_defaults"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
