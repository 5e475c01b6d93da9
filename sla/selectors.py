"""Reads of SLA state for lists and pages: the same rule as ``ResponseClock.state_at``, as a query
filter (for list filters) and as a value with the time left (for badges and panels).

A case's SLA is its *current* clock's, the clock of ``Case.tier``: tier one's until the case is
escalated, Phonism's after. Pass ``tier`` to ask about one clock whatever the case's tier (a
sub-customer, say, who only ever sees tier one's clock). Of a tier's clocks (one per dispatch,
``ResponseClock.sequence``) the current one is the latest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet, prefetch_related_objects

from helpdesk.models import Case, Severity, Tier
from sla import clock as arithmetic
from sla.models import ResponseClock, SlaState
from tenants.access import is_provider_staff, membership_of
from tenants.models import TenantKind

# --- the clock this viewer sees (SPEC §5 "Each side sees its own clock") ----------------------


class Side(StrEnum):
    """Which side of its cases a person is on, for the clocks it sees."""

    REQUESTING = "requesting"  # a direct customer's or a sub-customer's people: tier one's
    RESELLER = "reseller"  # a reseller's people: tier one's first, then the provider's
    PROVIDER = "provider"  # provider staff: the case's current clock, filter on either


CURRENT = None  # "the case's current clock" (the clock of ``Case.tier``) where a tier is asked


def side_of(user) -> Side:
    if is_provider_staff(user):
        return Side.PROVIDER
    # Which side, not whether the tenant is usable (sign-in and the access policy decide that):
    # no query beyond the membership and tenant the request has already loaded.
    membership = membership_of(user)
    if membership is not None and membership.tenant.kind == TenantKind.RESELLER:
        return Side.RESELLER
    return Side.REQUESTING


def clock_tiers(user) -> tuple[int | None, ...]:
    """The clocks ``user`` sees on a case, in order: the one rule every list, badge, filter, sort,
    queue, admin list and email follows. ``CURRENT`` means the case's current clock.

    A reseller's own cases (it is then the requesting side, Phonism its tier one) have only a
    tier-one clock, so "tier one first, then the provider's" holds for them too."""
    return {
        Side.REQUESTING: (Tier.ONE,),
        Side.RESELLER: (Tier.ONE, Tier.TWO),
        Side.PROVIDER: (CURRENT,),
    }[side_of(user)]


def clock_choices(user) -> list[tuple[str, str]]:
    """Which clock ``user`` may filter and sort on (value, label); the first is the default.
    Empty for the requesting side: it only ever has its own."""
    side = side_of(user)
    if side == Side.RESELLER:
        return [("1", "Ours (tier one)"), ("2", "Provider's (escalation)")]
    if side == Side.PROVIDER:
        return [("", "Current"), ("1", "Tier one"), ("2", "Tier two (provider)")]
    return []


def chosen_tier(user, value: str | None) -> int | None:
    """The tier a list filters and sorts on: the viewer's choice among ``clock_choices``, else
    its first clock."""
    allowed = {choice for choice, _ in clock_choices(user)}
    if value in allowed and value:
        return int(value)
    return clock_tiers(user)[0]


def due_column(tier: int | None) -> str:
    """The indexed ``Case`` column holding the due time of ``tier``'s current clock. Tier two's
    due time is the case's current one whenever the case is escalated (the only time it runs)."""
    return "tier_one_due_at" if tier == Tier.ONE else "response_due_at"


def sla_statuses(case: Case, user, now: datetime) -> list[SlaStatus]:
    """The clocks ``user`` sees on ``case`` at ``now``, each ready to show (badges, panels)."""
    tiers = clock_tiers(user)
    found = []
    for tier in tiers:
        status = sla_status(case, now, tier)
        if status is None:
            continue
        if len(tiers) > 1 and tier == Tier.TWO:
            status = SlaStatus(status.clock, status.state, now, heading="Provider")
        found.append(status)
    return found


