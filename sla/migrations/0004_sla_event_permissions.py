"""Staff groups see SLA events and the at-risk-or-breached list: re-run the SLA defaults, now
that those models exist (idempotent: calendars and plans staff edited are left alone)."""

from django.db import migrations

from sla.defaults import ensure_defaults


def grant(apps, schema_editor):
    ensure_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("sla", "0003_sla_events")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
