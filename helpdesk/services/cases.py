"""Opening cases and changing their severity, status and assignee (SPEC §4).

Each service runs in one transaction, locks the case it changes and writes a CaseEvent per
change. Rule violations raise ``ValidationError`` with a message meant for the person who asked;
acting outside one's reach raises ``PermissionDenied``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import nullcontext

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import F, Model
from django.utils import timezone

from helpdesk import access, notifications, webhooks
from helpdesk.attachments import store_attachments, validate_attachments
from helpdesk.models import (
    SELF_SERVICE_CHANNELS,
    Case,
    Channel,
    Counter,
    EventKind,
    Severity,
    Status,
    Tier,
    Visibility,
)
from helpdesk.services.common import actor_check, case_lock, event_add, event_row, status_set
from helpdesk.services.inserts import insert_with_dependents
from sla import services as sla
from tenants.models import Tenant, TenantKind, User

REFERENCE_COUNTER = "case_reference"
# PostgreSQL only; created by migration helpdesk 0010 from the counter's value.
REFERENCE_SEQUENCE = "helpdesk_case_reference_seq"
REFERENCE_PREFIX = "CS-"
REFERENCE_START = 10000

EMERGENCY_NOT_ENTITLED = (
    "Emergency (severity 1) is reserved for customers with the emergency on-call entitlement. "
    "Please contact your account manager to arrange emergency on-call support, or choose "
    "Critical if the issue happens during standard hours."
)

# The status machine of SPEC §4. "Responded" is never chosen: the first response sets it.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.RESOLVED}),
    Status.RESPONDED: frozenset({Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING, Status.RESOLVED}),
    Status.WAITING: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset(),
}


# --- references -------------------------------------------------------------------------------


def reserve_references(count: int = 1) -> list[str]:
    """Take ``count`` new case references, unique and never reused (not even after a case is
    deleted); numbers lost to a rolled-back transaction are skipped, so gaps are allowed.

    On PostgreSQL they come from a sequence (migration 0010): ``nextval`` takes no lock that
    lasts, so concurrent openers never queue behind one another for the rest of their
    transaction. Elsewhere (SQLite, which serialises writers anyway) the counter row is bumped
    inside the caller's transaction.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(%s) FROM generate_series(1, %s)", [REFERENCE_SEQUENCE, count]
            )
            numbers = sorted(row[0] for row in cursor.fetchall())
        return [f"{REFERENCE_PREFIX}{n}" for n in numbers]
    for _ in range(2):
        last = _counter_bumped(count)
        if last is not None:
            return [f"{REFERENCE_PREFIX}{n}" for n in range(last - count + 1, last + 1)]
        Counter.objects.get_or_create(name=REFERENCE_COUNTER, defaults={"value": REFERENCE_START})
    raise RuntimeError("could not reserve a case reference")  # pragma: no cover


def _counter_bumped(count: int) -> int | None:
    """The reference counter after adding ``count``, or None if it has no row yet. One
    ``UPDATE ... RETURNING`` where the database has it (SQLite 3.35+), else update and read."""
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(Counter._meta.db_table)} SET {quote('value')} = "  # noqa: S608
                f"{quote('value')} + %s WHERE {quote('name')} = %s RETURNING {quote('value')}",
                [count, REFERENCE_COUNTER],
            )
            row = cursor.fetchone()
        return None if row is None else row[0]
    if not Counter.objects.filter(name=REFERENCE_COUNTER).update(value=F("value") + count):
        return None
    return Counter.objects.values_list("value", flat=True).get(name=REFERENCE_COUNTER)


# --- opening ----------------------------------------------------------------------------------


def _check_severity_allowed(tenant: Tenant, severity: int) -> None:
    if severity not in Severity.values:
        raise ValidationError({"severity": "Choose a severity from 1 (Emergency) to 5 (Minor)."})
    if severity == Severity.EMERGENCY and not tenant.emergency_entitlement:
        raise ValidationError({"severity": EMERGENCY_NOT_ENTITLED})


