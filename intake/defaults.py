"""Data defaults of the email intake: the staff groups' permissions on it. Run by the data
migration (historical models) and by ``seed_demo`` (live registry), so a flushed database, as
transactional tests leave, gets them back."""

from __future__ import annotations

from tenants.groups import grant_group_permissions

# Support staff work the triage list; managers also configure the IMAP mailboxes.
AGENT = ["view_inboundmessage", "change_inboundmessage", "view_triage", "change_triage"]
GROUP_PERMISSIONS = {
    "Support agent": AGENT,
    "Support manager": [*AGENT, "view_mailbox", "add_mailbox", "change_mailbox"],
}


def ensure_intake_defaults(apps) -> None:
    grant_group_permissions(apps, "intake", GROUP_PERMISSIONS)
