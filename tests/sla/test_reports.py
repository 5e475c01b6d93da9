"""SLA compliance reports (SPEC §9): every figure equals a brute-force recount in plain Python
over the same clocks, on SQLite and on PostgreSQL (CI), grouped by every key."""

from __future__ import annotations

import csv
import io
import itertools
import os
import random
import statistics
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from defusedcsv import csv as defused
from django.core.management import call_command

from helpdesk.models import Case, Channel, Status
from sla import reports
from sla.models import Calendar, ResponseClock, Unit
from tenants.models import Tenant, TenantKind
from tests.factories import TenantFactory, provider

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)


def build_world(seed: int = 7, cases: int = 2500) -> list[ResponseClock]:
    """A random set of clocks across DST weeks and two calendar zones, inserted in bulk."""
    rng = random.Random(seed)
    root = provider()
    reseller = TenantFactory(name="Reseller", slug="resell", kind=TenantKind.RESELLER, parent=root)
    tenants = [
        TenantFactory(slug="direct-a"),
        TenantFactory(slug="direct-b"),
        reseller,
        TenantFactory(slug="sub-a", kind=TenantKind.SUBCUSTOMER, parent=reseller),
        TenantFactory(slug="sub-b", kind=TenantKind.SUBCUSTOMER, parent=reseller),
    ]
    new_york = Calendar.objects.get(name="Standard hours")
    berlin = Calendar.objects.create(name="Berlin hours", timezone="Europe/Berlin")
    start = datetime(2026, 1, 1, tzinfo=UTC)  # spans both DST changes, US and EU
    case_rows, clock_rows = [], []
    for n in range(cases):
        tenant = rng.choice(tenants)
        dispatched = start + timedelta(minutes=rng.randrange(0, 330 * 24 * 60))
        # Edge instants: exactly at a month boundary in each zone.
        if n % 97 == 0:
            dispatched = datetime(2026, 3 + n % 8, 1, 0, 0, tzinfo=ZoneInfo("America/New_York"))
        if n % 89 == 0:
            dispatched = datetime(2026, 3 + n % 8, 1, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
        case_rows.append(
            Case(
                reference=f"CS-{900000 + n}",
                tenant=tenant,
                requester_email="someone@example.test",
                subject="s",
                description="d",
                severity=rng.randint(1, 5),
                channel=Channel.PORTAL,
                status=Status.NEW,
                created_at=dispatched,
                updated_at=dispatched,
                dispatched_at=dispatched,
            )
        )
    Case.objects.bulk_create(case_rows)
    for case in case_rows:
        tiers = [1, 2] if case.tenant.kind == TenantKind.SUBCUSTOMER and rng.random() < 0.3 else [1]
        for tier in tiers:
            dispatched = case.dispatched_at + timedelta(minutes=60 * (tier - 1))
            budget = timedelta(minutes=rng.choice([10, 30, 60, 240, 1440]))
            due = dispatched + budget
            fate = rng.random()
            responded = stopped = minutes = None
            if fate < 0.5:  # responded, before or after due (some exactly at due)
                offset = rng.choice([budget, budget / 2, budget * 2, budget + timedelta(seconds=1)])
                responded = stopped = dispatched + offset
                minutes = round(rng.uniform(0, 3000), 3) if fate > 0.02 else 0.0
            elif fate < 0.65:  # resolved without response, before or after due
                stopped = dispatched + rng.choice([budget / 3, budget * 3, budget])
            # else running: past due or not, depending on NOW
            if due > NOW and stopped is None and fate >= 0.65:
                pass
            clock_rows.append(
                ResponseClock(
                    case=case,
                    tenant=case.tenant,
                    tier=tier,
                    severity=case.severity,
                    calendar=rng.choice([new_york, berlin]),
                    amount=int(budget.total_seconds() // 60),
                    unit=Unit.MINUTES,
                    at_risk_share=Decimal("0.75"),
                    dispatched_at=dispatched,
                    at_risk_at=dispatched,
                    due_at=due,
                    responded_at=responded,
                    stopped_at=stopped,
                    response_minutes=minutes,
                    created_at=dispatched,
                    updated_at=dispatched,
                )
            )
    ResponseClock.objects.bulk_create(clock_rows)
    return list(ResponseClock.objects.select_related("case__tenant__parent", "calendar"))


def bucket(clock: ResponseClock, now: datetime) -> str:
    if clock.responded_at is not None:
        return "met" if clock.responded_at <= clock.due_at else "missed"
    if clock.stopped_at is not None:
        return "resolved_without_response" if clock.stopped_at <= clock.due_at else "missed"
    return "breached_open" if now > clock.due_at else "running"


def keys_of(clock: ResponseClock) -> dict[str, object]:
    tenant = clock.case.tenant
    zone = ZoneInfo(clock.calendar.timezone)
    return {
        "tenant": tenant.slug,
        "reseller": tenant.parent.slug if tenant.kind == TenantKind.SUBCUSTOMER else "",
        "tier": clock.tier,
        "severity": clock.severity,
        "month": f"{clock.dispatched_at.astimezone(zone):%Y-%m}",
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """Independent of the code under test: the statistics module's inclusive method."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    if fraction == 0.5:
        return statistics.median(values)
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def recount(clocks: list[ResponseClock], by: tuple[str, ...], now: datetime) -> list[list[str]]:
    groups: dict[tuple, list[ResponseClock]] = defaultdict(list)
    for clock in clocks:
        keys = keys_of(clock)
        groups[tuple(keys[k] for k in by)].append(clock)
    if not by:
        groups.setdefault((), [])
    lines = []
    for key in sorted(
        groups, key=lambda k: tuple((0, v) if isinstance(v, int) else (1, v) for v in k)
    ):
        members = groups[key]
        counts = defaultdict(int)
        for clock in members:
            counts[bucket(clock, now)] += 1
        met, missed = counts["met"], counts["missed"]
        breached = missed + counts["breached_open"]
        minutes = [c.response_minutes for c in members if c.responded_at is not None]
        share = (
            ""
            if met + breached == 0
            else str(
                (Decimal(met) / Decimal(met + breached)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            )
        )
        lines.append(
            [
                *(str(v) for v in key),
                str(len(members)),
                str(met),
                str(missed),
                str(breached),
                str(counts["resolved_without_response"]),
                str(counts["running"]),
                share,
                one_decimal(percentile(minutes, 0.5)),
                one_decimal(percentile(minutes, 0.9)),
            ]
        )
    return lines


def one_decimal(value: float | None) -> str:
    if value is None:
        return ""
    return str(Decimal(repr(float(value))).quantize(Decimal("0.1"), ROUND_HALF_UP))


ALL_GROUPINGS = [
    combo for size in range(0, 3) for combo in itertools.combinations(reports.KEYS, size)
] + [reports.KEYS]


def test_it_equals_a_brute_force_recount_for_every_grouping(db) -> None:
    clocks = build_world()
    assert len(clocks) > 2500
    for by in ALL_GROUPINGS:
        got = [
            row.csv_values(by)
            for row in reports.compliance(ResponseClock.objects.all(), by, now=NOW)
        ]
        assert got == recount(clocks, by, NOW), by


def test_dispatched_is_the_sum_of_the_four_buckets(db) -> None:
    build_world(seed=3, cases=600)
    for row in reports.compliance(ResponseClock.objects.all(), ("tenant", "tier"), now=NOW):
        assert (
            row.dispatched == row.met + row.breached + row.resolved_without_response + row.running
        )
        assert row.missed <= row.breached


def test_a_reseller_filter_includes_its_sub_customers(db) -> None:
    clocks = build_world(seed=5, cases=400)
    reseller = Tenant.objects.get(slug="resell")
    narrowed = reports.clocks_in(ResponseClock.objects.all(), tenant=reseller)
    expected = [c for c in clocks if c.case.tenant.slug in {"resell", "sub-a", "sub-b"}]
    rows = reports.compliance(narrowed, ("tenant",), now=NOW)
    assert {row.keys["tenant"] for row in rows} == {"resell", "sub-a", "sub-b"}
    assert sum(row.dispatched for row in rows) == len(expected)


def test_no_clocks_give_one_total_row_of_zeros(db) -> None:
    (row,) = reports.compliance(ResponseClock.objects.none(), (), now=NOW)
    assert row.csv_values(()) == ["0", "0", "0", "0", "0", "0", "", "", ""]


def test_percentiles_interpolate_between_closest_ranks(db) -> None:
    assert reports.percentile_cont([1, 2, 3, 4], 0.5) == 2.5
    assert reports.percentile_cont([10, 20, 30, 40, 50], 0.9) == pytest.approx(46.0)
    assert reports.percentile_cont([], 0.5) is None
    assert reports.percentile_cont([7], 0.9) == 7


# --- manage.py sla_report, in process (exactness) and from the shell (the contract) ----------


def sla_report(*args: str) -> list[list[str]]:
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("sla_report", *args, stdout=out)
    return [line.split(",") for line in out.getvalue().splitlines()]


def test_the_command_prints_the_recount_as_csv(db) -> None:
    clocks = build_world(seed=11, cases=800)
    header, *rows = sla_report("--by", "reseller,tier,month")
    assert header == ["reseller", "tier", "month", *reports.COLUMNS]
    assert rows == recount(clocks, ("reseller", "tier", "month"), NOW)
    header, *rows = sla_report()
    assert header == list(reports.COLUMNS)
    assert rows == recount(clocks, (), NOW)


def test_the_command_filters_by_dispatch_day_in_the_providers_zone(db) -> None:
    clocks = build_world(seed=13, cases=800)
    zone = ZoneInfo("America/New_York")
    first, last = datetime(2026, 3, 8, tzinfo=zone), datetime(2026, 4, 1, tzinfo=zone)
    inside = [c for c in clocks if first <= c.dispatched_at < last]
    _, *rows = sla_report("--from", "2026-03-08", "--to", "2026-03-31", "--by", "tenant")
    assert rows == recount(inside, ("tenant",), NOW)
    sub = [c for c in inside if c.case.tenant.slug in {"resell", "sub-a", "sub-b"}]
    _, *rows = sla_report("--from", "2026-03-08", "--to", "2026-03-31", "--tenant", "resell")
    assert rows == recount(sub, (), NOW)


MANAGE = str(Path(__file__).resolve().parents[2] / "manage.py")


@pytest.fixture(scope="module")
def shell_env(demo_database) -> dict[str, str]:
    """A database of its own for commands run from the shell, migrated, with the demo world."""
    url, files = demo_database
    return {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "ATTACHMENTS_ROOT": str(files)}


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, MANAGE, "sla_report", *args], env=env, capture_output=True, text=True
    )


def test_from_the_shell_it_prints_csv_sorted_by_the_keys(shell_env) -> None:
    done = run(shell_env, "--by", "tenant,severity")
    assert done.returncode == 0, done.stderr
    header, *rows = [line.split(",") for line in done.stdout.splitlines()]
    assert header == ["tenant", "severity", *reports.COLUMNS]
    assert rows and rows == sorted(rows, key=lambda r: (r[0], int(r[1])))
    (total,) = [line.split(",") for line in run(shell_env).stdout.splitlines()[1:]]
    assert int(total[0]) == sum(int(r[2]) for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--by", "tenant,colour"], "unknown key"),
        (["--by", "tier,tier"], "twice"),
        (["--from", "2026-13-01"], "not a date"),
        (["--from", "yesterday"], "not a date"),
        (["--from", "2026-05-02", "--to", "2026-05-01"], "after"),
        (["--tenant", "nobody"], "no tenant"),
        (["--colour", "red"], "unrecognized"),
    ],
)
def test_from_the_shell_bad_input_is_one_line_and_a_non_zero_exit(shell_env, args, message) -> None:
    done = run(shell_env, *args)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_the_formula_starts_are_the_characters_defusedcsv_escapes() -> None:
    """The cases CSV trusts ``FORMULA_STARTS`` to know which text cells defusedcsv would change:
    it must be exactly defusedcsv's set (a new version that escapes more fails here)."""
    escaped = set()
    for code in range(32, 0x3000):
        cell = chr(code) + "x1"
        out = io.StringIO()
        defused.writer(out).writerow([cell])
        if next(csv.reader(io.StringIO(out.getvalue())))[0] != cell:
            escaped.add(chr(code))
    assert escaped == set(reports.FORMULA_STARTS)


def recount_breaches(
    clocks: list[ResponseClock], first, last, zone: ZoneInfo, now: datetime
) -> list[tuple[object, int]]:
    """Breaches per day in plain Python: clocks not answered by their due time, by the day of
    the due time in ``zone``, once it has passed."""
    low, high = reports.day_bounds(first, last, zone)
    counted: dict = defaultdict(int)
    for clock in clocks:
        if low <= clock.due_at < min(high, now) and bucket(clock, now) in (
            "missed",
            "breached_open",
        ):
            counted[clock.due_at.astimezone(zone).date()] += 1
    days = (last - first).days + 1
    return [(first + timedelta(days=d), counted[first + timedelta(days=d)]) for d in range(days)]


def test_breaches_per_day_equal_a_recount(db) -> None:
    """Whole days in zones with whole-hour and half-hour offsets, across both DST changes,
    over every clock (the dashboard) and over the clocks of a period and an organisation (the
    report page: a clock dispatched before the period and due in it is not counted), at a
    whole hour and in the middle of one."""
    build_world(seed=13, cases=1200)
    rng = random.Random(5)
    reseller = Tenant.objects.get(slug="resell")
    zones = ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
    for now in (NOW, NOW + timedelta(minutes=37)):
        for n in range(12):
            zone = ZoneInfo(zones[n % len(zones)])
            first = (datetime(2026, 1, 1) + timedelta(days=rng.randrange(0, 320))).date()
            last = min(first + timedelta(days=rng.choice([0, 1, 6, 30, 89, 200])), now.date())
            if first > last:
                first = last
            low, high = reports.day_bounds(first, last, zone)
            for clocks in (
                ResponseClock.objects.all(),
                reports.clocks_in(
                    ResponseClock.objects.all(), dispatched_from=low, dispatched_before=high
                ),
                reports.clocks_in(
                    ResponseClock.objects.all(),
                    dispatched_from=low,
                    dispatched_before=high,
                    tenant=reseller,
                ),
                reports.clocks_in(ResponseClock.objects.filter(tier=2), severity=3),
            ):
                got = reports.breaches_per_day(clocks, first=first, last=last, zone=zone, now=now)
                assert got == recount_breaches(list(clocks), first, last, zone, now), (
                    zone,
                    first,
                    last,
                )


def test_a_pages_figures_read_together_equal_the_recount(db) -> None:
    """``report_figures`` (one statement on PostgreSQL for every table of the report page)
    gives each grouping's recount, and the distribution of response times."""
    clocks = build_world(seed=17, cases=800)
    groupings = [("tier",), ("month", "severity"), ("tenant", "tier"), ()]
    figures, distribution = reports.report_figures(ResponseClock.objects.all(), groupings, now=NOW)
    for rows, by in zip(figures, groupings, strict=True):
        assert [row.csv_values(by) for row in rows] == recount(clocks, by, NOW), by
    responded = [c.response_minutes for c in clocks if c.responded_at is not None]
    expected = [
        sum(1 for m in responded if m >= low and (high is None or m < high))
        for low, high, _ in reports.DISTRIBUTION_BANDS
    ]
    assert [n for _, n in distribution] == expected