def case_open(
    *,
    tenant: Tenant,
    subject: str,
    description: str,
    channel: str,
    severity: int | None = None,
    requester: User | None = None,
    requester_email: str = "",
    opened_by: User | None = None,
    attachments: Iterable[UploadedFile] = (),
) -> Case:
    """Open a case for ``tenant``.

    ``opened_by`` is the person at the keyboard (the requester on the portal, a staff member
    taking a phone call); None for automatic channels that authenticated the sender themselves.
    """
    if channel not in Channel.values:
        raise ValidationError({"channel": f"Unknown channel “{channel}”."})
    if opened_by is not None and not access.can_open_case_for(opened_by, tenant):
        raise PermissionDenied("You cannot open cases for this organisation.")
    if tenant.kind == TenantKind.PROVIDER:
        raise ValidationError({"tenant": "Cases are opened for customers, not for the provider."})
    if not tenant.is_usable():
        raise ValidationError({"tenant": f"{tenant} is deactivated and cannot open new cases."})
    if severity is None:
        if channel in SELF_SERVICE_CHANNELS:
            raise ValidationError({"severity": "Choose the severity that fits the issue."})
        severity = Severity.MINOR
    _check_severity_allowed(tenant, severity)
    if requester is not None:
        if access.membership_of(requester) is None or requester.membership.tenant_id != tenant.pk:
            raise ValidationError({"requester": f"{requester.email} is not an agent of {tenant}."})
        requester_email = requester.email
    if not requester_email:
        raise ValidationError({"requester_email": "The requester's email address is needed."})
    subject, description = subject.strip(), description.strip()
    if not subject:
        raise ValidationError({"subject": "Give the case a subject."})
    if not description:
        raise ValidationError({"description": "Describe the issue."})
    uploads = validate_attachments(attachments)

    now = timezone.now()
    # Tier one's response clock runs from dispatch: the provider's for a direct customer, the
    # reseller's for a sub-customer (SPEC §4). Its due time goes into the case row at once.
    schedule = sla.opening_schedule(tenant, severity, now)
    actor = opened_by or requester
    # On PostgreSQL the case and its rows are one statement (``_insert_opening``), atomic by
    # itself: when nothing else is written with them (no file, no webhook delivery) and no
    # transaction is open, it commits alone, without a BEGIN and a COMMIT round trip each.
    alone = (
        connection.vendor == "postgresql"
        and not uploads
        and connection.get_autocommit()
        and not webhooks.anyone_listens(tenant)
    )
    with nullcontext() if alone else transaction.atomic():
        case = Case(
            tenant=tenant,
            requester=requester,
            requester_email=requester_email.lower(),
            subject=subject,
            description=description,
            severity=severity,
            channel=channel,
            status=Status.NEW,
            created_at=now,
            updated_at=now,
            # For a direct customer the provider is reached at opening; for a sub-customer the
            # reseller (its tier one) is. Either way, dispatch is now (SPEC §4).
            dispatched_at=now,
            response_due_at=schedule.due_at if schedule else None,
            tier_one_due_at=schedule.due_at if schedule else None,
        )
        # The rows that come with a new case: its tier one's clock (started in this
        # transaction), the "opened" event and the notification intent.
        rows: list[Model] = [
            event_row(case, actor, EventKind.OPENED, now, new=case.get_severity_display()),
        ]
        # (Left on the case for whoever answers with it at once: the API shows its clock.)
        case.opened_clock = (
            sla.clock_row(case=case, tier=Tier.ONE, sequence=1, schedule=schedule)
            if schedule is not None
            else None
        )
        if case.opened_clock is not None:
            rows.insert(0, case.opened_clock)
        intent = notifications.case_opened_intent(case, opened_by)
        if intent is not None:
            rows.append(intent)
        _insert_opening(case, rows)
        store_attachments(case, None, uploads, actor)
        notifications.case_opened_written(case, intent, webhooks_listen=not alone)
    return case


def _insert_opening(case: Case, rows: list[Model]) -> None:
    """The case with its reference and the rows pointing at it: one statement on PostgreSQL
    (the reference from the sequence inside it), else saved one by one."""
    reference = ("%s || nextval(%s)", [REFERENCE_PREFIX, REFERENCE_SEQUENCE])
    if insert_with_dependents(
        case, [(row, "case") for row in rows], parent_sql={"reference": reference}
    ):
        return
    with transaction.atomic(savepoint=False):
        case.reference = reserve_references(1)[0]
        case.save(force_insert=True)
        for row in rows:
            row.save(force_insert=True)


# --- changing ---------------------------------------------------------------------------------


