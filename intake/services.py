"""The email intake (issue 12): one service behind the pipe, the HTTP endpoint and IMAP.

``message_store`` keeps the raw bytes first (deduplicated), ``message_process`` decides what
the message is and records exactly one outcome: a case opened, an update added, ignored as
automatic (which header), held for triage (why), or failed (the error; retried). Cases change
only through ``helpdesk.services``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from helpdesk import access
from helpdesk.attachments import validate_attachment
from helpdesk.models import Case, Channel, OutboundEmail, Status
from helpdesk.reply_address import reference_from_address
from helpdesk.services import case_change_status, case_open, update_add
from intake import directory
from intake.loops import automatic_reason
from intake.models import FINAL_OUTCOMES, InboundMessage, Mailbox, Outcome
from intake.parsing import ParsedMessage, Part, dedup_key, latest_reply, parse
from tenants.access import is_provider_staff, membership_of
from tenants.brand_models import Brand
from tenants.models import Tenant, TenantKind, User

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# What processing writes on the message row (attribute names: the foreign keys by their id).
RECORDED_FIELDS = [
    "outcome",
    "reason",
    "case_id",
    "update_id",
    "brand_id",
    "sender_tenant_id",
    "processed_at",
    "from_address",
    "subject",
    "attempts",
]
_FIELD_NAMES = {name: name.removesuffix("_id") for name in RECORDED_FIELDS}
NO_SUBJECT = "(no subject)"
NO_TEXT = "(The email had no text.)"


# --- storing --------------------------------------------------------------------------------


def message_store(
    *,
    raw: bytes,
    source: str,
    recipient: str = "",
    mailbox: Mailbox | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> tuple[InboundMessage, bool]:
    """Keep ``raw`` before anything else reads it, committed on its own (IMAP stores a batch,
    then processes it). Returns (the row, whether it is new): the same message delivered again
    (same Message-ID, or same bytes without one) is the row kept the first time. Raises only
    when the database cannot store it."""
    row = _new_row(raw, source, recipient, mailbox, uidvalidity, uid)
    try:
        # Inserted straight away: a new message is the common case, and the unique dedup key
        # (and IMAP UID) turn a repeat into an IntegrityError, so no query has to ask first.
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        return _stored_before(row), False
    return row, True


def _new_row(
    raw: bytes,
    source: str,
    recipient: str = "",
    mailbox: Mailbox | None = None,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> InboundMessage:
    key, message_id = dedup_key(raw)
    return InboundMessage(
        dedup_key=key,
        message_id=message_id,
        raw=raw,
        size=len(raw),
        source=source,
        recipient=recipient.strip().lower()[:255],
        mailbox=mailbox,
        imap_uidvalidity=uidvalidity,
        imap_uid=uid,
        received_at=timezone.now(),
    )


def _stored_before(row: InboundMessage) -> InboundMessage:
    """The row that made ``row``'s insert fail: stored before (a repeated delivery, a
    concurrent one, or the same IMAP UID re-fetched after a crash), that row is the one."""
    again = InboundMessage.objects.filter(dedup_key=row.dedup_key).first()
    if again is None and row.imap_uid is not None:
        again = InboundMessage.objects.filter(
            mailbox=row.mailbox_id, imap_uidvalidity=row.imap_uidvalidity, imap_uid=row.imap_uid
        ).first()
    if again is None:  # pragma: no cover - the insert failed for another reason
        raise IntegrityError(f"Inbound email {row.dedup_key} was neither stored nor found.")
    return again


class _StoredBefore(Exception):
    """The message's insert met a row stored before (raised to leave the transaction)."""


def email_ingest(*, raw: bytes, source: str, recipient: str = "") -> InboundMessage:
    """Store, then process: what the pipe and the endpoint do. Only storing may raise.

    One transaction: the raw row is inserted first (its unique key stops a repeat before
    anything is done), the message is then decided and acted on in a savepoint, the outcome
    written, and it all commits together. Processing that fails (a bug, a database error)
    rolls back to the savepoint only: the raw row commits with the error as its outcome
    (failed, retried later), as before. A crash (the process killed, the database gone) before
    the commit leaves nothing: the caller has not said the message is stored (the pipe has not
    exited 0, the endpoint has not answered 202), so the mail server or the sender keeps it and
    delivers it again. A repeat finds the row stored before and returns it (processed first if
    it is still pending or failed)."""
    row = _new_row(raw, source, recipient)
    try:
        with transaction.atomic():
            try:
                row.save(force_insert=True)
            except IntegrityError as error:
                raise _StoredBefore from error  # out of the transaction: it is rolled back
            # The raw bytes are in hand: read once, here, not from the row again.
            _process_row(row, _read(raw))
        return row
    except _StoredBefore:
        pass
    stored = _stored_before(row)
    if stored.outcome in (Outcome.PENDING, Outcome.FAILED):
        # The stored copy is decided, not these bytes: a copy of the same Message-ID may
        # differ (another Delivered-To, other Received headers), and what is decided must be
        # what the row holds (and what the admin shows and a retry reads).
        done = _process(stored.pk, None)
        if done is not None:  # None: deleted meanwhile
            return done
    return stored


