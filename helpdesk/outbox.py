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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import (
    Audience,
    CaseUpdate,
    NotificationKind,
    OutboundEmail,
    OutboxStatus,
)
from helpdesk.reply_address import reply_address
from intake.models import InboundMessage
from tenants.models import Tenant, User

logger = logging.getLogger(__name__)

LOOP_HEADER = "X-Helpdesk-Loop"

# Sends tried before a row is given up as failed (Celery's retries and the drain's together).
MAX_ATTEMPTS = 8
# A row claimed longer ago than this by a worker that never finished may be claimed again.
CLAIM_LEASE = timedelta(minutes=10)
# Up to this many ids are enqueued one task each; more go as a few fan-out tasks, so a sweep
# that records thousands of breaches spends milliseconds, not seconds, talking to the broker.
DIRECT_LIMIT = 20
FANOUT_CHUNK = 500


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


def enqueue(ids: Sequence[int]) -> bool:
    """Hand rows to the broker. A broker that is down is not an error: the rows stay pending
    and ``outbox_drain`` enqueues them again. Returns whether the broker took them."""
    from helpdesk import tasks  # tasks import this module

    try:
        if len(ids) <= DIRECT_LIMIT:
            for pk in ids:
                # retry=False: fail at once rather than hold a web request while Celery retries.
                tasks.send_email.apply_async((pk,), retry=False)
        else:
            for start in range(0, len(ids), FANOUT_CHUNK):
                chunk = list(ids[start : start + FANOUT_CHUNK])
                tasks.send_emails.apply_async((chunk,), retry=False)
    except Exception:
        logger.warning(
            "Could not enqueue %d email(s); the outbox drain will enqueue them again",
            len(ids),
            exc_info=True,
        )
        return False
    return True


def enqueue_each(ids: Sequence[int]) -> None:
    """The fan-out task's work: one send task per row, so workers share the sending."""
    from helpdesk import tasks

    for pk in ids:
        tasks.send_email.delay(pk)


# --- sending ------------------------------------------------------------------------------


def outbox_send(pk: int) -> bool:
    """Send row ``pk`` if it is still waiting. True if this call sent it.

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
        message = build_message(row)
    except Exception as error:
        _release(row, OutboxStatus.FAILED, error)  # a template or data bug: retries won't help
        raise
    try:
        message.send()
    except OSError as error:  # smtplib.SMTPException is an OSError, as are connection errors
        give_up = row.attempts >= MAX_ATTEMPTS
        _release(row, OutboxStatus.FAILED if give_up else OutboxStatus.PENDING, error)
        raise
    OutboundEmail.objects.filter(pk=pk, status=OutboxStatus.SENDING).update(
        status=OutboxStatus.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


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


# --- rendering ----------------------------------------------------------------------------


def build_message(row: OutboundEmail) -> EmailMultiAlternatives:
    context = render_context(row)
    text = render_to_string(f"emails/{row.kind}.txt", context)
    html = render_to_string(f"emails/{row.kind}.html", context)
    brand = context["brand"]
    # X-Helpdesk-Loop: the intake ignores our own mail if it ever comes back (issue 12).
    headers = {"Message-ID": row.message_id, LOOP_HEADER: mail_domain(brand.from_email)}
    if row.case is not None:
        headers.update(_thread_headers(row, brand))
    if row.auto_submitted:
        # RFC 3834: no vacation responder should answer us; Exchange's own switch likewise.
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=text,
        from_email=brand.from_email,
        to=row.recipients,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def _thread_headers(row: OutboundEmail, brand) -> dict[str, str]:
    """References (and In-Reply-To) that keep a case's emails one conversation in the
    reader's client, including the emails the requester sent us about it; Reply-To routes an
    answer back to the case through a signed address (intake, issue 12)."""
    case = row.case
    thread = thread_id(case.reference, mail_domain(brand.from_email))
    theirs = list(
        InboundMessage.objects.filter(case=case)
        .exclude(message_id="")
        .order_by("received_at", "id")
        .values_list("message_id", flat=True)[:10]
    )
    headers = {"References": " ".join([thread, *(f"<{m}>" for m in theirs)])}
    if theirs:
        headers["In-Reply-To"] = f"<{theirs[-1]}>"
    support = parseaddr(brand.from_email)[1]
    if support and row.kind != NotificationKind.INVITATION:
        headers["Reply-To"] = formataddr((brand.name, reply_address(support, case.reference)))
    return headers


def render_context(row: OutboundEmail) -> dict[str, Any]:
    """What the templates get: the row, its ``data``, the case, the brand the email speaks in
    (``brand``, ``brand_name``), the ``link`` and, by kind, the update or the invitation."""
    case = row.case
    brand = _brand(row)
    context: dict[str, Any] = {"row": row, "data": row.context, "case": case, "brand": brand}
    context["brand_name"] = brand.name
    staff = row.audience in (Audience.STAFF, Audience.ONCALL)
    if case is not None:
        if staff:
            context["link"] = settings.SITE_URL + reverse(
                "admin:helpdesk_case_change", args=[case.pk]
            )
        else:
            context["link"] = brand.site_url + case.get_absolute_url()
    update_id = row.context.get("update_id")
    if update_id:
        context["update"] = CaseUpdate.objects.filter(pk=update_id).first()
    if row.kind == NotificationKind.INVITATION:
        context.update(_invitation(row))
    return context


def _brand(row: OutboundEmail):
    """White label: the requesting side and a reseller's team hear from the brand of the case's
    tier one (a sub-customer's reseller); provider staff and on call from the provider."""
    from tenants.branding import brand_for_tenant, provider_brand

    if row.audience in (Audience.STAFF, Audience.ONCALL):
        return provider_brand()
    tenant = row.case.tenant if row.case is not None else None
    if tenant is None and row.context.get("tenant_id"):
        tenant = Tenant.objects.filter(pk=row.context["tenant_id"]).first()
    return brand_for_tenant(tenant) if tenant is not None else provider_brand()


def _invitation(row: OutboundEmail) -> dict[str, Any]:
    """The invitation's set-password link is made when the email is rendered, never stored:
    the outbox row (which staff can read) holds no token."""
    from tenants.services import invitation_path

    data = row.context
    user = User.objects.get(pk=data["user_id"])
    return {
        "user": user,
        "tenant": Tenant.objects.get(pk=data["tenant_id"]),
        "inviter": User.objects.filter(pk=data.get("inviter_id")).first(),
        "link": data["site"].rstrip("/") + invitation_path(user),
    }
