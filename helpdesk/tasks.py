"""Celery tasks for email: thin, taking ids; the work is in ``helpdesk.outbox`` (sending) and
``helpdesk.emails`` (what each email says)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from helpdesk import emails, outbox


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
    """Beat, every minute: enqueue again what a broker outage or a lost message left behind."""
    outbox.outbox_drain()
