"""Reads of SLA state for lists and pages: the same rule as ``ResponseClock.state_at``, as a query
filter (for list filters) and as a value with the time left (for badges and panels).

A case's SLA is its *current* clock's, the clock of ``Case.tier``: tier one's until the case is
escalated, Phonism's after. Pass ``tier`` to ask about one clock whatever the case's tier (a
sub-customer, say, who only ever sees tier one's clock). Of a tier's clocks (one per dispatch,
``ResponseClock.sequence``) the current one is the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from helpdesk.models import Case
from sla.models import ResponseClock, SlaState


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


def with_sla(queryset: QuerySet[Case]) -> QuerySet[Case]:
    """Prefetch the clocks (and their calendars) that ``sla_status``/``{% sla_badge %}`` read, so
    a list page costs two extra queries instead of one per row."""
    return queryset.prefetch_related(
        Prefetch("response_clocks", queryset=ResponseClock.objects.select_related("calendar"))
    )


@dataclass(frozen=True)
class SlaStatus:
    """One clock's SLA state at an instant, ready to show."""

    clock: ResponseClock
    state: SlaState
    now: datetime

    @property
    def label(self) -> str:
        return self.state.label

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
        """“1 h 05 min left”, “20 min overdue”; for a stopped clock, how long the response took
        (in open time), or “” when it stopped without a response."""
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
    """All the case's clocks, one per dispatch, in order (tier one's, then Phonism's)."""
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
