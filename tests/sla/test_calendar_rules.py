"""The SLA data's rules live in the models, not the admin: overlapping opening hours and a plan
without exactly one target per severity are refused wherever calendars and plans are written
(the admin, the seeds), and every way of writing a calendar's rows refreshes the calendar that
``Calendar.as_clock`` caches per process."""

from __future__ import annotations

from datetime import date, time

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ValidationError

from helpdesk.models import Severity
from sla import defaults
from sla.models import (
    Calendar,
    ClosedDate,
    OpeningHours,
    Plan,
    check_opening_hours,
    check_plan_targets,
)
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db


# --- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hours",
    [
        [(0, time(9), time(13)), (0, time(12), time(17))],
        [(2, time(9), time(0)), (2, time(12), time(13))],  # 00:00 as an end is midnight
        [(4, time(9), time(12)), (4, time(9), time(12))],
    ],
)
def test_overlapping_opening_hours_are_refused(hours) -> None:
    with pytest.raises(ValidationError, match="overlap; merge them into one"):
        check_opening_hours(hours)


def test_touching_and_separate_hours_are_fine() -> None:
    check_opening_hours(
        [
            (0, time(9), time(12)),
            (0, time(12), time(17)),
            (1, time(0), time(0)),
            (2, time(9), time(17)),
        ]
    )


def test_a_plan_needs_one_target_per_severity() -> None:
    check_plan_targets(Severity.values)
    with pytest.raises(ValidationError, match="missing: Critical"):
        check_plan_targets([s for s in Severity.values if s != Severity.CRITICAL])
    with pytest.raises(ValidationError, match="one target only"):
        check_plan_targets([*Severity.values, Severity.MINOR])


def test_the_seeds_go_through_the_same_rules(monkeypatch) -> None:
    overlapping = {"Split shift": [(0, time(9), time(13)), (0, time(12), time(17))]}
    monkeypatch.setattr(defaults, "CALENDARS", {**defaults.CALENDARS, **overlapping})
    with pytest.raises(ValidationError, match="Monday overlap"):
        defaults.ensure_defaults(apps)
    assert not Calendar.objects.filter(name="Split shift").exists()

    monkeypatch.undo()
    holey = {s: target for s, target in defaults.DEFAULT_TARGETS.items() if s != 5}
    monkeypatch.setattr(defaults, "DEFAULT_TARGETS", holey)
    with pytest.raises(ValidationError, match="missing: Minor"):
        defaults.ensure_defaults(apps)


# --- the cached calendar follows every write ------------------------------------------------------


@pytest.fixture
def desk():
    """A calendar built (and cached) once, on a clock that stands still: ``updated_at`` alone
    would not move, so only a real refresh can show the edits."""
    with time_machine.travel(ny(2026, 3, 2, 8), tick=False):
        calendar = Calendar.objects.create(name="Desk", timezone="America/New_York")
        OpeningHours.objects.create(calendar=calendar, weekday=0, start=time(9), end=time(17))
        calendar.refresh_from_db()
        calendar.as_clock()
        yield calendar


def fresh(calendar: Calendar):
    """What another process builds: the calendar as stored now."""
    return Calendar.objects.get(pk=calendar.pk).as_clock()


def test_saving_an_opening_hours_row_refreshes_the_calendar(desk) -> None:
    row = desk.opening_hours.get()
    row.end = time(18)
    row.save()
    assert fresh(desk).weekly[0] == ((time(9), time(18)),)


def test_adding_and_deleting_rows_refreshes_the_calendar(desk) -> None:
    closed = ClosedDate.objects.create(calendar=desk, date=date(2026, 3, 9))
    assert fresh(desk).closed_dates == {date(2026, 3, 9)}
    closed.delete()
    assert fresh(desk).closed_dates == frozenset()
    desk.opening_hours.get().delete()
    assert fresh(desk).weekly[0] == ()


def test_bulk_writes_refresh_the_calendar(desk) -> None:
    ClosedDate.objects.bulk_create(
        [ClosedDate(calendar=desk, date=date(2026, 3, d)) for d in (9, 10)]
    )
    assert fresh(desk).closed_dates == {date(2026, 3, 9), date(2026, 3, 10)}
    OpeningHours.objects.filter(calendar=desk).update(start=time(8))
    assert fresh(desk).weekly[0] == ((time(8), time(17)),)
    rows = list(desk.opening_hours.all())
    rows[0].end = time(12)
    OpeningHours.objects.bulk_update(rows, ["end"])
    assert fresh(desk).weekly[0] == ((time(8), time(12)),)
    ClosedDate.objects.filter(calendar=desk).delete()
    assert fresh(desk).closed_dates == frozenset()


def test_saving_the_calendar_itself_refreshes_it(desk) -> None:
    desk.timezone = "Europe/London"
    desk.save()
    assert fresh(desk).tz == "Europe/London"


def test_other_calendars_are_left_alone(desk) -> None:
    standard = Calendar.objects.get(name="Standard hours")
    before = standard.updated_at
    ClosedDate.objects.create(calendar=desk, date=date(2026, 3, 9))
    standard.refresh_from_db()
    assert standard.updated_at == before and Plan.objects.filter(is_default=True).exists()
