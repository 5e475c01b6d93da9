"""The only way SLA data changes: response clocks on cases, and the calendar and plan chores of
the admin (ARCHITECTURE "One way in"). ``helpdesk.services`` calls the clock services from inside
its own transactions, with the case row already locked.

Rules decided here (docs/architecture.md, "SLA"):

* **Which plan** (``plan_for``). Tier one's clock: the tenant's own plan; for a sub-customer
  without one, the plan its reseller set for its tier one (``Tenant.tier_one_plan``); else the
  default plan. Phonism's clock on an escalated sub-customer case (tier two): the reseller is
  then Phonism's customer, so the reseller's own ``sla_plan``; else the default plan.
* **Due from dispatch.** A clock's due time is always computed from its dispatch instant, so a
  severity change recomputes from the original dispatch (``clock_recompute``).
* **Stopping.** The response stops a clock for good, with its open-hours minutes
  (``clock_respond``, which also writes tier one's response as the case's first response).
  Resolving or closing a case nobody answered stops it without a response ("resolved without
  response", or missed when already past due: the sweep then records the breach it owes);
  reopening such a case sets it running again against its original due time.
* **Each escalation is a dispatch** (``clock_start``): a re-escalation after a hand-back starts a
  new tier-two clock (the next ``sequence``); earlier clocks stay as history.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from helpdesk.models import Case, Tier
from sla import clock
from sla.models import SLA_TARGETS, Calendar, ClosedDate, Plan, ResponseClock, Target, Unit
from tenants.models import Tenant, TenantKind

logger = logging.getLogger(__name__)


class NoTarget(LookupError):
    """Neither the plan nor the default plan has a target for a severity."""


@dataclass(frozen=True)
class Schedule:
    """A target applied to one dispatch instant."""

    target: Target
    at_risk_share: float
    dispatched_at: datetime
    at_risk_at: datetime
    due_at: datetime


# --- plans and due times ----------------------------------------------------------------------


def default_plan() -> Plan | None:
    return Plan.objects.filter(is_default=True).first()


def _plan_id_for(tenant: Tenant, tier: int) -> int | None:
    plan_id = tenant.sla_plan_id
    if tenant.kind == TenantKind.SUBCUSTOMER and (reseller := tenant.parent) is not None:
        if tier == Tier.TWO:
            plan_id = reseller.sla_plan_id
        elif plan_id is None:
            plan_id = reseller.tier_one_plan_id
    return plan_id


def plan_for(tenant: Tenant, tier: int) -> Plan | None:
    """The plan timing ``tier``'s responses to ``tenant``'s cases (the rule in the docstring)."""
    plan_id = _plan_id_for(tenant, tier)
    if plan_id is not None:
        plan = Plan.objects.filter(pk=plan_id).first()
        if plan is not None:
            return plan
    return default_plan()


def target_for(plan: Plan | None, severity: int) -> Target:
    """The plan's target for ``severity``; a plan missing one falls back to the default plan's
    (the admin requires all five, so this only guards hand-edited data)."""
    targets = Target.objects.select_related("calendar", "plan").filter(severity=severity)
    found = None
    if plan is not None:
        found = targets.filter(plan=plan).first()
    if found is None:
        found = targets.filter(plan__is_default=True).first()
    if found is None:
        raise NoTarget(f"no SLA target for severity {severity} in {plan} or the default plan")
    return found


def budget_due(cal: clock.Calendar, amount: int, unit: str, dispatched: datetime) -> datetime:
    if unit == Unit.DAYS:
        return clock.due_after_days(cal, dispatched, amount)
    return clock.due_after_minutes(cal, dispatched, amount)


def schedule_from_target(target: Target, dispatched: datetime) -> Schedule:
    """A target applied to a dispatch instant (``schedule_for`` once the target is found)."""
    cal = target.calendar.as_clock()
    due = budget_due(cal, target.amount, target.unit, dispatched)
    share = float(target.plan.at_risk_share)
    budget = clock.open_minutes_between(cal, dispatched, due)
    at_risk = min(clock.due_after_minutes(cal, dispatched, budget * share), due)
    return Schedule(target, share, dispatched, max(at_risk, dispatched), due)


def schedule_for(plan: Plan | None, severity: int, dispatched: datetime) -> Schedule:
    """Due and at-risk instants of ``severity`` under ``plan`` for a dispatch instant.

    At risk is when the share of the budget is used, the budget being the open minutes from
    dispatch to due; for a minute target that is the amount itself, for a day target whatever
    open time those days hold.
    """
    return schedule_from_target(target_for(plan, severity), dispatched)


def _all_targets() -> tuple[dict[tuple[int, int], Target], int | None]:
    """Every target with its plan and calendar by (plan id, severity), and the default plan's
    id: one query, remembered per process until a plan, target or calendar is written
    (``sla.models.SLA_TARGETS``). A small table: a handful of plans, five targets each."""

    def load() -> tuple[dict[tuple[int, int], Target], int | None]:
        by_plan: dict[tuple[int, int], Target] = {}
        default_id = None
        for target in Target.objects.select_related("calendar", "plan"):
            by_plan[(target.plan_id, target.severity)] = target
            if target.plan.is_default:
                default_id = target.plan_id
        return by_plan, default_id

    return SLA_TARGETS.get("all", load)


def opening_schedule(tenant: Tenant, severity: int, dispatched: datetime) -> Schedule | None:
    """Tier one's schedule for a case about to be opened (the tenant's plan's target, else the
    default plan's), from the remembered targets: usually no query, so opening a case stays
    cheap. None, logged, when no plan has a usable target: the customer's case opens all the
    same."""
    plan_id = _plan_id_for(tenant, Tier.ONE)
    by_plan, default_id = _all_targets()
    target = by_plan.get((plan_id, severity)) if plan_id is not None else None
    if target is None and default_id is not None:
        target = by_plan.get((default_id, severity))
    if target is None:
        logger.error("No SLA target for severity %s for %s", severity, tenant)
        return None
    try:
        return schedule_from_target(target, dispatched)
    except ValueError:
        logger.exception("No SLA clock for %s: bad calendar", tenant)
        return None


def due_for(plan: Plan | None, severity: int, dispatched: datetime) -> datetime:
    """The response due instant (UTC) for ``severity`` under ``plan`` (None: the default)."""
    return schedule_for(plan, severity, dispatched).due_at


# --- response clocks --------------------------------------------------------------------------


def apply_schedule(clock_row: ResponseClock, schedule: Schedule, severity: int) -> None:
    target = schedule.target
    clock_row.target = target
    clock_row.severity = severity
    clock_row.calendar = target.calendar
    clock_row.amount = target.amount
    clock_row.unit = target.unit
    clock_row.at_risk_share = target.plan.at_risk_share
    clock_row.dispatched_at = schedule.dispatched_at
    clock_row.at_risk_at = schedule.at_risk_at
    clock_row.due_at = schedule.due_at


def current_clocks(case: Case, tier: int):
    """``tier``'s clocks of the case, the current one (highest sequence) first."""
    return ResponseClock.objects.filter(case=case, tier=tier).order_by("-sequence")


