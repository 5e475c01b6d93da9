"""The Celery app: workers run the SLA sweep and send emails; beat schedules the sweep.

Configuration comes from Django settings (``CELERY_*``, read from the environment in
``helpdesk/settings.py``). The broker is Redis in production and CI, and kombu's filesystem
transport under ``var/broker`` when no Redis is configured, so ``make run`` needs no server.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("helpdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    # The database is the truth: nobody reads task results, so none are stored.
    task_ignore_result=True,
    # A task is acknowledged when it has finished, and a worker that dies mid-task gives its
    # message back: the sweep and the sends are idempotent, so running twice is safe and
    # never running is not.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # With late acks a worker should hold one message at a time, not a prefetched pile that
    # waits behind a slow SMTP server.
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_default_queue="helpdesk",
    beat_schedule={
        # An interval, not a crontab: crontab schedules misfire at daylight-saving changes.
        # A sweep or drain that waited a whole interval in the queue is superseded by the next
        # one: expire it rather than run a pile of them after an outage.
        "sla-sweep": {
            "task": "sla.tasks.sla_sweep",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        "outbox-drain": {
            "task": "helpdesk.tasks.outbox_drain",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        "webhooks-drain": {
            "task": "api.tasks.webhooks_drain",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
        # IMAP mailboxes, and inbound emails left pending or failed (intake, issue 12).
        "intake-poll": {
            "task": "intake.tasks.intake_poll",
            "schedule": 60.0,
            "options": {"expires": 55},
        },
    },
)
app.autodiscover_tasks()


@app.on_after_configure.connect
def _use_settings_interval(sender: Celery, **kwargs) -> None:
    """Beat's interval and the filesystem broker's folders, from settings once they load."""
    every = settings.SLA_SWEEP_EVERY.total_seconds()
    for entry in sender.conf.beat_schedule.values():
        entry["schedule"] = every
        entry["options"]["expires"] = max(every - 5, 1)
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
        if isinstance(folder, str | Path):
            Path(folder).mkdir(parents=True, exist_ok=True)
