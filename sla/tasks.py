"""Celery tasks of the SLA engine: thin; the work is in ``sla.sweep``."""

from __future__ import annotations

from celery import shared_task

from sla import sweep


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sla_sweep() -> None:
    """Beat, every minute. Safe to run twice at once, or again after a worker died in it."""
    sweep.sweep()