def case_sync_due(case: Case) -> None:
    """Copy due times to the case row, the columns lists sort and filter on: the current clock
    of the case's tier to ``Case.response_due_at``, tier one's to ``Case.tier_one_due_at``.
    Call after changing ``case.tier`` or a clock's due time."""
    due = current_clocks(case, case.tier).values_list("due_at", flat=True).first()
    tier_one = current_clocks(case, Tier.ONE).values_list("due_at", flat=True).first()
    if (case.response_due_at, case.tier_one_due_at) != (due, tier_one):
        Case.objects.filter(pk=case.pk).update(response_due_at=due, tier_one_due_at=tier_one)
        case.response_due_at, case.tier_one_due_at = due, tier_one


def clock_row(*, case: Case, tier: int, sequence: int, schedule: Schedule) -> ResponseClock:
    """A clock row, not saved, as ``clock_start`` writes it. For opening a case, whose rows are
    written in one statement (``helpdesk.services.cases.case_open``): its tier one's clock is
    ``clock_row(case=case, tier=Tier.ONE, sequence=1, schedule=opening_schedule(...))``, the
    case row carrying the same due time."""
    now = timezone.now()
    row = ResponseClock(
        case=case,
        tenant_id=case.tenant_id,
        tier=tier,
        sequence=sequence,
        created_at=now,
        updated_at=now,
    )
    apply_schedule(row, schedule, case.severity)
    return row


