"""Updates on a case (SPEC §4): public replies, internal notes and the escalation thread; the
support side's first public reply is the response."""

from __future__ import annotations

from collections.abc import Iterable
from copy import copy

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from helpdesk import access, notifications
from helpdesk.attachments import store_attachments, validate_attachments
from helpdesk.models import (
    Case,
    CaseUpdate,
    EventKind,
    Status,
    Tier,
    Visibility,
)
from helpdesk.services.cases import allowed_statuses
from helpdesk.services.common import actor_check, case_lock, event_add, status_set
from sla import services as sla
from tenants.models import TenantKind, User


def update_add(
    *,
    case: Case,
    author: User,
    body: str,
    internal: bool = False,
    escalation: bool = False,
    attachments: Iterable[UploadedFile] = (),
) -> CaseUpdate:
    """Add a public reply, an internal note, or (``escalation``) a message in the escalation
    thread between a reseller and the provider. The support side's first public reply after
    dispatch is the case's response (SPEC §4); on an escalated case, the provider's first
    message in the thread is the response on its own clock."""
    actor_check(author, case)
    body = body.strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    uploads = validate_attachments(attachments)
    support = access.is_support_side(author, case)
    visibility = update_visibility(case, author, internal=internal, escalation=escalation)

    now = timezone.now()
    with transaction.atomic():
        locked = case_lock(case)
        if locked.status == Status.CLOSED:
            raise ValidationError("This case is closed; please open a new case instead.")
        update = CaseUpdate.objects.create(
            case=locked,
            author=author,
            author_email=author.email,
            visibility=visibility,
            body=body,
            by_support=support,
            created_at=now,
        )
        store_attachments(locked, update, uploads, author)
        event_add(
            locked,
            author,
            EventKind.UPDATE_ADDED,
            now,
            new=update.get_visibility_display(),
            visibility=visibility,
        )
        changed = ["updated_at"]
        if visibility == Visibility.ESCALATION:
            if locked.tier != Tier.TWO:
                raise ValidationError({"body": "Escalate the case before writing to the provider."})
            if access.is_provider_staff(author):
                sla.clock_respond(case=locked, tier=Tier.TWO, at=now)
        # The response (SPEC §4): the support side's first public reply stops tier one's clock
        # and is the case's first response, one fact written by sla.services.clock_respond.
        # Notes and customer comments never get here.
        if (
            visibility == Visibility.PUBLIC
            and support
            and sla.clock_respond(case=locked, tier=Tier.ONE, at=now)
        ):
            event_add(locked, author, EventKind.RESPONDED, now)
            if locked.status == Status.NEW:
                status_set(locked, author, Status.RESPONDED, now)
                changed.append("status")
        elif visibility == Visibility.PUBLIC and not support and locked.status == Status.WAITING:
            # The customer answered what support was waiting for: the ball is back with support.
            status_set(locked, author, Status.IN_PROGRESS, now, reason="The customer replied.")
            changed.append("status")
        locked.updated_at = now
        locked.save(update_fields=changed)
        notifications.update_added(update)
    case.refresh_from_db()
    return update


def update_visibility(case: Case, author: User, *, internal: bool, escalation: bool) -> str:
    """Who will see an update ``author`` writes on ``case``, or the ValidationError saying why
    they may not write it (forms call this to show the error before anything is saved)."""
    support = access.is_support_side(author, case)
    staff = access.is_provider_staff(author)
    if case.status == Status.CLOSED:
        raise ValidationError("This case is closed; please open a new case instead.")
    sub_customer_case = case.tenant.kind == TenantKind.SUBCUSTOMER
    if escalation:
        if not (sub_customer_case and support):
            raise ValidationError(
                {"body": "Only the reseller and the provider write in the escalation thread."}
            )
        if case.tier != Tier.TWO:
            raise ValidationError({"body": "Escalate the case before writing to the provider."})
        return Visibility.ESCALATION
    if internal:
        if not support:
            raise ValidationError({"internal": "Only the support side can write internal notes."})
        return Visibility.PROVIDER_NOTE if staff else Visibility.RESELLER_NOTE
    if staff and sub_customer_case:
        # White label: the sub-customer hears only from its reseller, never from the provider.
        raise ValidationError(
            {"body": "The reseller answers its customer: write in the escalation thread."}
        )
    return Visibility.PUBLIC


def update_kinds(case: Case, author: User) -> list[str]:
    """What ``author`` may write on ``case`` now: "public", "internal", "escalation"."""
    if not access.can_act_on_case(author, case):
        return []
    kinds = []
    for kind in ("public", "internal", "escalation"):
        try:
            update_visibility(
                case, author, internal=kind == "internal", escalation=kind == "escalation"
            )
        except ValidationError:
            continue
        kinds.append(kind)
    return kinds


def statuses_with_reply(case: Case, author: User) -> list[str]:
    """The statuses ``author`` may move ``case`` to in the same step as a public reply (the
    admin's one save: the reply first, then the status). A new case becomes "Responded" with
    the support side's first public reply, so the moves from "Responded" are open too; for
    any other case, the same as ``allowed_statuses``."""
    statuses = allowed_statuses(case, author)
    if case.status != Status.NEW or "public" not in update_kinds(case, author):
        return statuses
    if not access.is_support_side(author, case):
        return statuses
    answered = copy(case)
    answered.status = Status.RESPONDED
    more = allowed_statuses(answered, author)
    return [s for s in Status.values if s in statuses or s in more]
