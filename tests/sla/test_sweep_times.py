"""Time travel through at risk and breach for each severity of the contract's default plan,
with the sweep run every minute as beat does: the events appear at the first sweep at or
after the instant, never before; weekends and nights count only where the target says so."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine

from helpdesk.models import NotificationKind, OutboundEmail, Severity
from sla import sweep as sweeping
from sla.models import ResponseClock, SlaEvent, SlaEventKind
from tests.factories import case_by
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def agent(demo):
    return demo["gina"]  # Globex has the emergency entitlement; Phonism's staff are tier one


def sweep_every_minute(case, start: datetime, end: datetime) -> dict[str, datetime]:
    """Beat's minute-by-minute sweeps from ``start`` to ``end``: when each kind first appeared."""
    seen: dict[str, datetime] = {}
    now = start
    while now <= end:
        with time_machine.travel(now, tick=False):
            sweeping.sweep()
        for kind in SlaEvent.objects.filter(case=case).values_list("kind", flat=True):
            seen.setdefault(kind, now)
        now += MINUTE
    return seen


def sweep_at(case, now: datetime) -> set[str]:
    with time_machine.travel(now, tick=False):
        sweeping.sweep()
    return set(SlaEvent.objects.filter(case=case).values_list("kind", flat=True))


# severity, opened (New York), at risk, due (New York). Tue 2026-03-10 is an ordinary weekday.
CASES = [
    (
        Severity.EMERGENCY,
        ny(2026, 3, 10, 10, 0),
        ny(2026, 3, 10, 10, 7, 30),
        ny(2026, 3, 10, 10, 10),
    ),
    (
        Severity.CRITICAL,
        ny(2026, 3, 10, 10, 0),
        ny(2026, 3, 10, 10, 22, 30),
        ny(2026, 3, 10, 10, 30),
    ),
    (Severity.MAJOR, ny(2026, 3, 10, 10, 0), ny(2026, 3, 10, 10, 45), ny(2026, 3, 10, 11, 0)),
    (Severity.MODERATE, ny(2026, 3, 10, 10, 0), ny(2026, 3, 10, 13, 0), ny(2026, 3, 10, 14, 0)),
    # 1 calendar day: due Wed 10:00; its budget is the 480 open minutes between, 75% = 360.
    (Severity.MINOR, ny(2026, 3, 10, 10, 0), ny(2026, 3, 10, 16, 0), ny(2026, 3, 11, 10, 0)),
]


@pytest.mark.parametrize(("severity", "start", "at_risk", "due"), CASES)
def test_each_severity_turns_at_risk_then_breached_on_time(agent, severity, start, at_risk, due):
    case = case_by(agent, severity, at=start)
    clock = ResponseClock.objects.get(case=case)
    assert (clock.at_risk_at, clock.due_at) == (at_risk, due)
    assert sweep_at(case, at_risk - timedelta(seconds=1)) == set()
    assert sweep_at(case, at_risk) == {SlaEventKind.AT_RISK}
    assert sweep_at(case, due) == {SlaEventKind.AT_RISK}  # at the due instant: in time still
    assert sweep_at(case, due + timedelta(seconds=1)) == {
        SlaEventKind.AT_RISK,
        SlaEventKind.BREACHED,
    }
    kinds = sorted(OutboundEmail.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds.count(NotificationKind.AT_RISK) == 1
    assert kinds.count(NotificationKind.BREACHED) == 1


def test_an_emergency_on_a_saturday_night_breaches_ten_minutes_later(agent):
    start = ny(2026, 3, 7, 23, 30)  # Saturday night: round the clock counts every minute
    case = case_by(agent, Severity.EMERGENCY, at=start)
    seen = sweep_every_minute(case, start, start + timedelta(minutes=15))
    assert seen[SlaEventKind.AT_RISK] == ny(2026, 3, 7, 23, 38)  # first sweep after 23:37:30
    assert seen[SlaEventKind.BREACHED] == ny(2026, 3, 7, 23, 41)  # first sweep after 23:40
    pages = OutboundEmail.objects.filter(case=case, kind=NotificationKind.EMERGENCY_BREACHED)
    assert [row.recipients for row in pages] == [["oncall@phonism.test"]]


def test_a_critical_opened_friday_1650_breaches_monday_0920_not_before(agent):
    start = ny(2026, 3, 6, 16, 50)  # Friday; daylight saving starts on the Sunday between
    case = case_by(agent, Severity.CRITICAL, at=start)
    clock = ResponseClock.objects.get(case=case)
    assert clock.due_at == ny(2026, 3, 9, 9, 20)
    assert clock.at_risk_at == ny(2026, 3, 9, 9, 12, 30)
    # All weekend, and Monday morning before the at-risk instant: nothing.
    for moment in (
        ny(2026, 3, 6, 17, 5),
        ny(2026, 3, 7, 12, 0),
        ny(2026, 3, 8, 23, 59),
        ny(2026, 3, 9, 9, 0),
        ny(2026, 3, 9, 9, 12),
    ):
        assert sweep_at(case, moment) == set(), moment
    seen = sweep_every_minute(case, ny(2026, 3, 9, 9, 12), ny(2026, 3, 9, 9, 25))
    assert seen[SlaEventKind.AT_RISK] == ny(2026, 3, 9, 9, 13)
    assert seen[SlaEventKind.BREACHED] == ny(2026, 3, 9, 9, 21)
    breach = OutboundEmail.objects.get(case=case, kind=NotificationKind.BREACHED)
    assert "due 2026-03-09 09:20 EDT" in breach.subject