def clock_start(
    *, case: Case, tier: int, dispatched_at: datetime, schedule: Schedule | None = None
) -> ResponseClock | None:
    """Start ``tier``'s response clock at a dispatch. Tier one is dispatched once, at opening:
    starting it again returns the existing clock. Each escalation is a dispatch to the provider
    (SPEC §4): a tier-two clock starts with the next ``sequence``, unless one is still running
    (then that one is returned). A plan without a usable target starts no clock (logged),
    rather than refusing the customer's case.

    ``schedule`` is for a case being opened: computed by ``opening_schedule`` before the case
    row existed (so the row is inserted with its due time), and no clock can exist yet."""
    sequence = 1
    if schedule is None:
        existing = current_clocks(case, tier).first()
        if existing is not None and (tier == Tier.ONE or existing.is_running):
            return existing
        if existing is not None:
            sequence = existing.sequence + 1
        try:
            schedule = schedule_for(plan_for(case.tenant, tier), case.severity, dispatched_at)
        except (NoTarget, ValueError):
            logger.exception("No SLA clock started for %s (tier %s)", case.reference, tier)
            return None
    row = clock_row(case=case, tier=tier, sequence=sequence, schedule=schedule)
    row.save()
    if tier == Tier.ONE == case.tier:  # opening: the only clock, no query needed to sync
        if (case.response_due_at, case.tier_one_due_at) != (row.due_at, row.due_at):
            Case.objects.filter(pk=case.pk).update(
                response_due_at=row.due_at, tier_one_due_at=row.due_at
            )
            case.response_due_at = case.tier_one_due_at = row.due_at
    else:
        case_sync_due(case)
    return row


@dataclass(frozen=True)
class DueChange:
    """A running clock's due time moved by a severity change, as the calendar's wall times."""

    tier: int
    old_due: str
    new_due: str


def clock_recompute(*, case: Case) -> list[DueChange]:
    """After a severity change: recompute every running clock of the case from its original
    dispatch with the target of the new severity. Returns the due times that moved, for the
    case services to record on the timeline.

    Stopped clocks keep their due time: a response already given is judged by the target that
    applied when it was given.
    """
    changes = []
    now = timezone.now()
    # The caller holds the case's lock; this one guards against writers that do not.
    running = ResponseClock.objects.select_for_update(of=("self",)).filter(
        case=case, stopped_at=None
    )
    for row in running.select_related("calendar"):
        plan = plan_for(case.tenant, row.tier)
        try:
            schedule = schedule_for(plan, case.severity, row.dispatched_at)
        except (NoTarget, ValueError):
            logger.exception("%s: tier %s clock kept its due time", case.reference, row.tier)
            continue
        old_due, old_calendar = row.due_at, row.calendar
        apply_schedule(row, schedule, case.severity)
        row.updated_at = now
        row.save()
        if row.due_at != old_due:
            changes.append(
                DueChange(
                    row.tier,
                    clock.wall_time(old_due, old_calendar.timezone),
                    clock.wall_time(row.due_at, row.calendar.timezone),
                )
            )
    case_sync_due(case)
    return changes


def response_minutes(row: ResponseClock, responded_at: datetime) -> float:
    """Open minutes of the clock's calendar from its dispatch to ``responded_at`` (SPEC §9)."""
    return clock.open_minutes_between(row.calendar.as_clock(), row.dispatched_at, responded_at)


