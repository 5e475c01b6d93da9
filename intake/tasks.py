"""Beat tasks of the email intake: thin, the work is in intake.imap and intake.services."""

from __future__ import annotations

from celery import shared_task

from intake.imap import mailboxes_poll
from intake.services import messages_retry


@shared_task(ignore_result=True)
def intake_poll() -> int:
    """Every minute: poll the IMAP mailboxes, then retry messages left pending or failed."""
    count = mailboxes_poll()
    messages_retry()
    return count
