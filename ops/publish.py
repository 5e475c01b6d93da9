"""Failed publishes to the Celery broker: an error in the log and a counter staff see.

A publish that fails is not lost work (the outbox keeps its rows and the drain enqueues them
again), but a broker that keeps refusing means no email leaves at all, so it must be loud: an
ERROR with the traceback in the log, and a count with the last error in the admin (*Cases ›
Outgoing emails*), shared by every process through the database.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from ops.models import PublishFailures

logger = logging.getLogger(__name__)

EMAIL = "email"  # the outbox's send tasks


def record_publish_failure(error: BaseException, *, items: int, key: str = EMAIL) -> None:
    """Count one failed publish of ``items`` items. Never raises: a failing count must not
    turn the caller's committed change into an error."""
    now = timezone.now()
    text = f"{type(error).__name__}: {error}"[:1000]
    changes = {
        "count": F("count") + 1,
        "items": F("items") + items,
        "last_at": now,
        "last_error": text,
    }
    try:
        with transaction.atomic():
            if PublishFailures.objects.filter(key=key).update(**changes):
                return
            try:
                with transaction.atomic():
                    PublishFailures.objects.create(
                        key=key, count=1, items=items, first_at=now, last_at=now, last_error=text
                    )
            except IntegrityError:  # another process created it first
                PublishFailures.objects.filter(key=key).update(**changes)
    except DatabaseError:
        logger.exception("Could not count a failed publish to the broker")


def publish_failures(key: str = EMAIL) -> PublishFailures | None:
    return PublishFailures.objects.filter(key=key).first()
