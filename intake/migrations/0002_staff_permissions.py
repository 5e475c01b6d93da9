"""Support staff work the triage list; managers also configure the IMAP mailboxes."""

from django.db import migrations

from tenants.groups import grant_group_permissions

AGENT = ["view_inboundmessage", "change_inboundmessage", "view_triage", "change_triage"]


def grant(apps, schema_editor):
    grant_group_permissions(
        apps,
        "intake",
        {
            "Support agent": AGENT,
            "Support manager": [*AGENT, "view_mailbox", "add_mailbox", "change_mailbox"],
        },
    )


class Migration(migrations.Migration):
    dependencies = [("intake", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
