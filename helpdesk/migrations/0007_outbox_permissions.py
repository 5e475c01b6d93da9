"""Support managers see the outgoing emails: re-run the defaults, now that the model exists."""

from django.db import migrations

from helpdesk.defaults import ensure_defaults


def grant(apps, schema_editor):
    ensure_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0006_outbox")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