def case_change_severity(*, case: Case, actor: User, severity: int, reason: str) -> Case:
    """Change severity, recorded with who, when and why (SPEC §4)."""
    actor_check(actor, case)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why the severity changes."})
    with transaction.atomic():
        locked = case_lock(case)
        if not locked.is_open:
            raise ValidationError("Severity can only change while the case is open.")
        if severity == locked.severity:
            raise ValidationError({"severity": "The case already has this severity."})
        _check_severity_allowed(locked.tenant, severity)
        now = timezone.now()
        old = locked.get_severity_display()
        locked.severity = severity
        locked.updated_at = now
        locked.save(update_fields=["severity", "updated_at"])
        event_add(
            locked,
            actor,
            EventKind.SEVERITY_CHANGED,
            now,
            old=old,
            new=locked.get_severity_display(),
            reason=reason,
        )
        # The due time follows the new severity, counted from the original dispatch.
        for change in sla.clock_recompute(case=locked):
            event_add(
                locked,
                actor,
                EventKind.DUE_CHANGED,
                now,
                old=change.old_due,
                new=change.new_due,
                reason=reason,
                # Phonism's clock is between the reseller and Phonism: not for the sub-customer.
                visibility=Visibility.PUBLIC
                if change.tier == Tier.ONE
                else Visibility.RESELLER_NOTE,
            )
        notifications.severity_changed(locked, actor, old)
    case.refresh_from_db()
    return case


def allowed_statuses(case: Case, actor: User) -> list[str]:
    """The statuses ``actor`` may move ``case`` to now: the transitions of SPEC §4, and for the
    requesting side only resolving and reopening."""
    targets = TRANSITIONS[case.status]
    if not access.is_support_side(actor, case):
        reopen = {Status.IN_PROGRESS} if case.status == Status.RESOLVED else set()
        resolve = {Status.RESOLVED} if case.is_open else set()
        targets = targets & (reopen | resolve)
    return [s for s in Status.values if s in targets]


def case_change_status(*, case: Case, actor: User, status: str, reason: str = "") -> Case:
    actor_check(actor, case)
    with transaction.atomic():
        locked = case_lock(case)
        if status not in allowed_statuses(locked, actor):
            current, wanted = locked.get_status_display(), Status(status).label
            if locked.status == Status.CLOSED:
                message = "This case is closed; closed is final."
            elif status == Status.RESPONDED:
                message = "A case becomes “Responded” with the support side's first public reply."
            else:
                message = f"A case that is {current} cannot be moved to {wanted}."
            raise ValidationError({"status": message})
        now = timezone.now()
        reopening = locked.status == Status.RESOLVED and status == Status.IN_PROGRESS
        old = locked.get_status_display()
        status_set(locked, actor, status, now, reason=reason.strip())
        if status == Status.RESOLVED:
            locked.resolved_at = now
        elif status == Status.CLOSED:
            locked.closed_at = now
        elif reopening:
            locked.resolved_at = None
        if status in (Status.RESOLVED, Status.CLOSED):
            # Nothing is owed on a finished case: a clock nobody answered stops, unanswered.
            sla.clocks_halt(case=locked, at=now)
        elif reopening:
            sla.clocks_resume(case=locked, at=now)
        locked.updated_at = now
        locked.save(update_fields=["status", "resolved_at", "closed_at", "updated_at"])
        notifications.status_changed(locked, actor, old)
    case.refresh_from_db()
    return case


def case_assign(*, case: Case, actor: User, assignee: User | None) -> Case:
    """Give the case to someone on its support side (or to no one)."""
    if not access.is_support_side(actor, case):
        raise PermissionDenied("Only the support side assigns cases.")
    if assignee is not None and not access.is_support_side(assignee, case):
        raise ValidationError(
            {"assignee": f"{assignee} does not work on this case's support side."}
        )
    with transaction.atomic():
        locked = case_lock(case)
        if locked.assignee_id == (assignee.pk if assignee else None):
            return locked
        now = timezone.now()
        old = locked.assignee.email if locked.assignee else ""
        locked.assignee = assignee
        locked.updated_at = now
        locked.save(update_fields=["assignee", "updated_at"])
        event_add(
            locked,
            actor,
            EventKind.ASSIGNED,
            now,
            old=old,
            new=assignee.email if assignee else "",
            visibility=Visibility.PROVIDER_NOTE
            if access.is_provider_staff(actor)
            else Visibility.RESELLER_NOTE,
        )
    case.refresh_from_db()
    return case
