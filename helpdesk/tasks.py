"""Celery tasks for email: thin, taking ids; the work is in ``helpdesk.outbox`` (sending),
``helpdesk.emails`` (what each email says) and ``helpdesk.notifications`` (who is told)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from helpdesk import emails, notifications, outbox


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    # An SMTP server or network that fails now may work in a minute: back off and try again.
    autoretry_for=(SMTPException, ConnectionError, TimeoutError, OSError),
    retry_backoff=15,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def send_email(outbox_id: int) -> None:
    outbox.outbox_send(outbox_id, build=emails.build_message)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def send_emails(outbox_ids: list[int]) -> None:
    """Fan-out: one send task per row (the sweep enqueues thousands of rows in a few messages)."""
    outbox.enqueue_each(outbox_ids)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def outbox_drain() -> None:
    """Beat, every minute: expand the notification intents and enqueue again the emails that a
    broker outage or a lost message left behind."""
    notifications.intents_drain()
    outbox.outbox_drain()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def notification_expand(intent_id: int) -> None:
    """A new case's emails, worked out from its intent (``notifications.case_opened``)."""
    notifications.intent_expand(intent_id)
