"""Small shared builders for the SLA tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sla.models import Calendar as CalendarRow
from sla.models import Plan, Target, Unit

NY = ZoneInfo("America/New_York")


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def calendar(name: str) -> CalendarRow:
    return CalendarRow.objects.get(name=name)


def plan_with(name: str, minutes: dict[int, int], calendar_name: str = "Standard hours") -> Plan:
    """A plan with minute targets on one calendar, e.g. {2: 15} for Critical in 15 minutes;
    severities not given get 8 hours."""
    plan = Plan.objects.create(name=name)
    for severity in range(1, 6):
        Target.objects.create(
            plan=plan,
            severity=severity,
            calendar=calendar(calendar_name),
            amount=minutes.get(severity, 480),
            unit=Unit.MINUTES,
        )
    return plan
