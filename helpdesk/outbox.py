"""The outbox: email written in the transaction of the change it tells about, sent by workers.

Why a table rather than sending from the request, or enqueueing only: the row commits with the
case, so a broker that is down loses nothing (the drain enqueues it again a minute later); the
send claims the row with one conditional UPDATE, so a message delivered twice (late acks, a
redelivery, the drain racing a retry) is sent once; and the row keeps the Message-ID, the
recipients and the delivery state for staff to see.

A send can only be doubled if a worker dies between the SMTP server accepting a message and the
row being marked sent, and then only after ``CLAIM_LEASE``; the repeat carries the same
Message-ID, which mail clients use to drop duplicates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from typing import Any

from celery import Task
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk.celery import app as celery_app
from helpdesk.models import OutboundEmail, OutboxStatus
from ops.publish import record_publish_failure

logger = logging.getLogger(__name__)

# Sends tried before a row is given up as failed (Celery's retries and the drain's together).
MAX_ATTEMPTS = 8
# A row claimed longer ago than this by a worker that never finished may be claimed again.
CLAIM_LEASE: timedelta = settings.OUTBOX_CLAIM_LEASE
# Up to this many ids are enqueued one task each; more go as a few fan-out tasks, so a sweep
# that records thousands of breaches spends milliseconds, not seconds, talking to the broker.
DIRECT_LIMIT = 20
FANOUT_CHUNK = 500
SEND_TASK = "helpdesk.tasks.send_email"
FANOUT_TASK = "helpdesk.tasks.send_emails"


@dataclass
class Draft:
    """An email to write to the outbox."""

    kind: str
    audience: str
    recipients: list[str]
    subject: str
    case_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    auto_submitted: bool = True
    # The Message-ID's domain: the brand's that the recipients see (white label).
    domain: str = ""


def mail_domain(address: str = "") -> str:
    """The domain of ``address`` (a brand's support address), else of DEFAULT_FROM_EMAIL."""
    domain = parseaddr(address or settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2]
    return domain or "localhost"


def thread_id(reference: str, domain: str = "") -> str:
    """A stable Message-ID-like id per case: every email about the case refers to it, so mail
    clients thread them and a reply can be matched to its case."""
    return f"<{reference.lower()}@{domain or mail_domain()}>"


def outbox_add(drafts: Iterable[Draft]) -> list[int]:
    """Write ``drafts`` (inside the caller's transaction) and enqueue them once it commits.
    Drafts without recipients are dropped. Returns the new rows' ids."""
    now = timezone.now()
    default_domain = mail_domain()
    rows = [
        OutboundEmail(
            case_id=draft.case_id,
            kind=draft.kind,
            audience=draft.audience,
            recipients=_unique(draft.recipients),
            subject=draft.subject[:255],
            # Given here (not by the mail backend) so it is known before the send and kept.
            message_id=make_msgid(domain=draft.domain or default_domain),
            auto_submitted=draft.auto_submitted,
            context=draft.context,
            created_at=now,
            queued_at=now,
        )
        for draft in drafts
        if draft.recipients
    ]
    if not rows:
        return []
    OutboundEmail.objects.bulk_create(rows, batch_size=1000)
    ids = [row.pk for row in rows]
    # robust: an enqueue that raises must never turn a committed change into an error page.
    transaction.on_commit(lambda: enqueue(ids), robust=True)
    return ids


def _unique(addresses: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for address in addresses:
        if address:
            seen.setdefault(address.lower(), address)
    return list(seen.values())


def _task(name: str) -> Task:
    """A task of ``helpdesk.tasks`` by name: the tasks (a surface) call the outbox, so the
    outbox finds them in the Celery app's registry instead of importing them."""
    return celery_app.tasks[name]


def enqueue(ids: Sequence[int]) -> bool:
    """Hand rows to the broker. A broker that is down loses nothing (the rows stay pending and
    ``outbox_drain`` enqueues them again) but is logged as an error and counted for the admin.
    Returns whether the broker took them."""
    try:
        if len(ids) <= DIRECT_LIMIT:
            for pk in ids:
                # retry=False: fail at once rather than hold a web request while Celery retries.
                _task(SEND_TASK).apply_async((pk,), retry=False)
        else:
            for start in range(0, len(ids), FANOUT_CHUNK):
                chunk = list(ids[start : start + FANOUT_CHUNK])
                _task(FANOUT_TASK).apply_async((chunk,), retry=False)
    except Exception as error:
        # An error, not a warning: the rows wait for the drain, but a broker that keeps refusing
        # (down, or a missing transport library) means no email leaves at all.
        logger.error(
            "Could not publish %d email(s) to the Celery broker; they stay pending and the "
            "outbox drain enqueues them again",
            len(ids),
            exc_info=True,
        )
        record_publish_failure(error, items=len(ids))
        return False
    return True


def publish(name: str, *args: Any) -> bool:
    """Publish one task by name, for callers that keep their own durable row and drain (the
    notification intents). Like ``enqueue``, a broker that refuses is an error in the log and
    a count for the admin, never an exception for the caller. Returns whether it was taken."""
    try:
        _task(name).apply_async(args, retry=False)
    except Exception as error:
        logger.error(
            "Could not publish task %s to the Celery broker; it waits in the database for its "
            "drain",
            name,
            exc_info=True,
        )
        record_publish_failure(error, items=1)
        return False
    return True


def enqueue_each(ids: Sequence[int]) -> None:
    """The fan-out task's work: one send task per row, so workers share the sending."""
    for pk in ids:
        _task(SEND_TASK).delay(pk)


# --- sending ------------------------------------------------------------------------------


def outbox_send(pk: int, *, build: Callable[[OutboundEmail], EmailMessage]) -> bool:
    """Send row ``pk`` if it is still waiting, as the message ``build`` makes of it (what an
    email says is ``helpdesk.emails``'s business; the outbox only stores, sends and retries).
    True if this call sent it.

    Raises the SMTP or connection error of a failed send (the task retries on it), after
    putting the row back to pending, or to failed once ``MAX_ATTEMPTS`` is reached.
    """
    now = timezone.now()
    claimable = Q(status=OutboxStatus.PENDING) | Q(
        status=OutboxStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE
    )
    claimed = OutboundEmail.objects.filter(claimable, pk=pk).update(
        status=OutboxStatus.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return False  # sent, failed, or being sent by another worker: nothing to do
    row = OutboundEmail.objects.select_related("case__tenant__parent").get(pk=pk)
    try:
        message = build(row)
    except Exception as error:
        _release(row, OutboxStatus.FAILED, error)  # a template or data bug: retries won't help
        raise
    try:
        message.send()
    except OSError as error:  # smtplib.SMTPException is an OSError, as are connection errors
        give_up = row.attempts >= MAX_ATTEMPTS
        _release(row, OutboxStatus.FAILED if give_up else OutboxStatus.PENDING, error)
        raise
    _mark_sent(pk)
    return True


def _mark_sent(pk: int) -> None:
    """Record that the message is out. A database that is restarting or failing over is waited
    for (up to three quarters of the lease) rather than leaving the row claimed, which would
    send it again once the lease ran out (tests/faults/test_postgres_restart.py)."""
    deadline = time.monotonic() + CLAIM_LEASE.total_seconds() * 3 / 4
    while True:
        try:
            OutboundEmail.objects.filter(pk=pk, status=OutboxStatus.SENDING).update(
                status=OutboxStatus.SENT, sent_at=timezone.now(), last_error=""
            )
            return
        except (OperationalError, InterfaceError):
            if time.monotonic() > deadline:
                raise
            logger.warning("Email %s is sent; waiting for the database to record it", pk)
            connection.close()  # the next try opens a new connection
            time.sleep(1)


def _release(row: OutboundEmail, status: str, error: BaseException) -> None:
    OutboundEmail.objects.filter(pk=row.pk, status=OutboxStatus.SENDING).update(
        status=status,
        last_error=f"{type(error).__name__}: {error}"[:1000],
        queued_at=timezone.now(),
    )


def outbox_drain(*, now: datetime | None = None, batch: int = 1000) -> int:
    """Enqueue again the rows still unsent a while after their last enqueue: the broker was
    down, a message was lost, or a worker died holding a claim. Returns how many."""
    now = now or timezone.now()
    stale = Q(status=OutboxStatus.PENDING, queued_at__lt=now - settings.OUTBOX_REQUEUE_AFTER) | Q(
        status=OutboxStatus.SENDING, claimed_at__lt=now - CLAIM_LEASE
    )
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                OutboundEmail.objects.select_for_update(skip_locked=True)
                .filter(stale)
                .order_by("queued_at", "id")
                .values_list("pk", flat=True)[:batch]
            )
            # Stamped before the enqueue so a drain running alongside leaves them alone.
            OutboundEmail.objects.filter(pk__in=ids).update(queued_at=now)
        if ids and not enqueue(ids):
            break  # the broker is still down: the next drain tries again
        total += len(ids)
        if len(ids) < batch:
            return total
    return total


def outbox_retry(*, ids: Sequence[int]) -> int:
    """Staff's "send again" for failed rows: back to pending with a fresh count, enqueued."""
    with transaction.atomic():
        count = OutboundEmail.objects.filter(pk__in=ids, status=OutboxStatus.FAILED).update(
            status=OutboxStatus.PENDING, attempts=0, queued_at=timezone.now()
        )
        transaction.on_commit(lambda: enqueue(list(ids)), robust=True)
    return count
