"""Celery tasks for webhooks: thin, ids in; the work is in ``api.webhook_sender``."""

from __future__ import annotations

from celery import shared_task

from api import webhook_sender


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deliver_webhook(delivery_id: int) -> None:
    webhook_sender.deliver(delivery_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def webhooks_drain() -> None:
    """Beat, every minute: deliveries due for a (re)try, in order."""
    for pk in webhook_sender.due_ids():
        webhook_sender.deliver(pk)