def _state_condition(state: str, now: datetime) -> Q:
    running = Q(stopped_at=None)
    conditions = {
        SlaState.ON_TRACK: running & Q(at_risk_at__gt=now),
        SlaState.AT_RISK: running & Q(at_risk_at__lte=now, due_at__gte=now),
        SlaState.BREACHED: running & Q(due_at__lt=now),
        SlaState.MET: Q(responded_at__isnull=False, responded_at__lte=F("due_at")),
        SlaState.MISSED: Q(stopped_at__isnull=False, stopped_at__gt=F("due_at")),
        SlaState.RESOLVED_WITHOUT_RESPONSE: Q(
            stopped_at__isnull=False, responded_at=None, stopped_at__lte=F("due_at")
        ),
    }
    try:
        return conditions[SlaState(state)]
    except ValueError:
        raise ValueError(f"unknown SLA state {state!r}") from None


def filter_by_sla_state(
    queryset: QuerySet[Case], state: str, now: datetime, tier: int | None = None
) -> QuerySet[Case]:
    """Cases whose current clock (or ``tier``'s clock) is in ``state`` at ``now``.

    ``state`` is a ``SlaState`` value. One EXISTS subquery on the (case, tier, sequence) unique
    index, asking about the tier's current (latest) clock: it composes with any other filter
    and never duplicates rows. Cases without a clock match no state.
    """
    clocks = ResponseClock.objects.filter(_state_condition(state, now), case=OuterRef("pk"))
    clocks = clocks.filter(tier=tier) if tier is not None else clocks.filter(tier=OuterRef("tier"))
    later = ResponseClock.objects.filter(
        case=OuterRef("case"), tier=OuterRef("tier"), sequence__gt=OuterRef("sequence")
    )
    return queryset.filter(Exists(clocks.filter(~Exists(later))))


def _clocks() -> Prefetch:
    # In each case's own order (the model's ordering starts with its case's creation time,
    # which would join the cases again only to sort the clocks of each).
    clocks = ResponseClock.objects.select_related("calendar").order_by(
        "case_id", "tier", "sequence"
    )
    return Prefetch("response_clocks", queryset=clocks)


def with_sla(queryset: QuerySet[Case]) -> QuerySet[Case]:
    """Prefetch the clocks (and their calendars) that ``sla_status``/``{% sla_badge %}`` read, so
    a list page costs two extra queries instead of one per row."""
    return queryset.prefetch_related(_clocks())


def prefetch_sla(cases: Sequence[Case]) -> None:
    """``with_sla`` for cases already fetched: their clocks in one query, which ``clock_of``,
    ``sla_status`` and ``clocks_history`` then read instead of asking again."""
    prefetch_related_objects(cases, _clocks())


