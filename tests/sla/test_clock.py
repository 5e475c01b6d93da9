"""The SLA clock (SPEC section 5): worked examples, daylight saving, and properties checked against
a naive reference that steps minute by minute and reads the local wall clock. No Django needed."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sla.clock import (
    Calendar,
    due_after_days,
    due_after_minutes,
    is_open,
    next_opening,
    open_minutes_between,
    wall_time,
)

NY = ZoneInfo("America/New_York")
STANDARD = Calendar.standard()
EXTENDED = Calendar.extended()
ROUND_THE_CLOCK = Calendar.round_the_clock()
LUNCH = Calendar(
    "Europe/London", {wd: ((time(8), time(12)), (time(13), time(17))) for wd in range(6)}
)
KATHMANDU = Calendar("Asia/Kathmandu", {wd: ((time(10), time(18)),) for wd in (6, 0, 1, 2, 3)})
HOLIDAYS_2026_2027 = frozenset(
    [
        *(date(2026, m, d) for m, d in [(1, 1), (1, 19), (5, 25), (7, 3), (9, 7), (11, 26)]),
        *(date(2026, m, d) for m, d in [(11, 27), (12, 24), (12, 25)]),
        *(date(2027, m, d) for m, d in [(1, 1), (5, 31), (7, 5), (11, 25), (12, 24)]),
    ]
)
WITH_HOLIDAYS = Calendar.standard(closed_dates=HOLIDAYS_2026_2027)
ALL_CALENDARS = [STANDARD, EXTENDED, ROUND_THE_CLOCK, LUNCH, KATHMANDU, WITH_HOLIDAYS]

ONE_US = timedelta(microseconds=1)
ONE_MINUTE = timedelta(minutes=1)


def ny(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=NY, fold=fold)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- naive reference: minute by minute, reading the local wall clock --------------------------


def ref_is_open(cal: Calendar, instant: datetime) -> bool:
    local = instant.astimezone(ZoneInfo(cal.tz))
    if local.date() in cal.closed_dates:
        return False
    wall = local.time()
    return any(
        start <= wall and (end is None or wall < end) for start, end in cal.weekly[local.weekday()]
    )


def ref_due_after_minutes(cal: Calendar, start: datetime, minutes: int) -> datetime:
    at = start
    while minutes > 0:
        if ref_is_open(cal, at):
            minutes -= 1
        at += ONE_MINUTE
    return at


def ref_open_minutes(cal: Calendar, a: datetime, b: datetime) -> int:
    count, at = 0, a
    while at < b:
        count += ref_is_open(cal, at)
        at += ONE_MINUTE
    return count


def ref_next_opening(cal: Calendar, start: datetime) -> datetime:
    at = start
    while not ref_is_open(cal, at):
        at += ONE_MINUTE
    return at


def ref_due_after_days(cal: Calendar, start: datetime, days: int) -> datetime:
    zone = ZoneInfo(cal.tz)
    begin = ref_next_opening(cal, start)
    if days == 0:
        return begin
    target = begin.astimezone(zone).replace(tzinfo=None) + timedelta(days)
    # The documented rule: the first instant whose local clock reads at least the target time.
    at = begin + timedelta(days) - timedelta(hours=3)
    while at.astimezone(zone).replace(tzinfo=None) < target:
        at += ONE_MINUTE
    return ref_next_opening(cal, at)


# --- strategies -------------------------------------------------------------------------------

YEARS_START = utc(2026, 1, 1)
DST_CHANGES = [
    utc(2026, 3, 8, 7),  # New York spring forward
    utc(2026, 11, 1, 6),  # New York fall back
    utc(2027, 3, 14, 7),
    utc(2027, 11, 7, 6),
    utc(2026, 3, 29, 1),  # London
    utc(2026, 10, 25, 1),
]
whole_minutes = st.one_of(
    st.integers(0, 2 * 365 * 1440).map(lambda m: YEARS_START + timedelta(minutes=m)),
    st.tuples(st.sampled_from(DST_CHANGES), st.integers(-4 * 1440, 4 * 1440)).map(
        lambda p: p[0] + timedelta(minutes=p[1])
    ),
)
any_instants = st.tuples(whole_minutes, st.integers(0, 59_999_999)).map(
    lambda p: p[0] + timedelta(microseconds=p[1])
)
calendars = st.sampled_from(ALL_CALENDARS)
PROPERTY = settings(max_examples=200, deadline=None)


# --- SPEC section 5 worked examples -----------------------------------------------------------
# 2026-06-01 is a Monday; 2026-06-05 a Friday.


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (ny(2026, 6, 1, 16, 30), 30, ny(2026, 6, 1, 17, 0)),
        (ny(2026, 6, 1, 16, 45), 30, ny(2026, 6, 2, 9, 15)),
        (ny(2026, 6, 5, 16, 50), 30, ny(2026, 6, 8, 9, 20)),
        (ny(2026, 6, 1, 10, 0), 60, ny(2026, 6, 1, 11, 0)),  # Major
        (ny(2026, 6, 1, 15, 0), 240, ny(2026, 6, 2, 11, 0)),  # Moderate
    ],
)
def test_it_counts_only_standard_hours_for_minute_targets(start, minutes, due):
    assert due_after_minutes(STANDARD, start, minutes) == due


def test_it_adds_no_minutes_on_round_the_clock_across_spring_forward():
    due = due_after_minutes(ROUND_THE_CLOCK, ny(2026, 3, 8, 1, 55), 10)
    assert due == utc(2026, 3, 8, 7, 5)
    assert due.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 3, 5)


def test_it_adds_no_minutes_on_round_the_clock_across_fall_back():
    assert due_after_minutes(ROUND_THE_CLOCK, ny(2026, 11, 1, 1, 55), 10) == utc(2026, 11, 1, 6, 5)
    second_pass = ny(2026, 11, 1, 1, 55, fold=1)  # 01:55 EST, after the clocks went back
    assert due_after_minutes(ROUND_THE_CLOCK, second_pass, 10) == utc(2026, 11, 1, 7, 5)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (ny(2026, 6, 1, 10), ny(2026, 6, 2, 10)),  # Mon 10:00 -> Tue 10:00
        (ny(2026, 6, 5, 10), ny(2026, 6, 8, 9)),  # Fri 10:00 -> Sat 10:00 closed -> Mon 09:00
        (ny(2026, 6, 6, 12), ny(2026, 6, 9, 9)),  # Sat 12:00 -> starts Mon 09:00 -> Tue 09:00
    ],
)
def test_it_moves_a_calendar_day_target_to_the_next_opening(start, due):
    assert due_after_days(STANDARD, start, 1) == due


def test_it_returns_aware_utc_datetimes():
    due = due_after_minutes(STANDARD, ny(2026, 6, 1, 10), 30)
    assert due.tzinfo is UTC
    assert due_after_days(STANDARD, ny(2026, 6, 1, 10), 1).tzinfo is UTC
    assert next_opening(STANDARD, ny(2026, 6, 1, 10)).tzinfo is UTC


# --- daylight saving weeks of 2026 in New York ------------------------------------------------


def test_it_keeps_standard_hours_in_local_time_across_spring_forward():
    due = due_after_minutes(STANDARD, ny(2026, 3, 6, 16, 50), 30)  # Fri 16:50 EST
    assert due == utc(2026, 3, 9, 13, 20)  # Mon 09:20 EDT
    assert open_minutes_between(STANDARD, ny(2026, 3, 6, 17), ny(2026, 3, 9, 9)) == 0


def test_it_keeps_standard_hours_in_local_time_across_fall_back():
    due = due_after_minutes(STANDARD, ny(2026, 10, 30, 16, 50), 30)  # Fri 16:50 EDT
    assert due == utc(2026, 11, 2, 14, 20)  # Mon 09:20 EST


def test_it_counts_real_minutes_of_short_and_long_days_on_extended_hours():
    spring = open_minutes_between(EXTENDED, ny(2026, 3, 7), ny(2026, 3, 9))
    autumn = open_minutes_between(EXTENDED, ny(2026, 10, 31), ny(2026, 11, 2))
    assert (spring, autumn) == (47 * 60, 49 * 60)
    assert open_minutes_between(ROUND_THE_CLOCK, ny(2026, 3, 8), ny(2026, 3, 9)) == 23 * 60


def test_it_keeps_the_wall_clock_time_for_day_targets_across_daylight_saving():
    assert due_after_days(STANDARD, ny(2026, 3, 6, 10), 3) == utc(2026, 3, 9, 14)  # Mon 10:00 EDT
    assert due_after_days(STANDARD, ny(2026, 10, 30, 10), 3) == utc(2026, 11, 2, 15)
    # Round the clock, a calendar day across the change is 23 or 25 hours of real time.
    assert due_after_days(ROUND_THE_CLOCK, ny(2026, 3, 7, 12), 1) == ny(2026, 3, 8, 12)
    assert due_after_days(ROUND_THE_CLOCK, ny(2026, 10, 31, 12), 1) == utc(2026, 11, 1, 17)


def test_it_maps_a_wall_time_inside_the_spring_gap_to_the_end_of_the_gap():
    # 02:30 does not exist on 2026-03-08: the first instant whose clock reads 02:30 or later is
    # 03:00 EDT.
    assert due_after_days(ROUND_THE_CLOCK, ny(2026, 3, 7, 2, 30), 1) == utc(2026, 3, 8, 7)
    night = Calendar("America/New_York", {6: ((time(2, 30), time(4)),)})
    assert next_opening(night, ny(2026, 3, 8)) == utc(2026, 3, 8, 7)  # 03:00 EDT
    assert open_minutes_between(night, ny(2026, 3, 8), ny(2026, 3, 9)) == 60
    assert not is_open(night, ny(2026, 3, 8, 1, 59))


def test_it_maps_an_ambiguous_wall_time_to_its_first_occurrence():
    night = Calendar("America/New_York", {6: ((time(1, 30), time(3)),)})
    assert next_opening(night, ny(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    # Open from the first 01:30 through the repeated hour to 03:00 EST.
    assert open_minutes_between(night, ny(2026, 11, 1), ny(2026, 11, 2)) == 150
    assert due_after_days(ROUND_THE_CLOCK, ny(2026, 10, 31, 1, 30), 1) == utc(2026, 11, 1, 5, 30)


# --- boundaries -------------------------------------------------------------------------------


def test_it_treats_opening_as_open_and_closing_as_closed():
    assert is_open(STANDARD, ny(2026, 6, 1, 9))
    assert is_open(STANDARD, ny(2026, 6, 1, 17) - ONE_US)
    assert not is_open(STANDARD, ny(2026, 6, 1, 17))
    assert not is_open(STANDARD, ny(2026, 6, 1, 9) - ONE_US)
    assert next_opening(STANDARD, ny(2026, 6, 1, 9)) == ny(2026, 6, 1, 9)
    assert next_opening(STANDARD, ny(2026, 6, 1, 17)) == ny(2026, 6, 2, 9)
    assert next_opening(STANDARD, ny(2026, 6, 5, 17)) == ny(2026, 6, 8, 9)


def test_it_starts_counting_at_the_next_opening_when_dispatched_at_closing():
    assert due_after_minutes(STANDARD, ny(2026, 6, 1, 17), 30) == ny(2026, 6, 2, 9, 30)
    assert due_after_minutes(STANDARD, ny(2026, 6, 1, 9), 30) == ny(2026, 6, 1, 9, 30)
    assert due_after_minutes(STANDARD, ny(2026, 6, 1, 9), 480) == ny(2026, 6, 1, 17)
    assert due_after_minutes(STANDARD, ny(2026, 6, 1, 6), 30) == ny(2026, 6, 1, 9, 30)


def test_it_is_due_at_dispatch_for_a_zero_budget_even_when_closed():
    saturday = ny(2026, 6, 6, 12)
    assert due_after_minutes(STANDARD, saturday, 0) == saturday
    assert due_after_days(STANDARD, saturday, 0) == ny(2026, 6, 8, 9)


def test_it_keeps_seconds_and_microseconds_of_the_dispatch():
    assert due_after_minutes(STANDARD, ny(2026, 6, 1, 10, 0, 30), 30) == ny(2026, 6, 1, 10, 30, 30)
    late = ny(2026, 6, 1, 16, 59, 59, 500_000)
    assert due_after_minutes(STANDARD, late, 1) == ny(2026, 6, 2, 9, 0, 59, 500_000)
    assert due_after_minutes(STANDARD, ny(2026, 6, 1, 10), 0.5) == ny(2026, 6, 1, 10, 0, 30)
    assert open_minutes_between(STANDARD, ny(2026, 6, 1, 10), ny(2026, 6, 1, 10, 1, 15)) == 1.25


def test_it_lets_a_budget_run_through_midnight_on_extended_hours():
    assert due_after_minutes(EXTENDED, ny(2026, 6, 1, 23, 50), 30) == ny(2026, 6, 2, 0, 20)
    assert due_after_minutes(EXTENDED, ny(2026, 6, 1, 8, 50), 30) == ny(2026, 6, 1, 17, 20)
    assert due_after_minutes(EXTENDED, ny(2026, 6, 5, 16, 50), 30) == ny(2026, 6, 5, 17, 30)


# --- several ranges a day, closed dates -------------------------------------------------------


def test_it_skips_the_lunch_break_between_two_ranges_of_a_day():
    london = ZoneInfo("Europe/London")
    start = datetime(2026, 6, 1, 11, 45, tzinfo=london)
    assert due_after_minutes(LUNCH, start, 30) == datetime(2026, 6, 1, 13, 15, tzinfo=london)
    assert due_after_minutes(LUNCH, start, 15) == datetime(2026, 6, 1, 12, tzinfo=london)
    assert not is_open(LUNCH, datetime(2026, 6, 1, 12, 30, tzinfo=london))
    assert open_minutes_between(LUNCH, start, datetime(2026, 6, 1, 13, 15, tzinfo=london)) == 30


def test_it_skips_a_closed_date_for_minute_targets():
    july_4th_observed = Calendar.standard(closed_dates=[date(2026, 7, 3)])  # a Friday
    assert due_after_minutes(july_4th_observed, ny(2026, 7, 2, 16, 50), 30) == ny(2026, 7, 6, 9, 20)
    # Dispatched on the closed date itself: the count starts at the next opening.
    assert due_after_minutes(july_4th_observed, ny(2026, 7, 3, 10), 30) == ny(2026, 7, 6, 9, 30)
    assert not is_open(july_4th_observed, ny(2026, 7, 3, 10))


def test_it_skips_a_closed_date_for_day_targets():
    july_4th_observed = Calendar.standard(closed_dates=[date(2026, 7, 3)])
    # Dispatched on the closed date: starts Mon 09:00, due Tue 09:00.
    assert due_after_days(july_4th_observed, ny(2026, 7, 3, 10), 1) == ny(2026, 7, 7, 9)
    # Due on the closed date: moved to the next opening.
    assert due_after_days(july_4th_observed, ny(2026, 7, 2, 10), 1) == ny(2026, 7, 6, 9)


def test_it_closes_a_24x7_calendar_on_its_closed_dates():
    cal = Calendar(
        "UTC", {wd: ((time(0), None),) for wd in range(7)}, frozenset([date(2026, 6, 1)])
    )
    assert not cal.always_open
    assert due_after_minutes(cal, utc(2026, 5, 31, 23, 50), 20) == utc(2026, 6, 2, 0, 10)


# --- calendars and validation -----------------------------------------------------------------


def test_it_knows_which_calendars_are_always_open():
    assert ROUND_THE_CLOCK.always_open
    assert not STANDARD.always_open
    assert not EXTENDED.always_open


def test_it_makes_extended_hours_the_complement_of_standard_hours():
    start, end = ny(2026, 1, 1), ny(2027, 1, 1)
    week_total = open_minutes_between(STANDARD, start, end) + open_minutes_between(
        EXTENDED, start, end
    )
    assert week_total == open_minutes_between(ROUND_THE_CLOCK, start, end)


def test_it_normalises_equal_calendars_to_equal_hashable_values():
    given_as_tuple = Calendar("America/New_York", tuple(STANDARD.weekly))
    overlapping = Calendar(
        "America/New_York", {wd: [(time(12), time(17)), (time(9), time(13))] for wd in range(5)}
    )
    assert given_as_tuple == overlapping == STANDARD
    assert hash(overlapping) == hash(STANDARD)
    midnight_end = Calendar("UTC", {0: [(time(20), time(0))]})
    assert midnight_end.weekly[0] == ((time(20), None),)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Calendar("Mars/Olympus_Mons", {}),
        lambda: Calendar("UTC", {7: [(time(9), time(17))]}),
        lambda: Calendar("UTC", {0: [(time(17), time(9))]}),
        lambda: Calendar("UTC", [()] * 6),
    ],
)
def test_it_rejects_malformed_calendars(make):
    with pytest.raises(ValueError):
        make()


def test_it_rejects_naive_datetimes():
    naive = datetime(2026, 6, 1, 10)
    for call in (
        lambda: due_after_minutes(STANDARD, naive, 30),
        lambda: due_after_minutes(ROUND_THE_CLOCK, naive, 30),
        lambda: due_after_days(STANDARD, naive, 1),
        lambda: open_minutes_between(STANDARD, naive, ny(2026, 6, 2)),
        lambda: next_opening(STANDARD, naive),
        lambda: is_open(ROUND_THE_CLOCK, naive),
    ):
        with pytest.raises(ValueError):
            call()


@pytest.mark.parametrize("minutes", [-1, -0.5, math.nan, math.inf, "30"])
def test_it_rejects_budgets_that_are_not_finite_non_negative_numbers(minutes):
    with pytest.raises(ValueError):
        due_after_minutes(STANDARD, ny(2026, 6, 1, 10), minutes)


@pytest.mark.parametrize("days", [-1, 1.5, True])
def test_it_rejects_day_counts_that_are_not_non_negative_integers(days):
    with pytest.raises(ValueError):
        due_after_days(STANDARD, ny(2026, 6, 1, 10), days)


def test_it_refuses_a_calendar_with_no_open_time_instead_of_looping():
    never = Calendar("UTC", {})
    start = utc(2026, 6, 1)
    for call in (
        lambda: due_after_minutes(never, start, 1),
        lambda: due_after_days(never, start, 1),
        lambda: next_opening(never, start),
    ):
        with pytest.raises(ValueError, match="no opening hours"):
            call()
    assert open_minutes_between(never, start, start + timedelta(days=30)) == 0
    assert not is_open(never, start)


def test_it_gives_up_after_ten_years_of_closed_dates():
    first = date(2026, 1, 1)
    closed = frozenset(first + timedelta(n) for n in range(12 * 366))
    shut = Calendar.standard(closed_dates=closed)
    with pytest.raises(ValueError, match="10 years"):
        due_after_minutes(shut, ny(2026, 6, 1, 10), 30)
    with pytest.raises(ValueError, match="10 years"):
        next_opening(shut, ny(2026, 6, 1, 10))


def test_it_signs_open_minutes_so_time_left_goes_negative_when_overdue():
    due, now = ny(2026, 6, 1, 10), ny(2026, 6, 1, 10, 45)
    assert open_minutes_between(STANDARD, now, due) == -45
    assert open_minutes_between(STANDARD, due, due) == 0


def test_it_handles_budgets_spanning_years():
    start = ny(2026, 6, 1, 10)
    budget = 3 * 52 * 5 * 480  # about three years of standard hours
    due = due_after_minutes(STANDARD, start, budget)
    assert open_minutes_between(STANDARD, start, due) == budget
    assert ny(2029, 5, 1) < due < ny(2029, 7, 1)


# --- properties against the naive reference ---------------------------------------------------


@PROPERTY
@given(calendars, whole_minutes, st.integers(0, 600))
def test_it_matches_the_minute_stepping_reference(cal, start, minutes):
    assert due_after_minutes(cal, start, minutes) == ref_due_after_minutes(cal, start, minutes)


@PROPERTY
@given(calendars, any_instants, st.integers(0, 600_000))
def test_it_counts_exactly_the_budget_of_open_minutes_up_to_the_due_time(cal, start, minutes):
    due = due_after_minutes(cal, start, minutes)
    assert due >= start
    assert open_minutes_between(cal, start, due) == minutes


@PROPERTY
@given(calendars, any_instants, st.integers(1, 100_000))
def test_it_is_never_due_inside_closed_time_except_at_a_closing(cal, start, minutes):
    due = due_after_minutes(cal, start, minutes)
    # The instant just before is open: the due time is open or is exactly a closing.
    assert is_open(cal, due - ONE_US)


@PROPERTY
@given(calendars, whole_minutes, st.integers(1, 600))
def test_the_minute_before_a_due_time_is_open(cal, start, minutes):
    due = due_after_minutes(cal, start, minutes)
    assert ref_is_open(cal, due - ONE_MINUTE)


@PROPERTY
@given(calendars, any_instants, st.integers(0, 10 * 1440), st.integers(0, 3000))
def test_it_never_moves_a_due_time_earlier_when_dispatch_is_later(cal, start, later, minutes):
    later_start = start + timedelta(minutes=later)
    assert due_after_minutes(cal, start, minutes) <= due_after_minutes(cal, later_start, minutes)


# Day targets keep the local wall-clock time, which runs backwards once in the autumn; calendars
# closed during that repeated hour (as business hours are) never see it.
@PROPERTY
@given(
    st.sampled_from([STANDARD, WITH_HOLIDAYS, LUNCH, KATHMANDU]),
    any_instants,
    st.integers(0, 10 * 1440),
    st.integers(0, 14),
)
def test_it_never_moves_a_day_target_earlier_when_dispatch_is_later(cal, start, later, days):
    later_start = start + timedelta(minutes=later)
    assert due_after_days(cal, start, days) <= due_after_days(cal, later_start, days)


@PROPERTY
@given(calendars, any_instants)
def test_it_agrees_with_the_wall_clock_on_whether_it_is_open(cal, instant):
    assert is_open(cal, instant) == ref_is_open(cal, instant)


@PROPERTY
@given(calendars, whole_minutes)
def test_it_finds_the_same_next_opening_as_the_reference(cal, instant):
    assert next_opening(cal, instant) == ref_next_opening(cal, instant)


@PROPERTY
@given(calendars, whole_minutes, st.integers(0, 4 * 1440))
def test_it_counts_the_same_open_minutes_as_the_reference(cal, a, span):
    b = a + timedelta(minutes=span)
    expected = ref_open_minutes(cal, a, b)
    assert open_minutes_between(cal, a, b) == expected
    assert open_minutes_between(cal, b, a) == -expected


@PROPERTY
@given(calendars, whole_minutes, st.integers(0, 14))
def test_it_matches_the_reference_for_calendar_day_targets(cal, start, days):
    assert due_after_days(cal, start, days) == ref_due_after_days(cal, start, days)


def test_wall_time_names_the_zones_offset_of_that_instant() -> None:
    assert wall_time(datetime(2026, 3, 9, 13, 20, tzinfo=UTC), NY.key) == "2026-03-09 09:20 EDT"
    assert wall_time(datetime(2026, 3, 6, 14, 20, tzinfo=UTC), NY.key) == "2026-03-06 09:20 EST"