def _read(raw: bytes) -> ParsedMessage | Exception:
    """The parsed message, or what the standard library's parser raised on it."""
    try:
        return parse(raw)
    except Exception as error:  # noqa: BLE001 - recorded as the message's triage reason
        return error


# --- processing -----------------------------------------------------------------------------


@dataclass
class Decision:
    outcome: str
    reason: str
    case: Case | None = None
    update_id: int | None = None
    brand: Brand | None = None
    tenant: Tenant | None = None


class Triage(Exception):
    """The message waits for staff; the message says why."""


def message_process(pk: int) -> str:
    """Decide what message ``pk`` is and act on it, once. Returns the outcome recorded.

    One transaction holds the message row locked, the case change and the outcome, so a
    crash leaves the message pending with nothing done, and two workers never both act."""
    row = _process(pk, None)
    return row.outcome if row is not None else ""


def _process(pk: int, parsed: ParsedMessage | Exception | None) -> InboundMessage | None:
    """``message_process``, returning the row as it stands after (None if there is none).
    ``parsed``: the message as ``_read`` gave it, or None to read it from the stored row."""
    with transaction.atomic():
        # The row only is locked (its mailbox and brand come along, unlocked: PostgreSQL locks
        # no nullable side of an outer join).
        rows = InboundMessage.objects.select_related("mailbox__brand__tenant").select_for_update(
            of=("self",)
        )
        if parsed is not None:
            rows = rows.defer("raw")
        try:
            row = rows.get(pk=pk)
        except InboundMessage.DoesNotExist:
            return None
        if row.outcome not in (Outcome.PENDING, Outcome.FAILED):
            return row
        _process_row(row, parsed)
        return row