def clock_respond(*, case: Case, tier: int, at: datetime) -> bool:
    """The response to ``tier``'s current dispatch at ``at``: stop its running clock with the
    response and its open-hours minutes. For tier one this is also the case's first response
    (``Case.first_response_at``): the two are one fact, written only here. Returns True when
    this call recorded the response (the caller then records it on the timeline).

    Only the first response counts, and only while the clock runs: a clock stopped by the case's
    resolution keeps "resolved without response" (reopening runs it again). A case that has no
    tier-one clock (no plan applied) still gets its first response. The caller holds the case's
    lock; the conditional UPDATE keeps racing writers that do not from both winning."""
    row = (
        ResponseClock.objects.select_related("calendar")
        .filter(case=case, tier=tier, stopped_at=None)
        .first()
    )
    if row is not None:
        stopped = ResponseClock.objects.filter(pk=row.pk, stopped_at=None).update(
            responded_at=at,
            stopped_at=at,
            response_minutes=response_minutes(row, at),
            updated_at=at,
        )
    else:
        stopped = 0
        if tier == Tier.ONE and ResponseClock.objects.filter(case=case, tier=tier).exists():
            return False  # stopped unanswered by the resolution: not a response to the clock
    if tier != Tier.ONE or case.first_response_at is not None:
        return bool(stopped)
    if row is None or stopped:
        Case.objects.filter(pk=case.pk, first_response_at=None).update(first_response_at=at)
        case.first_response_at = at
        return True
    return False


def clocks_halt(*, case: Case, at: datetime) -> int:
    """The case was resolved or closed: stop its running clocks without a response."""
    return ResponseClock.objects.filter(case=case, stopped_at=None).update(
        stopped_at=at, updated_at=at
    )


def clocks_resume(*, case: Case, at: datetime) -> int:
    """The case was reopened: the current clock of each tier, if it stopped without a response,
    runs again (still against its original due time: reopening does not buy time)."""
    later = ResponseClock.objects.filter(
        case=OuterRef("case"), tier=OuterRef("tier"), sequence__gt=OuterRef("sequence")
    )
    return (
        ResponseClock.objects.filter(case=case, stopped_at__isnull=False, responded_at=None)
        .filter(~Exists(later))
        .update(stopped_at=None, updated_at=at)
    )


# --- plans and calendars (admin chores) -------------------------------------------------------


def plan_make_default(*, plan: Plan) -> None:
    """Make ``plan`` the default, in one transaction with un-defaulting the old one (the
    one-default constraint would refuse two at once)."""
    with transaction.atomic():
        Plan.objects.filter(is_default=True).exclude(pk=plan.pk).update(is_default=False)
        Plan.objects.filter(pk=plan.pk).update(is_default=True)
    plan.is_default = True


def calendar_add_closed_dates(*, calendar: Calendar, dates: dict[date, str]) -> int:
    """Close ``dates`` (date → name) on ``calendar``, keeping dates already closed. Returns how
    many were added. The calendar is touched, so every process rebuilds it."""
    with transaction.atomic():
        known = set(
            ClosedDate.objects.filter(calendar=calendar, date__in=dates).values_list(
                "date", flat=True
            )
        )
        added = [
            ClosedDate(calendar=calendar, date=day, name=name[:100])
            for day, name in sorted(dates.items())
            if day not in known
        ]
        ClosedDate.objects.bulk_create(added)  # touches the calendar
        calendar.refresh_from_db(fields=["updated_at"])
    return len(added)


def us_federal_holidays(years: Sequence[int]) -> dict[date, str]:
    """US federal holidays of ``years`` from the ``holidays`` package, with the weekday on which
    each is observed when it falls on a weekend."""
    # Here, not at the top: only this admin chore needs the package (and its load time).
    import holidays  # noqa: PLC0415

    return dict(holidays.country_holidays("US", years=list(years), observed=True))