@dataclass(frozen=True)
class SlaStatus:
    """One clock's SLA state at an instant, ready to show."""

    clock: ResponseClock
    state: SlaState
    now: datetime
    heading: str = ""  # which side's clock, where a viewer sees two ("Provider")

    @property
    def label(self) -> str:
        return self.state.label

    @property
    def calendar(self) -> arithmetic.Calendar:
        return self.clock.calendar.as_clock()

    @property
    def round_the_clock(self) -> bool:
        return self.calendar.always_open

    @property
    def paused_until(self) -> datetime | None:
        """When a running, not yet overdue clock is outside its target's support hours: the
        instant it runs again. None while it runs (or once it has stopped)."""
        if not self.clock.is_running or self.state == SlaState.BREACHED:
            return None
        if arithmetic.is_open(self.calendar, self.now):
            return None
        return arithmetic.next_opening(self.calendar, self.now)

    def local(self, instant: datetime) -> str:
        """``instant`` in the clock calendar's zone, with the zone: “Mon 09:20 EST” within the
        coming week, else “Mar 9, 2026 09:20 EDT”."""
        when = instant.astimezone(ZoneInfo(self.clock.calendar.timezone))
        if timedelta(0) <= instant - self.now < timedelta(days=6):
            return f"{when:%a %H:%M %Z}"
        return self.full(instant)

    def full(self, instant: datetime | None) -> str:
        """``instant`` with its date, in the clock calendar's zone: “Mar 9, 2026 09:20 EDT”."""
        if instant is None:
            return ""
        when = instant.astimezone(ZoneInfo(self.clock.calendar.timezone))
        return f"{when:%b} {when.day}, {when:%Y %H:%M %Z}"

    @property
    def due_label(self) -> str:
        return self.local(self.clock.due_at)

    # The panel's facts, each in the calendar's zone.
    local_dispatched = property(lambda self: self.full(self.clock.dispatched_at))
    local_due = property(lambda self: self.full(self.clock.due_at))
    local_responded = property(lambda self: self.full(self.clock.responded_at))
    local_stopped = property(lambda self: self.full(self.clock.stopped_at))
    local_resumes = property(lambda self: self.full(self.paused_until))

    @property
    def hours_note(self) -> str:
        """What counts towards the target, said plainly."""
        if self.round_the_clock:
            return "Round the clock: every minute counts, nights and weekends included."
        return f"Only support hours count towards the target ({self.clock.calendar.name})."

    @property
    def oncall_note(self) -> str:
        """An Emergency pages on-call when it opens (SPEC §6): say so."""
        if self.clock.severity == Severity.EMERGENCY:
            return "Emergency: the on-call engineer was paged when this case opened."
        return ""

    @property
    def due_at(self) -> datetime:
        return self.clock.due_at

    @property
    def is_running(self) -> bool:
        return self.clock.is_running

    @property
    def minutes_left(self) -> float | None:
        """Open minutes until due, negative when overdue; None once the clock has stopped."""
        return self.clock.minutes_left(self.now) if self.clock.is_running else None

    @property
    def time_left(self) -> str:
        """“1 h 05 min left”, “20 min overdue”; outside the target's support hours “Paused until
        Mon 09:00 EST · due Mon 09:20 EST”; for a stopped clock, how long the response took
        (in open time), or “” when it stopped without a response."""
        resumes = self.paused_until
        if resumes is not None:
            return f"Paused until {self.local(resumes)} · due {self.due_label}"
        if self.clock.is_running:
            left = self.minutes_left or 0.0
            if left < 0:
                return f"{format_minutes(-left)} overdue"
            return f"{format_minutes(left)} left"
        taken = self.clock.response_minutes
        return "" if taken is None else f"answered in {format_minutes(taken)}"


def format_minutes(minutes: float) -> str:
    """Open minutes for people: “45 min”, “2 h 05 min”, “3 d 4 h” (days of 24 open hours are rare
    outside round-the-clock calendars, so hours go up to a day before days appear)."""
    whole = int(minutes)  # round down: “1 min left” must not show while 30 seconds remain
    if whole < 60:
        return f"{whole} min"
    hours, mins = divmod(whole, 60)
    if hours < 24:
        return f"{hours} h {mins:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def clock_of(case: Case, tier: int | None = None) -> ResponseClock | None:
    """The case's current clock (or ``tier``'s current one: its latest dispatch), from the
    prefetch of ``with_sla`` if present."""
    wanted = case.tier if tier is None else tier
    cache = getattr(case, "_prefetched_objects_cache", {})
    if "response_clocks" in cache:
        mine = [c for c in cache["response_clocks"] if c.tier == wanted]
        return max(mine, key=lambda c: c.sequence, default=None)
    return (
        ResponseClock.objects.select_related("calendar")
        .filter(case=case, tier=wanted)
        .order_by("-sequence")
        .first()
    )


def clocks_history(case: Case) -> list[ResponseClock]:
    """All the case's clocks, one per dispatch, in order (tier one's, then Phonism's), from the
    prefetch of ``with_sla``/``prefetch_sla`` if present."""
    cache = getattr(case, "_prefetched_objects_cache", {})
    if "response_clocks" in cache:
        return sorted(cache["response_clocks"], key=lambda c: (c.tier, c.sequence))
    return list(
        ResponseClock.objects.select_related("calendar")
        .filter(case=case)
        .order_by("tier", "sequence")
    )


def sla_status(case: Case, now: datetime, tier: int | None = None) -> SlaStatus | None:
    """The case's SLA state and time left at ``now``; None when it has no clock."""
    found = clock_of(case, tier)
    if found is None:
        return None
    return SlaStatus(clock=found, state=found.state_at(now), now=now)