def _process_row(row: InboundMessage, parsed: ParsedMessage | Exception | None) -> None:
    """Decide what ``row`` is and act on it in a savepoint, then write its outcome: the
    caller's transaction holds the row (inserted or locked) until both commit together."""
    before = {name: getattr(row, name) for name in RECORDED_FIELDS}
    row.attempts += 1
    try:
        with transaction.atomic():
            if parsed is None:
                parsed = _read(bytes(row.raw))
            decision = _decide(row, parsed)
    except Exception as error:  # a bug or an outage: recorded, and retried later
        logger.exception("Inbound email %s could not be processed", row.pk)
        text = f"{type(error).__name__}: {error}"[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            decision = Decision(Outcome.TRIAGE, f"Could not be processed ({text}).")
        else:
            decision = Decision(Outcome.FAILED, text)
    row.outcome, row.reason = decision.outcome, decision.reason
    row.case, row.update_id = decision.case, decision.update_id
    row.brand, row.sender_tenant = decision.brand, decision.tenant
    row.processed_at = timezone.now()
    # Only what changed: most of these are still empty on a new row.
    changed = [name for name in RECORDED_FIELDS if getattr(row, name) != before[name]]
    row.save(update_fields=[_FIELD_NAMES[name] for name in changed])


def _decide(row: InboundMessage, parsed: ParsedMessage | Exception) -> Decision:
    if isinstance(parsed, Exception):  # the standard library's parser gave up on it
        return Decision(Outcome.TRIAGE, f"The message could not be read ({parsed!r:.200}).")
    row.from_address = parsed.from_address[:255]
    row.subject = parsed.subject[:255]
    # Senders, brands and our domains, remembered between messages while no user,
    # membership, tenant or brand changes (one read of the shared version per message).
    known = directory.Directory()
    sent = _sent_by_us(parsed, known)
    own = {parsed.message_id} if parsed.message_id and parsed.message_id in sent else set()
    reason = automatic_reason(parsed, own)
    if reason:
        return Decision(Outcome.IGNORED, reason)
    brand = _brand_for(row, parsed, known)
    sender = known.sender(parsed.from_address)
    decision = Decision(Outcome.TRIAGE, "", brand=brand)
    if sender is not None and (membership := membership_of(sender)) is not None:
        decision.tenant = membership.tenant
    try:
        case, how = _thread(row, parsed, sent, known)
        if case is not None:
            return _reply(row, parsed, sender, case, how, decision)
        return _new_case(row, parsed, sender, brand, decision)
    except Triage as triage:
        decision.reason = str(triage)
        return decision


def _sender(address: str) -> User | None:
    """The user of ``address``, read afresh (staff working the triage list)."""
    return directory.sender_query(address) if address else None


def _sent_by_us(parsed: ParsedMessage, known: directory.Directory) -> dict[str, int | None]:
    """Our own outgoing emails among the Message-IDs this message has or names (its own, for
    loop detection; In-Reply-To and References, for threading), newest first: {Message-ID
    without brackets: its case id}. One query for all three."""
    ids = [i for i in [*parsed.in_reply_to, *parsed.references] if i]
    if parsed.message_id and (ids or _our_domain(parsed.message_id.rpartition("@")[2], known)):
        # Its own Message-ID only matters if we could have made it (our domains): a message
        # that answers nothing and came from elsewhere needs no query.
        ids.append(parsed.message_id)
    if not ids:
        return {}
    rows = OutboundEmail.objects.filter(message_id__in={f"<{i}>" for i in ids}).values_list(
        "message_id", "case_id", "created_at", "pk"
    )
    # Newest first, sorted here: usually there is no row or one, and the query stays simple.
    newest = sorted(rows, key=lambda r: (r[2], r[3]), reverse=True)
    found: dict[str, int | None] = {}
    for message_id, case_id, _, _ in newest:
        found.setdefault(message_id[1:-1], case_id)  # the newest row of a repeated Message-ID
    return found


def _brand_for(
    row: InboundMessage, parsed: ParsedMessage, known: directory.Directory
) -> Brand | None:
    """The brand whose support address the message was sent to: the mailbox's, else the
    envelope recipient's, else the first header recipient that is a brand's address."""
    if row.mailbox_id and row.mailbox.brand_id:
        return row.mailbox.brand
    candidates = [a for a in [row.recipient, *parsed.recipients] if a]
    # Support addresses are few and change rarely: remembered, not read per message.
    return known.brand([_without_tag(a) for a in candidates])


def _without_tag(address: str) -> str:
    local, _, domain = address.lower().partition("@")
    return f"{local.partition('+')[0]}@{domain}"


# --- threading ------------------------------------------------------------------------------


def _thread(
    row: InboundMessage,
    parsed: ParsedMessage,
    sent: dict[str, int | None],
    known: directory.Directory,
) -> tuple[Case | None, str]:
    """The case this message answers and how we know, from (in order) In-Reply-To and
    References matched against Message-IDs we sent (``sent``: ``_sent_by_us``) or received, a
    signed reply address, the case reference in the subject."""
    for header, ids in (("In-Reply-To", parsed.in_reply_to), ("References", parsed.references)):
        if not ids:
            continue
        wanted = set(ids)
        ours = next((c for m, c in sent.items() if m in wanted and c is not None), None)
        if ours is not None:
            return _cases().get(pk=ours), f"{header} names an email we sent"
        received = (
            InboundMessage.objects.filter(message_id__in=ids, case__isnull=False)
            .exclude(pk=row.pk)
            .values_list("case_id", flat=True)
            .first()
        )
        if received is not None:
            return _cases().get(pk=received), f"{header} names an email we received"
        for message_id in ids:
            local, _, domain = message_id.partition("@")
            if local.lower().startswith("cs-") and _our_domain(domain, known):
                case = _cases().filter(reference__iexact=local).first()
                if case is not None:
                    return case, f"{header} names the case's thread"
    for address in [row.recipient, *parsed.recipients]:
        reference = reference_from_address(address or "")
        if reference and (case := _cases().filter(reference=reference).first()):
            return case, "sent to the case's reply address"
    if reference := parsed.subject_reference:
        case = _cases().filter(reference=reference).first()
        if case is not None:
            return case, "the subject names the case"
    return None, ""


def _cases():
    # With the tenant and its parent: who may act on the case is decided from them (its tier
    # one), which would otherwise be two more queries per reply.
    return Case.objects.select_related("tenant__parent")


def _our_domain(domain: str, known: directory.Directory) -> bool:
    return bool(domain) and domain.lower() in known.our_message_id_domains()


def _reply(
    row: InboundMessage,
    parsed: ParsedMessage,
    sender: User | None,
    case: Case,
    how: str,
    decision: Decision,
) -> Decision:
    decision.case = case
    who = parsed.from_address or "an unknown sender"
    if sender is None or not sender.is_active or not access.can_act_on_case(sender, case):
        raise Triage(f"A reply to {case.reference} ({how}), but {who} may not act on that case.")
    if case.status == Status.CLOSED:
        raise Triage(
            f"A reply to {case.reference} ({how}), which is closed: closed is final. Open a "
            "new case from this message if it needs one."
        )
    text = latest_reply(parsed.text) if parsed.text else ""
    uploads, notes = _uploads(parsed.attachments)
    if text and text != parsed.text:
        uploads.append(_upload("original-message.txt", parsed.text.encode(), "text/plain"))
    body = "\n\n".join(filter(None, [text or NO_TEXT, *notes]))
    reopened = ""
    try:
        with transaction.atomic():
            if case.status == Status.RESOLVED and access.is_requesting_side(sender, case):
                # As the portal does: the customer's answer reopens a resolved case.
                case_change_status(
                    case=case,
                    actor=sender,
                    status=Status.IN_PROGRESS,
                    reason="The customer replied by email.",
                )
                reopened = "; it was resolved and is reopened"
            # The support side's mail becomes an internal note, never a public reply: a
            # "reply" to a notification about an internal note must not reach the customer.
            # Staff answer customers where they can see who will read it (admin, portal).
            internal = access.is_support_side(sender, case)
            update = update_add(
                case=case, author=sender, body=body, internal=internal, attachments=uploads
            )
    except (ValidationError, PermissionDenied) as error:
        raise Triage(
            f"A reply to {case.reference} ({how}) was refused: {_message(error)}"
        ) from None
    decision.outcome, decision.update_id = Outcome.UPDATE_ADDED, update.pk
    kind = "an internal note" if internal else "a public update"
    decision.reason = f"Added to {case.reference} as {kind} ({how}){reopened}."
    return decision


def _new_case(
    row: InboundMessage,
    parsed: ParsedMessage,
    sender: User | None,
    brand: Brand | None,
    decision: Decision,
) -> Decision:
    who = parsed.from_address or "(no sender address)"
    if sender is None:
        raise Triage(f"Unknown sender {who}: not an agent of any customer.")
    if not sender.is_active:
        raise Triage(f"{who} is deactivated.")
    membership = membership_of(sender)
    if membership is None:
        raise Triage(
            f"{who} is not an agent of any customer (provider staff open cases in the admin)."
        )
    tenant = membership.tenant
    if tenant.kind == TenantKind.PROVIDER:
        raise Triage(f"{who} belongs to the provider, not a customer.")
    if not tenant.is_usable():
        raise Triage(f"{who}'s organisation {tenant} is deactivated.")
    if brand is not None and brand.tenant.kind == TenantKind.RESELLER:
        reseller = brand.tenant
        if tenant.pk != reseller.pk and tenant.parent_id != reseller.pk:
            raise Triage(
                f"Sent to {brand.name}'s support address, but {who} belongs to {tenant}, "
                f"which is not one of {brand.name}'s customers."
            )
    cap = settings.INTAKE_MAX_CASES_PER_HOUR
    recent = InboundMessage.objects.filter(
        from_address=parsed.from_address,
        outcome=Outcome.CASE_OPENED,
        processed_at__gte=timezone.now() - timedelta(hours=1),
    ).count()
    if recent >= cap:
        raise Triage(
            f"{who} already opened {recent} cases by email in the last hour (limit {cap})."
        )
    uploads, notes = _uploads(parsed.attachments)
    description = "\n\n".join(filter(None, [parsed.text or NO_TEXT, *notes]))
    subject = " ".join(parsed.subject.split())[:200] or NO_SUBJECT
    try:
        case = case_open(
            tenant=tenant,
            subject=subject,
            description=description,
            channel=Channel.EMAIL,
            requester=sender,
            attachments=uploads,
        )
    except (ValidationError, PermissionDenied) as error:
        raise Triage(f"No case could be opened: {_message(error)}") from None
    decision.outcome, decision.case = Outcome.CASE_OPENED, case
    decision.reason = f"Opened {case.reference} for {tenant} (Minor)."
    return decision


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def _upload(name: str, data: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _uploads(parts: list[Part]) -> tuple[list[SimpleUploadedFile], list[str]]:
    """Attachments that meet the attachment rules, and a note for each that does not (the
    file stays in the raw message, which staff can download from the admin)."""
    uploads, notes = [], []
    for part in parts:
        upload = _upload(_safe_name(part.filename), part.data, part.content_type)
        try:
            validate_attachment(upload)
        except ValidationError as error:
            notes.append(
                f"[Attachment not added: {' '.join(error.messages)} It is kept with the "
                "original email.]"
            )
            continue
        uploads.append(upload)
    return uploads, notes


def _safe_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return name[:120] or "attachment.bin"


# --- retries and triage ---------------------------------------------------------------------


def messages_retry(*, older_than: timedelta = timedelta(minutes=1), batch: int = 200) -> int:
    """Process messages left pending (a process died after storing) or failed (retried up to
    MAX_ATTEMPTS, then they go to triage). Returns how many were tried."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundMessage.objects.filter(
            outcome__in=[Outcome.PENDING, Outcome.FAILED], received_at__lt=cutoff
        )
        .order_by("received_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        message_process(pk)
    return len(ids)


def _settle(row: InboundMessage, staff: User, outcome: str, reason: str, **fields) -> None:
    if row.outcome in FINAL_OUTCOMES:
        raise ValidationError(f"This message is already settled: {row.get_outcome_display()}.")
    InboundMessage.objects.filter(pk=row.pk).update(
        outcome=outcome, reason=reason, handled_by=staff, processed_at=timezone.now(), **fields
    )


def triage_open_case(
    *, message: InboundMessage, tenant: Tenant, requester: User, staff: User
) -> Case:
    """Staff open a case from a triaged message for a chosen tenant and requester."""
    if not is_provider_staff(staff):
        raise PermissionDenied("Only provider staff work the triage list.")
    parsed = parse(bytes(message.raw))
    uploads, notes = _uploads(parsed.attachments)
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().get(pk=message.pk)
        case = case_open(
            tenant=tenant,
            subject=" ".join(parsed.subject.split())[:200] or NO_SUBJECT,
            description="\n\n".join(filter(None, [parsed.text or NO_TEXT, *notes])),
            channel=Channel.EMAIL,
            requester=requester,
            opened_by=staff,
            attachments=uploads,
        )
        _settle(
            locked,
            staff,
            Outcome.CASE_OPENED,
            f"Opened {case.reference} from triage by {staff.email} (was: {locked.reason})",
            case=case,
        )
    return case


def triage_add_to_case(*, message: InboundMessage, case: Case, staff: User) -> None:
    """Staff add a triaged message to a case. Written by the sender when they may act on the
    case; otherwise as a provider internal note quoting the email (an unverified sender's
    words never reach the customer as a support reply)."""
    if not is_provider_staff(staff):
        raise PermissionDenied("Only provider staff work the triage list.")
    parsed = parse(bytes(message.raw))
    uploads, notes = _uploads(parsed.attachments)
    text = latest_reply(parsed.text) if parsed.text else NO_TEXT
    sender = _sender(parsed.from_address)
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().get(pk=message.pk)
        if sender is not None and sender.is_active and access.is_requesting_side(sender, case):
            update = update_add(
                case=case, author=sender, body="\n\n".join([text, *notes]), attachments=uploads
            )
        else:
            quoted = f"Email from {parsed.from_address or 'an unknown sender'}:\n\n{text}"
            update = update_add(
                case=case,
                author=staff,
                body="\n\n".join([quoted, *notes]),
                internal=True,
                attachments=uploads,
            )
        _settle(
            locked,
            staff,
            Outcome.UPDATE_ADDED,
            f"Added to {case.reference} from triage by {staff.email} (was: {locked.reason})",
            case=case,
            update=update,
        )


def triage_dismiss(*, messages: list[InboundMessage], staff: User) -> int:
    """Dismissed messages are kept (raw and reason), just off the list."""
    if not is_provider_staff(staff):
        raise PermissionDenied("Only provider staff work the triage list.")
    done = 0
    for message in messages:
        if message.outcome in FINAL_OUTCOMES:
            continue
        _settle(
            message, staff, Outcome.DISMISSED, f"Dismissed by {staff.email} (was: {message.reason})"
        )
        done += 1
    return done
