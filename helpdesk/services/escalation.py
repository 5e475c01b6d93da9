"""Escalation services (SPEC §4): a reseller hands a sub-customer's case to the provider (tier
two) and the provider hands it back. Same style as the other case services: keyword-only, one
transaction, the case row locked, an event per change.

- Escalating starts the provider's response clock at the escalation instant, with the plan that
  applies to the reseller as the provider's customer, and opens the escalation thread with the
  reseller's message. Tier one's clock keeps running: the reseller still owes its customer a
  response.
- The provider's first message in the thread is its response (``update_add(escalation=True)``
  stops tier two's clock). Handing back is such a message too.
- A case is escalated at most once at a time. Each escalation is a dispatch (SPEC §4):
  escalating again after a hand-back starts a new provider clock; earlier ones stay as history.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from helpdesk import access, notifications
from helpdesk.models import Case, CaseUpdate, EventKind, Tier, Visibility
from helpdesk.services.common import case_lock, event_add
from helpdesk.services.updates import update_add
from sla import services as sla
from tenants.models import TenantKind, User


def can_escalate(case: Case, user: User) -> bool:
    """The reseller's people may escalate their sub-customer's open tier-one case."""
    return (
        case.tenant.kind == TenantKind.SUBCUSTOMER
        and case.tier == Tier.ONE
        and case.is_open
        and access.is_support_side(user, case)
        and not access.is_provider_staff(user)
    )


def case_escalate(*, case: Case, actor: User, note: str) -> CaseUpdate:
    """Hand the case to the provider with a message that opens the escalation thread."""
    if not access.is_support_side(actor, case) or access.is_provider_staff(actor):
        raise PermissionDenied("Only the reseller's people escalate its customers' cases.")
    if not note.strip():
        raise ValidationError({"note": "Tell the provider what you need: it opens the thread."})
    with transaction.atomic():
        locked = case_lock(case)
        if locked.tenant.kind != TenantKind.SUBCUSTOMER:
            raise ValidationError("Only a reseller's customers' cases are escalated.")
        if not locked.is_open:
            raise ValidationError("Reopen the case before escalating it.")
        if locked.tier == Tier.TWO:
            raise ValidationError("This case is already with the provider.")
        now = timezone.now()
        locked.tier = Tier.TWO
        locked.updated_at = now
        locked.save(update_fields=["tier", "updated_at"])
        # The reseller is now the provider's customer on this case (SPEC §4 "Dispatch").
        sla.clock_start(case=locked, tier=Tier.TWO, dispatched_at=now)
        event_add(
            locked,
            actor,
            EventKind.ESCALATED,
            now,
            old=Tier.ONE.label,
            new=Tier.TWO.label,
            visibility=Visibility.ESCALATION,
        )
        message = update_add(case=locked, author=actor, body=note, escalation=True)
        notifications.case_escalated(locked)
    case.refresh_from_db()
    return message


def case_hand_back(*, case: Case, actor: User, note: str) -> CaseUpdate:
    """The provider returns the case to the reseller, saying why in the thread."""
    if not access.is_provider_staff(actor):
        raise PermissionDenied("Only provider staff hand cases back.")
    if not note.strip():
        raise ValidationError({"note": "Tell the reseller what you found or need."})
    with transaction.atomic():
        locked = case_lock(case)
        if locked.tier != Tier.TWO:
            raise ValidationError("This case is not escalated.")
        # The message first: it is the provider's response if none came before.
        message = update_add(case=locked, author=actor, body=note, escalation=True)
        now = timezone.now()
        locked.refresh_from_db()
        locked.tier = Tier.ONE
        locked.updated_at = now
        locked.save(update_fields=["tier", "updated_at"])
        sla.case_sync_due(locked)
        event_add(
            locked,
            actor,
            EventKind.HANDED_BACK,
            now,
            old=Tier.TWO.label,
            new=Tier.ONE.label,
            visibility=Visibility.ESCALATION,
        )
    case.refresh_from_db()
    return message
