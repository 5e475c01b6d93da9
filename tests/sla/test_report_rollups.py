"""The report roll-ups (PostgreSQL): stopped clocks counted per (calendar, month in its zone,
tenant, tier, severity, outcome, response minutes) by triggers on every write. After each kind
of write the roll-up equals a recount of the clocks, and every report figure read through it
equals the same figure computed from the clocks alone, for whole and partial months in zones
other than the calendars' own."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from helpdesk import services
from helpdesk.models import Case, Severity, Status
from helpdesk.services import case_escalate, case_hand_back
from sla import reports
from sla.models import BreachRollup, Calendar, ClockRollup, ResponseClock, RollupOutcome
from tenants.models import Tenant
from tests.factories import open_case
from tests.sla.helpers import NY, ny
from tests.sla.test_reports import ALL_GROUPINGS, NOW, build_world, recount_breaches
from tests.sla.test_reports_lifecycle import at, reply, world  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the roll-ups are kept by PostgreSQL triggers"
)


def outcome(clock: ResponseClock) -> int:
    if clock.responded_at is not None:
        return RollupOutcome.MET if clock.responded_at <= clock.due_at else 2
    assert clock.stopped_at is not None
    return 3 if clock.stopped_at > clock.due_at else RollupOutcome.RESOLVED_WITHOUT_RESPONSE


def recounted_rollup() -> Counter:
    """What the roll-up must hold, from the clocks, in plain Python."""
    counted: Counter = Counter()
    for clock in ResponseClock.objects.exclude(stopped_at=None).select_related("calendar"):
        month = f"{clock.dispatched_at.astimezone(ZoneInfo(clock.calendar.timezone)):%Y-%m}"
        key = (
            clock.calendar_id,
            month,
            clock.tenant_id,
            clock.tier,
            clock.severity,
            outcome(clock),
            clock.response_minutes,
        )
        counted[key] += 1
    return counted


def stored_rollup() -> Counter:
    return Counter(
        {
            row[:-1]: row[-1]
            for row in ClockRollup.objects.exclude(n=0).values_list(
                "calendar_id",
                "month",
                "tenant_id",
                "tier",
                "severity",
                "outcome",
                "response_minutes",
                "n",
            )
        }
    )


def missed(clock: ResponseClock) -> bool:
    return clock.stopped_at is not None and outcome(clock) in (2, 3)


def recounted_breaches() -> Counter:
    """What the breach roll-up must hold: stopped missed clocks by UTC hour of due time,
    tenant and tier."""
    counted: Counter = Counter()
    for clock in ResponseClock.objects.exclude(stopped_at=None):
        if missed(clock):
            hour = clock.due_at.astimezone(ZoneInfo("UTC")).replace(
                minute=0, second=0, microsecond=0
            )
            counted[(hour, clock.tenant_id, clock.tier)] += 1
    return counted


def stored_breaches() -> Counter:
    return Counter(
        {
            row[:-1]: row[-1]
            for row in BreachRollup.objects.exclude(n=0).values_list(
                "hour", "tenant_id", "tier", "n"
            )
        }
    )


def assert_breaches_agree(clocks, now: datetime, first, last, zone: ZoneInfo) -> None:
    rolled = reports.breaches_per_day(clocks, first=first, last=last, zone=zone, now=now)
    live = reports.breaches_per_day(
        clocks, first=first, last=last, zone=zone, now=now, rollups=False
    )
    assert rolled == live, (zone, first, last)


def assert_reads_agree(clocks, now: datetime, groupings=ALL_GROUPINGS) -> None:
    every_live = []
    for by in groupings:
        rolled = [row for row in reports.compliance(clocks, by, now=now)]
        live = [row for row in reports.compliance(clocks, by, now=now, rollups=False)]
        assert rolled == live, by
        every_live.append(live)
    # A page's tables in one statement (GROUPING SETS) give the same rows.
    together, distribution = reports.report_figures(clocks, groupings, now=now)
    assert together == every_live
    assert distribution == reports.response_distribution(clocks.exclude(pk=None))  # live


def assert_exact(now: datetime) -> None:
    assert stored_rollup() == recounted_rollup()
    assert stored_breaches() == recounted_breaches()
    assert reports._scope_of(ResponseClock.objects.all()) is not None  # the roll-up path
    assert_reads_agree(ResponseClock.objects.all(), now)
    for zone in (NY, ZoneInfo("Europe/Berlin")):
        first, last = date(2026, 3, 1), now.astimezone(zone).date()
        assert_breaches_agree(ResponseClock.objects.all(), now, first, last, zone)
        low, high = reports.day_bounds(date(2026, 3, 9), last, zone)
        in_period = reports.clocks_in(
            ResponseClock.objects.all(), dispatched_from=low, dispatched_before=high
        )
        assert_breaches_agree(in_period, now, date(2026, 3, 9), last, zone)


@on_postgresql
def test_the_rollup_follows_every_kind_of_write(world) -> None:  # noqa: F811 (the fixture)
    w = world
    start = ny(2026, 3, 6, 15)
    cases = []
    for n, (tenant, person) in enumerate(
        [("acme", "ann"), ("initech", "ivan"), ("umbrella", "ursula"), ("voicehub", "rob")] * 3
    ):
        severity = [Severity.CRITICAL, Severity.MAJOR, Severity.MINOR][n % 3]
        cases.append(open_case(w[tenant], w[person], severity, at=start + timedelta(hours=7 * n)))
    acme_1, initech_1, umbrella_1, voicehub_1, acme_2, initech_2, *rest = cases
    now = ny(2026, 4, 2, 12)
    assert_exact(now)  # opened: nothing stopped yet, all live
    reply(acme_1, w["alice"], ny(2026, 3, 9, 9, 10))  # respond
    assert_exact(now)
    with at(ny(2026, 3, 9, 9, 20)):  # severity change of a stopped clock's case
        services.case_change_severity(
            case=acme_1, actor=w["alice"], severity=Severity.EMERGENCY, reason="Site down"
        )
    with at(ny(2026, 3, 9, 9, 5)):  # and of a running one
        services.case_change_severity(
            case=acme_2, actor=w["alice"], severity=Severity.MINOR, reason="Only one phone"
        )
    assert_exact(now)
    with at(ny(2026, 3, 9, 10)):  # escalation, answered, handed back, escalated again
        case_escalate(case=initech_1, actor=w["rob"], note="Please look")
    reply(initech_1, w["alice"], ny(2026, 3, 9, 10, 40), escalation=True)
    with at(ny(2026, 3, 9, 11)):
        case_hand_back(case=initech_1, actor=w["alice"], note="Your side")
    with at(ny(2026, 3, 9, 15)):
        case_escalate(case=initech_1, actor=w["rob"], note="Still failing")
    assert_exact(now)
    with at(ny(2026, 3, 9, 9, 30)):  # stopped by resolution, then reopened
        services.case_change_status(case=umbrella_1, actor=w["ursula"], status=Status.RESOLVED)
    assert_exact(now)
    with at(ny(2026, 3, 9, 12)):
        services.case_change_status(case=umbrella_1, actor=w["ursula"], status=Status.IN_PROGRESS)
    assert_exact(now)
    with at(ny(2026, 4, 1, 8)):  # resolved after due: missed, unanswered
        services.case_change_status(case=initech_2, actor=w["ivan"], status=Status.RESOLVED)
    reply(voicehub_1, w["alice"], ny(2026, 3, 10, 9))
    assert_exact(now)
    initech = Tenant.objects.get(slug="initech")  # a sub-customer moves to another reseller
    initech.parent = w["talkco"]
    initech.save()
    assert_exact(now)
    # Bulk writes in SQL: every statement is folded in by the triggers.
    ResponseClock.objects.filter(stopped_at=None, tier=1).update(stopped_at=ny(2026, 3, 31, 23, 30))
    assert_exact(now)
    ResponseClock.objects.filter(case=acme_1).update(severity=Severity.MINOR)
    assert_exact(now)
    Case.objects.filter(pk__in=[acme_1.pk, initech_1.pk, rest[0].pk]).delete()  # cascades
    assert_exact(now)
    # A calendar moved to another zone re-buckets its clocks' months.
    calendar = Calendar.objects.get(name="Standard hours")
    calendar.timezone = "Pacific/Kiritimati"  # UTC+14: some clocks change month
    calendar.save()
    assert_exact(now)
    ResponseClock.objects.all().delete()
    assert stored_rollup() == Counter()
    assert stored_breaches() == Counter()


def test_a_histogram_gives_percentile_cont_of_its_values() -> None:
    rng = random.Random(3)
    for _ in range(300):
        values = [float(rng.randrange(0, 40)) for _ in range(rng.randrange(1, 60))]
        pairs = sorted(Counter(values).items())
        for fraction in (0.0, 0.5, 0.9, 1.0):
            expected = reports.percentile_cont(values, fraction)
            assert reports._histogram_percentile(pairs, fraction) == expected
    assert reports._histogram_percentile([], 0.5) is None


@on_postgresql
def test_periods_with_partial_months_in_other_zones_agree_with_the_clocks(db) -> None:
    """Clocks on New York and Berlin calendars across both DST changes; periods that start
    and end on days of other zones (half-hour offsets too) read whole months from the roll-up
    and the rest live, and every figure equals the live computation."""
    build_world(cases=1500)
    assert sum(stored_rollup().values()) == ResponseClock.objects.exclude(stopped_at=None).count()
    rng = random.Random(11)
    zones = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
    periods = [(None, None), (datetime(2026, 3, 1, tzinfo=ZoneInfo("Europe/Berlin")), None)]
    for _ in range(14):
        zone = ZoneInfo(rng.choice(zones))
        first = datetime(2026, 1, 1) + timedelta(days=rng.randrange(0, 300))
        last = first + timedelta(days=rng.choice([0, 6, 30, 31, 60, 95, 200]))
        low, high = reports.day_bounds(first.date(), last.date(), zone)
        periods.append((low, high))
    periods.append((None, datetime(2026, 7, 1, tzinfo=ZoneInfo("America/New_York"))))
    for low, high in periods:
        clocks = reports.clocks_in(
            ResponseClock.objects.all(), dispatched_from=low, dispatched_before=high
        )
        assert reports._scope_of(clocks) is not None
        assert_reads_agree(clocks, NOW, groupings=[(), ("month", "severity"), ("tenant", "tier")])
        assert reports.response_distribution(clocks) == reports.response_distribution(
            clocks.exclude(pk=None)  # not a roll-up filter: computed live
        )
    # Filters on tenant, reseller, tier and severity narrow the roll-up the same way.
    reseller = Tenant.objects.get(slug="resell")
    low, high = reports.day_bounds(datetime(2026, 2, 10).date(), datetime(2026, 9, 3).date(), NY)
    for narrowed in (
        reports.clocks_in(ResponseClock.objects.all(), tenant=reseller, tier=2),
        reports.clocks_in(ResponseClock.objects.all(), reseller=reseller, severity=3),
        reports.clocks_in(
            ResponseClock.objects.filter(tier=1),
            dispatched_from=low,
            dispatched_before=high,
            tenant=Tenant.objects.get(slug="direct-a"),
        ),
    ):
        assert reports._scope_of(narrowed) is not None
        assert_reads_agree(narrowed, NOW, groupings=[(), ("month", "tier")])


@on_postgresql
def test_reports_read_the_rollup_and_fall_back_to_the_clocks_otherwise(db) -> None:
    build_world(cases=200)
    (before,) = reports.compliance(ResponseClock.objects.all(), (), now=NOW)
    row = ClockRollup.objects.filter(outcome=RollupOutcome.MET).exclude(n=0).first()
    ClockRollup.objects.filter(pk=row.pk).update(n=row.n + 5)  # tampered: the report shows it
    (after,) = reports.compliance(ResponseClock.objects.all(), (), now=NOW)
    assert (after.met, after.dispatched) == (before.met + 5, before.dispatched + 5)
    # A filter the roll-up does not have is computed from the clocks alone.
    unanswered = ResponseClock.objects.filter(responded_at=None)
    assert reports._scope_of(unanswered) is None
    (live,) = reports.compliance(unanswered, (), now=NOW)
    assert live.met == 0


@pytest.mark.postgres
def test_a_zone_the_database_does_not_know_is_refused_before_any_clock_needs_it(db) -> None:
    """The roll-up buckets clocks by month in their calendar's zone inside PostgreSQL: a zone
    name it lacks (older tz data than Python's) is a form error on the calendar, not a failure
    of every later answer on its cases."""
    with pytest.raises(ValidationError, match="not known to the database's time-zone data"):
        Calendar(name="Nowhere", timezone="Nowhere/Unknown_City").clean()
    Calendar(name="Kyiv hours", timezone="Europe/Kiev").clean()  # known to both


@on_postgresql
def test_a_period_ending_today_reads_its_month_from_the_rollup_less_the_rest(db) -> None:
    """A period that ends today (this month, this year, the last 90 days) reads the current
    month from the roll-up and subtracts its stopped clocks after the period (none yet), rather
    than counting weeks of clocks live; one inside a month does the same on both sides when
    most of the month is inside. Every figure equals the live one."""
    build_world(cases=1500)
    today = NOW.astimezone(NY).date()  # Monday 16 November 2026
    for first, last, subtracts in (
        (date(2026, 11, 1), today, True),
        (date(2026, 1, 1), today, True),
        (today - timedelta(days=89), today, True),
        (date(2026, 11, 3), today, True),  # inside November, most of it in the period
        (date(2026, 10, 3), date(2026, 10, 30), True),  # a whole past month less its ends
        (date(2026, 10, 20), date(2026, 10, 24), False),  # a few days: live
    ):
        low, high = reports.day_bounds(first, last, NY)
        plan = reports._plan("America/New_York", low, high, NOW)
        assert bool(plan and plan.subtract) == subtracts, (first, last, plan)
        clocks = reports.clocks_in(
            ResponseClock.objects.all(), dispatched_from=low, dispatched_before=high
        )
        assert_reads_agree(clocks, NOW, groupings=[(), ("month", "severity"), ("tenant", "tier")])
        assert reports.response_distribution(clocks) == reports.response_distribution(
            clocks.exclude(pk=None)  # computed live
        )


@on_postgresql
def test_breaches_per_day_read_the_rollup_where_days_are_whole_hours(db) -> None:
    build_world(cases=600)
    assert stored_breaches() == recounted_breaches()
    first, last = date(2026, 8, 19), NOW.astimezone(NY).date()
    low, high = reports.day_bounds(first, last, NY)
    everything = ResponseClock.objects.all()
    assert reports._breaches_rolled(everything, low, high, NY, NOW) is not None
    in_period = reports.clocks_in(everything, dispatched_from=low, dispatched_before=high)
    assert reports._breaches_rolled(in_period, low, high, NY, NOW) is not None
    kolkata = ZoneInfo("Asia/Kolkata")  # half-hour offset: live
    assert (
        reports._breaches_rolled(
            everything, *reports.day_bounds(first, last, kolkata), kolkata, NOW
        )
        is None
    )
    assert reports._breaches_rolled(everything.filter(severity=2), low, high, NY, NOW) is None
    # Tampered with, the figures show it: they are read from the roll-up.
    before = reports.breaches_per_day(everything, first=first, last=last, zone=NY, now=NOW)
    assert before == recount_breaches(list(everything), first, last, NY, NOW)
    before = dict(before)
    row = BreachRollup.objects.filter(hour__gte=low, hour__lt=NOW).exclude(n=0).first()
    BreachRollup.objects.filter(pk=row.pk).update(n=row.n + 5)
    after = dict(reports.breaches_per_day(everything, first=first, last=last, zone=NY, now=NOW))
    day = row.hour.astimezone(NY).date()
    assert after[day] == before[day] + 5
