"""Who is told what (SPEC §4, §6): the rules that turn a change into outbox rows.

Each function runs inside the transaction of the change it tells about and writes
``OutboundEmail`` rows through ``helpdesk.outbox``; workers render and send them after commit,
never the web request. Opening a case, the busiest path, writes only a ``NotificationIntent``
that a worker expands into those rows (``intent_expand``; ``intents_drain`` after an outage).
The services call one function each:

* a new case → the case's tier-one team (the reseller's people for a sub-customer, provider
  support staff for a direct customer), an acknowledgement to the requester (automatic, so not
  a response: it stops no clock), and for an Emergency the on-call address;
* a public reply → the other side: a support reply goes to the requester and the requesting
  side's people who wrote on the case; a customer comment to the assignee, else tier one;
* an internal note → only support-side people who may read it, never the customer;
* a severity or status change → the requesting side;
* at risk (``sla.sweep``) → the assignee, else the team whose clock it is;
* breached → that team, the assignee and the support managers; an Emergency pages on call.

Nobody is emailed about their own action.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from api.models import WebhookEvent
from helpdesk import webhooks
from helpdesk.models import (
    Audience,
    Case,
    CaseUpdate,
    IntentKind,
    NotificationIntent,
    NotificationKind,
    Severity,
    Status,
    Tier,
    Visibility,
)
from helpdesk.outbox import Draft, mail_domain, outbox_add, publish
from tenants.branding import brand_for_tenant, provider_brand
from tenants.models import Tenant, TenantKind, User

SUPPORT_AGENT, SUPPORT_MANAGER = "Support agent", "Support manager"

_muted: ContextVar[bool] = ContextVar("notifications_muted", default=False)


@contextmanager
def muted() -> Iterator[None]:
    """No notifications inside: for seeding history (``seed_demo``'s back-dated cases)."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def _add(drafts: Iterable[Draft], directory: Directory | None = None, tenant_id: int = 0) -> None:
    """Write the drafts, each with the Message-ID domain of the brand its readers see."""
    if _muted.get():
        return
    directory = directory or Directory()
    drafts = list(drafts)
    for draft in drafts:
        draft.domain = draft.domain or directory.domain(draft.audience, tenant_id)
    outbox_add(drafts)


def subject(reference: str, text: str, case_subject: str) -> str:
    return f"[{reference}] {text}: {case_subject}"


# --- who ------------------------------------------------------------------------------------


class Directory:
    """Email addresses of the people to tell, looked up once per notification or per sweep."""

    def __init__(self) -> None:
        self._groups: dict[str, list[str]] = {}
        self._resellers: dict[int, list[str]] = {}
        self._domains: dict[int, str] = {}

    def domain(self, audience: str, tenant_id: int) -> str:
        """The email domain of the brand the readers see: the provider's for staff and on
        call, else that of the case tenant's tier one (a sub-customer's reseller)."""
        key = 0 if audience in (Audience.STAFF, Audience.ONCALL) else tenant_id
        if key not in self._domains:
            if key == 0:
                brand = provider_brand()
            else:
                tenant = Tenant.objects.select_related("parent").filter(pk=key).first()
                brand = brand_for_tenant(tenant) if tenant is not None else provider_brand()
            self._domains[key] = mail_domain(brand.from_email)
        return self._domains[key]

    def group(self, *names: str) -> list[str]:
        key = "|".join(names)
        if key not in self._groups:
            self._groups[key] = list(
                User.objects.filter(is_active=True, is_staff=True, groups__name__in=names)
                .order_by("email")
                .values_list("email", flat=True)
                .distinct()
            )
        return self._groups[key]

    def provider_support(self) -> list[str]:
        return self.group(SUPPORT_AGENT, SUPPORT_MANAGER)

    def managers(self) -> list[str]:
        return self.group(SUPPORT_MANAGER)

    def reseller_team(self, reseller_id: int) -> list[str]:
        if reseller_id not in self._resellers:
            self._resellers[reseller_id] = list(
                User.objects.filter(is_active=True, membership__tenant_id=reseller_id)
                .order_by("email")
                .values_list("email", flat=True)
            )
        return self._resellers[reseller_id]

    def team(self, reseller_id: int | None) -> tuple[str, list[str]]:
        """The team that answers a clock: a reseller's people, else provider support staff
        (also when a reseller has nobody to tell: someone must hear of the case)."""
        if reseller_id is not None:
            people = self.reseller_team(reseller_id)
            if people:
                return Audience.RESELLER, people
        return Audience.STAFF, self.provider_support()


def _reseller_of(tenant: Tenant) -> int | None:
    """The reseller answering ``tenant``'s cases at tier one, if any."""
    return tenant.parent_id if tenant.kind == TenantKind.SUBCUSTOMER else None


def oncall_address(tenant: Tenant) -> str:
    """The tenant's own on-call address, else its parent's (a sub-customer's reseller; for a
    direct customer the provider tenant), else the ONCALL_EMAIL setting."""
    parent = tenant.parent.oncall_email if tenant.parent is not None else ""
    return oncall_first(tenant.oncall_email, parent)


def oncall_first(own: str | None, parent: str | None) -> str:
    """The on-call rule on the two addresses (the sweep reads them as columns of its rows)."""
    return own or parent or settings.ONCALL_EMAIL


def _requesting_side(case: Case) -> list[str]:
    """The requester and the requesting side's people who wrote on the case."""
    writers = CaseUpdate.objects.filter(
        case=case, visibility=Visibility.PUBLIC, by_support=False
    ).values_list("author_email", flat=True)
    return [case.requester_email, *writers]


def _without(addresses: Iterable[str], *actors: User | None) -> list[str]:
    excluded = {actor.email.lower() for actor in actors if actor is not None}
    return [a for a in addresses if a and a.lower() not in excluded]


# --- what the services call -----------------------------------------------------------------


def case_opened(case: Case, opened_by: User | None = None) -> None:
    """One intent row, committed with the case; a worker expands it (``intent_expand``) into
    the emails below. Working out recipients and brands costs queries that the customer
    waiting for the new case's page need not wait for.

    ``opened_by``: staff entering a phone call are not told about the case they entered."""
    intent = case_opened_intent(case, opened_by)
    if intent is not None:
        intent.save()
    case_opened_written(case, intent)


def case_opened_intent(case: Case, opened_by: User | None = None) -> NotificationIntent | None:
    """``case_opened``'s intent row, not saved (None when muted): for ``case_open``, which
    writes it in the same statement as the case; then call ``case_opened_written``."""
    if _muted.get():
        return None
    now = timezone.now()
    return NotificationIntent(
        kind=IntentKind.CASE_OPENED,
        case=case,
        actor=opened_by,
        # As at opening: the subject and the on-call page follow the severity chosen then.
        context={"severity": case.severity},
        created_at=now,
        queued_at=now,
    )


def case_opened_written(
    case: Case, intent: NotificationIntent | None, *, webhooks_listen: bool = True
) -> None:
    """The rest of ``case_opened`` once its intent is written (inside the opening's
    transaction): the intent's publish at commit, and the webhooks (``webhooks_listen=False``:
    the caller found that no subscription hears of the tenant, and opened outside a
    transaction on that basis; a subscription created since hears of the next case)."""
    if intent is None:
        return
    pk = intent.pk
    # robust: a publish that raises must never turn a committed case into an error page; the
    # intent stays and ``intents_drain`` expands it.
    transaction.on_commit(lambda: publish(EXPAND_TASK, pk), robust=True)
    # Webhooks stay here, in the request: their deliveries keep the order of the case's events.
    if webhooks_listen:
        webhooks.case_event(case, WebhookEvent.OPENED)


def _case_opened_drafts(case: Case, opened_by: User | None, severity: int) -> list[Draft]:
    """The emails about a new case: its tier-one team, the requester's acknowledgement and,
    for an Emergency, the on-call page."""
    directory = Directory()
    audience, team = directory.team(_reseller_of(case.tenant))
    team = _without(team, opened_by)
    label = Severity(severity).label
    drafts = [
        Draft(
            NotificationKind.OPENED,
            audience,
            team,
            subject(case.reference, f"New {label} case from {case.tenant}", case.subject),
            case.pk,
        ),
        Draft(
            NotificationKind.ACKNOWLEDGEMENT,
            Audience.CUSTOMER,
            [case.requester_email],
            subject(case.reference, "We received your request", case.subject),
            case.pk,
        ),
    ]
    if severity == Severity.EMERGENCY:
        drafts.append(
            Draft(
                NotificationKind.EMERGENCY_OPENED,
                Audience.ONCALL,
                [oncall_address(case.tenant)],
                subject(case.reference, f"EMERGENCY opened by {case.tenant}", case.subject),
                case.pk,
            )
        )
    for draft in drafts:
        draft.domain = directory.domain(draft.audience, case.tenant_id)
    return drafts


# --- intents: expanded by the worker ----------------------------------------------------------

EXPAND_TASK = "helpdesk.tasks.notification_expand"
# Drains (one a minute, each intent at most every ``OUTBOX_REQUEUE_AFTER``) before an intent
# whose expansion keeps raising is given up and shown to staff.
INTENT_MAX_ATTEMPTS = 5
logger = logging.getLogger(__name__)


def _intents() -> QuerySet[NotificationIntent]:
    # of=self: the actor is on the nullable side of an outer join, which cannot be locked.
    return NotificationIntent.objects.select_for_update(
        skip_locked=True, of=("self",)
    ).select_related("case__tenant__parent", "actor")


def _expand(intent: NotificationIntent) -> None:
    case = intent.case
    severity = intent.context.get("severity", case.severity)
    outbox_add(_case_opened_drafts(case, intent.actor, severity))


def intent_expand(pk: int) -> bool:
    """The worker's half of ``case_opened``: write the emails of intent ``pk`` to the outbox
    and delete the intent, in one transaction, so that a task delivered twice, or racing the
    drain, writes them once. True if this call expanded it."""
    with transaction.atomic():
        intent = _intents().filter(pk=pk).first()
        if intent is None:
            return False  # expanded already, or being expanded right now
        _expand(intent)
        intent.delete()
    return True


def intents_drain(*, now: datetime | None = None, batch: int = 200) -> int:
    """Expand the intents still there a while after their publish (the broker was down, or a
    message was lost), here rather than through the broker: the drain is already a worker.
    Their emails then go the outbox's way. Returns how many were expanded.

    Each intent is expanded in its own savepoint: one whose expansion raises (a bug, data the
    templates do not expect) rolls back its own writes only, is logged as an ERROR with its id,
    and waits ``OUTBOX_REQUEUE_AFTER`` for the next drain; after ``INTENT_MAX_ATTEMPTS`` it is
    given up (``failed_at``), counted on the outbox admin page with its last error, until
    staff try it again there (``intents_retry``). The others in its batch are not held up."""
    now = now or timezone.now()
    stale = _intents().filter(failed_at=None, queued_at__lt=now - settings.OUTBOX_REQUEUE_AFTER)
    total = 0
    while True:
        with transaction.atomic():
            intents = list(stale.order_by("queued_at", "id")[:batch])
            expanded = []
            for intent in intents:
                try:
                    with transaction.atomic():  # a savepoint: a failure undoes this one only
                        _expand(intent)
                except OperationalError:
                    # The database's trouble (a lost connection, a lock timeout), not the
                    # intent's: the drain stops, nothing is counted, the next one goes on.
                    raise
                except Exception as error:
                    _expansion_failed(intent, error, now)
                else:
                    expanded.append(intent.pk)
            NotificationIntent.objects.filter(pk__in=expanded).delete()
        total += len(expanded)
        # A failed intent is queued again at ``now``: this drain does not pick it up again.
        if len(intents) < batch:
            return total


def _expansion_failed(intent: NotificationIntent, error: Exception, now: datetime) -> None:
    attempts = intent.attempts + 1
    give_up = attempts >= INTENT_MAX_ATTEMPTS
    logger.error(
        "Could not expand notification intent %s (%s, case %s), attempt %d of %d%s",
        intent.pk,
        intent.kind,
        intent.case.reference,
        attempts,
        INTENT_MAX_ATTEMPTS,
        ": given up, see the outbox admin page" if give_up else "; the next drain tries again",
        exc_info=error,
    )
    NotificationIntent.objects.filter(pk=intent.pk).update(
        attempts=F("attempts") + 1,
        last_error=f"{type(error).__name__}: {error}"[:1000],
        queued_at=now,
        failed_at=now if give_up else None,
    )


def intents_failed() -> QuerySet[NotificationIntent]:
    """The intents the drain gave up on, newest failure first (for the outbox admin)."""
    return (
        NotificationIntent.objects.exclude(failed_at=None)
        .select_related("case")
        .order_by("-failed_at", "-id")
    )


def intents_retry() -> int:
    """Give the failed intents to the next drain again (after the cause was fixed), with their
    attempts counted from zero. Returns how many."""
    return NotificationIntent.objects.exclude(failed_at=None).update(
        failed_at=None, attempts=0, queued_at=timezone.now() - settings.OUTBOX_REQUEUE_AFTER
    )


def update_added(update: CaseUpdate) -> None:
    if not _muted.get():
        webhooks.case_event(update.case, WebhookEvent.UPDATED, update=update)
    case, author = update.case, update.author
    directory = Directory()
    context = {"update_id": update.pk}
    if update.visibility == Visibility.PUBLIC and update.by_support:
        _add(
            [
                Draft(
                    NotificationKind.REPLY,
                    Audience.CUSTOMER,
                    _without(_requesting_side(case), author),
                    subject(case.reference, "New reply", case.subject),
                    case.pk,
                    context,
                    # A person's words, relayed: the customer is meant to answer this one.
                    auto_submitted=False,
                )
            ],
            directory,
            case.tenant_id,
        )
        return
    audience, people = _support_readers(case, update, directory)
    public = update.visibility == Visibility.PUBLIC
    kind = NotificationKind.REPLY if public else NotificationKind.NOTE
    text: str = {
        Visibility.PUBLIC.value: "New comment from the customer",
        Visibility.ESCALATION.value: "Escalation thread",
    }.get(update.visibility, "Internal note")
    _add(
        [
            Draft(
                kind,
                audience,
                _without(people, author),
                subject(case.reference, text, case.subject),
                case.pk,
                context,
                auto_submitted=kind == NotificationKind.NOTE,
            )
        ],
        directory,
        case.tenant_id,
    )


def _support_readers(case: Case, update: CaseUpdate, directory: Directory) -> tuple[str, list[str]]:
    """Support-side people to tell about a customer comment or a note they may read: the
    assignee if there is one (and may read it), else the team."""
    assignee, visibility = case.assignee, update.visibility
    if visibility == Visibility.ESCALATION and update.author and update.author.is_staff:
        # The provider wrote to the reseller in the escalation thread.
        return directory.team(_reseller_of(case.tenant))
    if visibility in (Visibility.PROVIDER_NOTE, Visibility.ESCALATION):
        # Provider notes are for provider staff only, never the reseller.
        if assignee is not None and assignee.is_staff:
            return Audience.STAFF, [assignee.email]
        return Audience.STAFF, directory.provider_support()
    audience, team = directory.team(_reseller_of(case.tenant))
    if case.tier == Tier.TWO:
        audience, team = Audience.STAFF, directory.provider_support()
    if assignee is not None and assignee.is_active:
        staff_assignee = assignee.is_staff
        return (Audience.STAFF if staff_assignee else Audience.RESELLER), [assignee.email]
    return audience, team


def severity_changed(case: Case, actor: User | None, old: str) -> None:
    new = case.get_severity_display()
    if not _muted.get():
        webhooks.case_event(case, WebhookEvent.SEVERITY_CHANGED, old_severity=old)
    _add(
        [
            Draft(
                NotificationKind.SEVERITY_CHANGED,
                Audience.CUSTOMER,
                _without(_requesting_side(case), actor),
                subject(case.reference, f"Severity changed to {new}", case.subject),
                case.pk,
                {"old": old, "new": new},
            )
        ],
        tenant_id=case.tenant_id,
    )


def status_changed(case: Case, actor: User | None, old: str) -> None:
    new = case.get_status_display()
    if not _muted.get():
        webhooks.case_event(case, WebhookEvent.STATUS_CHANGED, old_status=old)
        if case.status == Status.RESOLVED:
            webhooks.case_event(case, WebhookEvent.RESOLVED)
    _add(
        [
            Draft(
                NotificationKind.STATUS_CHANGED,
                Audience.CUSTOMER,
                _without(_requesting_side(case), actor),
                subject(case.reference, f"Status: {new}", case.subject),
                case.pk,
                {"old": old, "new": new},
            )
        ],
        tenant_id=case.tenant_id,
    )


def case_escalated(case: Case) -> None:
    """The reseller handed the case to the provider (the thread's message tells the people)."""
    if not _muted.get():
        webhooks.case_event(case, WebhookEvent.ESCALATED)


# --- what the sweep calls ---------------------------------------------------------------------


def sla_events_notify(
    kind: str, rows: Iterable[dict[str, Any]], directory: Directory, assignees: dict[int, str]
) -> int:
    """Tell about SLA events the sweep has just recorded, from plain rows (no model objects:
    a sweep may record thousands). Each row has the case's ``case_id``, ``reference``,
    ``subject``, ``severity``, ``tier``, ``tenant_kind``, ``tenant_parent_id``,
    ``assignee_id``, ``oncall``/``parent_oncall`` addresses and the formatted ``due`` and
    ``dispatched``. ``assignees`` maps user ids to addresses. Returns the emails written."""
    rows = list(rows)
    drafts = [draft for draft in _sla_drafts(kind, rows, directory, assignees) if draft.recipients]
    _add(drafts)
    if not _muted.get():
        event = WebhookEvent.AT_RISK if kind == NotificationKind.AT_RISK else WebhookEvent.BREACHED
        webhooks.sla_events(event, [(row["case_id"], row["tier"]) for row in rows])
    return len(drafts)


def _sla_drafts(
    kind: str, rows: Iterable[dict[str, Any]], directory: Directory, assignees: dict[int, str]
) -> list[Draft]:
    drafts: list[Draft] = []
    for row in rows:
        reseller = (
            row["tenant_parent_id"]
            if row["tier"] == Tier.ONE and row["tenant_kind"] == TenantKind.SUBCUSTOMER
            else None
        )
        audience, team = directory.team(reseller)
        assignee = assignees.get(row["assignee_id"]) if row["assignee_id"] else None
        severity = Severity(row["severity"]).label
        context = {"due": row["due"], "tier": row["tier"], "severity": severity}
        if kind == NotificationKind.AT_RISK:
            text = f"Response at risk, due {row['due']}"
            people = [assignee] if assignee else team
            drafts.append(_sla_draft(directory, kind, audience, people, text, row, context))
            continue
        text = f"Response target breached ({severity}, due {row['due']})"
        if audience == Audience.STAFF:
            people = [*team, *directory.managers(), *([assignee] if assignee else [])]
            drafts.append(_sla_draft(directory, kind, Audience.STAFF, people, text, row, context))
        else:
            people = [*team, *([assignee] if assignee else [])]
            drafts.append(_sla_draft(directory, kind, audience, people, text, row, context))
            managers = directory.managers()
            drafts.append(_sla_draft(directory, kind, Audience.STAFF, managers, text, row, context))
        if row["severity"] == Severity.EMERGENCY:
            oncall = oncall_first(row["oncall"], row["parent_oncall"])
            text = f"EMERGENCY breached, no response since {row['dispatched']}"
            page = NotificationKind.EMERGENCY_BREACHED
            drafts.append(
                _sla_draft(directory, page, Audience.ONCALL, [oncall], text, row, context)
            )
    return drafts


def _sla_draft(
    directory: Directory,
    kind: str,
    audience: str,
    people: list[str],
    text: str,
    row: dict[str, Any],
    context: dict,
) -> Draft:
    title = subject(row["reference"], text, row["subject"])
    draft = Draft(kind, audience, people, title, row["case_id"], context)
    draft.domain = directory.domain(audience, row["tenant_id"])
    return draft


# --- people -----------------------------------------------------------------------------------


def invitation(*, user: User, tenant: Tenant, inviter: User, site: str) -> None:
    """A set-password link for a person a tenant admin invited (``tenants.services``)."""
    _add(
        [
            Draft(
                NotificationKind.INVITATION,
                Audience.CUSTOMER,
                [user.email],
                f"You're invited to {tenant.name}'s support desk",
                None,
                {
                    "user_id": user.pk,
                    "tenant_id": tenant.pk,
                    "inviter_id": inviter.pk,
                    "site": site,
                },
            )
        ],
        tenant_id=tenant.pk,
    )
