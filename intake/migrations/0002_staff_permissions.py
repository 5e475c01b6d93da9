"""Support staff work the triage list; managers also configure the IMAP mailboxes."""

from django.db import migrations

from intake.defaults import ensure_intake_defaults


def grant(apps, schema_editor):
    ensure_intake_defaults(apps)


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
