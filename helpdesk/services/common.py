"""What the case services share: the event every change writes, the case row locked for a
change, and the actor check. Public within the package so that no module imports another's
private helpers."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied

from helpdesk import access
from helpdesk.models import Case, CaseEvent, EventKind, Visibility
from tenants.models import User


def event_add(
    case: Case,
    actor: User | None,
    kind: str,
    at: datetime,
    old: object = "",
    new: object = "",
    reason: str = "",
    visibility: str = Visibility.PUBLIC,
) -> CaseEvent:
    event = event_row(case, actor, kind, at, old, new, reason, visibility)
    event.save()
    return event


def event_row(
    case: Case,
    actor: User | None,
    kind: str,
    at: datetime,
    old: object = "",
    new: object = "",
    reason: str = "",
    visibility: str = Visibility.PUBLIC,
) -> CaseEvent:
    """The event ``event_add`` writes, not saved yet."""
    return CaseEvent(
        case=case,
        actor=actor,
        kind=kind,
        old_value=str(old),
        new_value=str(new),
        reason=reason,
        visibility=visibility,
        created_at=at,
    )


def case_lock(case: Case) -> Case:
    """The case row, locked until the transaction ends, with its tenant and parent."""
    return (
        Case.objects.select_for_update(of=("self",))
        .select_related("tenant__parent")
        .get(pk=case.pk)
    )


def actor_check(actor: User, case: Case) -> None:
    """Refuse anyone who may not act on ``case`` (neither side of it)."""
    if not access.can_act_on_case(actor, case):
        raise PermissionDenied("You cannot act on this case.")


def status_set(case: Case, actor: User | None, status: str, at: datetime, reason: str = "") -> None:
    old = case.get_status_display()
    case.status = status
    event_add(
        case,
        actor,
        EventKind.STATUS_CHANGED,
        at,
        old=old,
        new=case.get_status_display(),
        reason=reason,
    )
