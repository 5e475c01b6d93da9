"""SLA compliance figures (SPEC §9), computed by the database from the response clocks.

A report counts clocks: an escalated case has one per tier (and one per escalation). Each clock
falls in exactly one of four buckets at the time of reporting (``now``):

* **met**: responded at or before its due time;
* **breached**: missed (responded after due, or resolved without a response after due), or
  still without a response past due;
* **resolved without response**: stopped by resolution before due with no response;
* **running**: no response yet and not past due.

So ``dispatched = met + breached + resolved_without_response + running``; ``missed`` is the
part of ``breached`` whose clock has stopped. ``met_share`` is met ÷ (met + breached). Median
and 90th percentile response times are open-hours minutes of the clock's calendar
(``ResponseClock.response_minutes``, stored when the clock stops), by linear interpolation
between closest ranks over responded clocks: PostgreSQL's ``percentile_cont``, and the same
function registered on SQLite connections. Nothing here loops over clocks in Python: each report
is one aggregate query, grouped by any of ``KEYS``.

A clock's tenant is its case's requesting tenant (copied onto the clock when it starts: a case
never changes tenant); its reseller is that tenant's reseller now, read through the tenant row
(empty for a direct customer and for a reseller's own cases); its month is the month of its
dispatch in its calendar's time zone.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from defusedcsv import csv as defused_csv
from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    BooleanField,
    CharField,
    Count,
    DateTimeField,
    F,
    FloatField,
    Func,
    Q,
    QuerySet,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models import Case as SqlCase
from django.db.models.functions import Cast, Coalesce, TruncDate

from sla.models import BreachRollup, Calendar, ClockRollup, ResponseClock, RollupOutcome
from tenants.models import Tenant, TenantKind

KEYS = ("tenant", "reseller", "tier", "severity", "month")
COLUMNS = (
    "dispatched",
    "met",
    "missed",
    "breached",
    "resolved_without_response",
    "running",
    "met_share",
    "median_minutes",
    "p90_minutes",
)


# --- SQL pieces that SQLite lacks: registered on the connection when first used ---------------


class _Percentile:
    """SQLite aggregate ``percentile_cont(fraction, value)``: PostgreSQL's ``percentile_cont``
    (linear interpolation between closest ranks), NULLs ignored."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, fraction: float, value: float | None) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return percentile_cont(self.values, self.fraction)


def percentile_cont(values: Iterable[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's ``percentile_cont``."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _local_month(stamp: str | None, zone: str | None) -> str | None:
    """SQLite function ``sla_local_month(utc_text, zone)``: 'YYYY-MM' of a stored UTC instant
    in a time zone (SQLite stores aware datetimes as UTC text)."""
    if stamp is None or zone is None:
        return None
    instant = datetime.fromisoformat(stamp)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ZoneInfo("UTC"))
    return f"{instant.astimezone(ZoneInfo(zone)):%Y-%m}"


def _register_sqlite(connection) -> None:
    """Give this SQLite connection the functions the reports use, once per raw connection
    (Django may reconnect; the wrapper remembers which raw connection has them)."""
    connection.ensure_connection()
    raw = connection.connection
    if getattr(connection, "_sla_reports_functions_on", None) is raw:
        return
    raw.create_aggregate("percentile_cont", 2, _Percentile)
    raw.create_function("sla_local_month", 2, _local_month, deterministic=True)
    connection._sla_reports_functions_on = raw


class PercentileCont(Aggregate):
    """``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "percentile_cont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        _register_sqlite(connection)
        # The registered aggregate takes the fraction as its first argument (a FILTER clause,
        # when there is one, is added around this template by Aggregate.as_sql).
        clone = self.copy()
        clone.template = "%(function)s(%(fraction)s, %(expressions)s)"
        return super(PercentileCont, clone).as_sql(compiler, connection, **extra_context)


class LocalMonth(Func):
    """'YYYY-MM' of an instant in the time zone named by another column."""

    output_field = CharField()
    arity = 2

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="to_char((%(expressions)s), 'YYYY-MM')",
            arg_joiner=" AT TIME ZONE ",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        _register_sqlite(connection)
        return self.as_sql(compiler, connection, function="sla_local_month", **extra_context)


# --- how PostgreSQL runs them ----------------------------------------------------------------

# A report over a reseller's year sorts several hundred thousand clocks by their groups (the
# percentiles make PostgreSQL group by sorting): with the default 4 MB that sort goes to disk.
# JIT compilation costs more than it saves on queries of this size.
REPORT_WORK_MEM = "128MB"


@contextmanager
def tuned() -> Iterator[None]:
    """Run the report queries inside with ``REPORT_WORK_MEM`` and without JIT on PostgreSQL:
    settings local to one transaction (or to the transaction of the savepoint it opens inside
    one: they end with it). Blocks inside a block share its transaction and settings: a page
    that wraps all its figures in one pays one BEGIN, one setting and one COMMIT, three round
    trips to the database, instead of three per statement (the staff dashboard has five)."""
    if getattr(connection, "_sla_tuned", False) and connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)",
                    [REPORT_WORK_MEM],
                )
        setattr(connection, "_sla_tuned", True)  # noqa: B010 (not a declared attribute)
        try:
            yield
        finally:
            setattr(connection, "_sla_tuned", False)  # noqa: B010


_tuned = tuned


# --- what is counted ------------------------------------------------------------------------


def _key_expressions() -> dict[str, Any]:
    return {
        "tenant": F("tenant__slug"),
        "reseller": SqlCase(
            When(tenant__kind=TenantKind.SUBCUSTOMER, then=F("tenant__parent__slug")),
            default=Value(""),
            output_field=CharField(),
        ),
        "tier": F("tier"),
        "severity": F("severity"),
        "month": LocalMonth("dispatched_at", "calendar__timezone"),
    }


def bucket_conditions(now: datetime) -> dict[str, Q]:
    """Each count's condition on a clock at ``now`` (the definitions of SPEC §9)."""
    responded = Q(responded_at__isnull=False)
    stopped_unanswered = Q(responded_at__isnull=True, stopped_at__isnull=False)
    missed = (responded & Q(responded_at__gt=F("due_at"))) | (
        stopped_unanswered & Q(stopped_at__gt=F("due_at"))
    )
    return {
        "met": responded & Q(responded_at__lte=F("due_at")),
        "missed": missed,
        "breached": missed | Q(stopped_at__isnull=True, due_at__lt=now),
        "resolved_without_response": stopped_unanswered & Q(stopped_at__lte=F("due_at")),
        "running": Q(stopped_at__isnull=True, due_at__gte=now),
    }


# Counts count a column that is never NULL and that every report index holds (Django allows no
# COUNT(*) with a filter): COUNT(id) would send PostgreSQL to the table for the id.
EVERY = "due_at"


def _aggregates(now: datetime, *, percentiles: bool = True) -> dict[str, Any]:
    figures: dict[str, Any] = {"dispatched": Count(EVERY)}
    for name, condition in bucket_conditions(now).items():
        figures[name] = Count(EVERY, filter=condition)
    responded = Q(responded_at__isnull=False)
    figures["responded"] = Count(EVERY, filter=responded)
    if percentiles:  # the sorts are most of a report's cost: only where they are shown
        # Only responded clocks enter the sort (minutes are stored with the response); the
        # two percentiles share one sort on PostgreSQL (same input, same filter).
        figures["median_minutes"] = PercentileCont("response_minutes", 0.5, filter=responded)
        figures["p90_minutes"] = PercentileCont("response_minutes", 0.9, filter=responded)
    return figures


@dataclass(frozen=True)
class Row:
    """One line of a report: its keys (by name) and its figures."""

    keys: dict[str, Any]
    dispatched: int
    met: int
    missed: int
    breached: int
    resolved_without_response: int
    running: int
    responded: int
    median_minutes: float | None
    p90_minutes: float | None

    @property
    def met_share(self) -> Decimal | None:
        """met ÷ (met + breached), 4 decimals (half up); None when both are 0. The sample is
        ``met + breached``."""
        judged = self.met + self.breached
        if not judged:
            return None
        return (Decimal(self.met) / Decimal(judged)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    @property
    def judged(self) -> int:
        return self.met + self.breached

    def csv_values(self, by: Sequence[str]) -> list[str]:
        return [
            *(str(self.keys[key]) for key in by),
            str(self.dispatched),
            str(self.met),
            str(self.missed),
            str(self.breached),
            str(self.resolved_without_response),
            str(self.running),
            "" if self.met_share is None else f"{self.met_share}",
            format_minutes(self.median_minutes),
            format_minutes(self.p90_minutes),
        ]


def format_minutes(value: float | None) -> str:
    """Minutes with one decimal (half up), empty when there is no figure."""
    if value is None:
        return ""
    return f"{Decimal(repr(float(value))).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}"


def compliance(
    clocks: QuerySet[ResponseClock],
    by: Sequence[str] = (),
    *,
    now: datetime,
    percentiles: bool = True,
    rollups: bool = True,
) -> list[Row]:
    """The report over ``clocks`` grouped by ``by`` (a subset of ``KEYS``), sorted by the keys.
    With no keys, one total row (zeros when there are no clocks). ``percentiles=False`` leaves
    the median and 90th percentile out (None), for pages that show only counts and shares.
    On PostgreSQL the stopped clocks of whole months come from the roll-ups where ``clocks``
    allows it (see ``_histogram``); ``rollups=False`` computes everything from the clocks (the
    tests compare the two)."""
    unknown = [key for key in by if key not in KEYS]
    if unknown:
        raise ValueError(f"unknown report key(s): {', '.join(unknown)}")
    counted = _histogram(clocks, by, now=now, minutes=percentiles) if rollups else None
    if counted is not None:
        return _rows_of(counted, by, percentiles=percentiles)
    figures = _aggregates(now, percentiles=percentiles)
    if not by:
        with _tuned():
            total = clocks.order_by().aggregate(**figures)
        return [_row({}, total)]
    expressions = _key_expressions()
    grouped = (
        clocks.order_by()
        .annotate(**{f"key_{key}": expressions[key] for key in by})
        .values(*(f"key_{key}" for key in by))
        .annotate(**figures)
    )
    with _tuned():
        rows = [_row({key: values[f"key_{key}"] for key in by}, values) for values in grouped]
    rows.sort(key=lambda row: tuple(_sortable(row.keys[key]) for key in by))
    return rows


def _sortable(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, int) else (1, "" if value is None else str(value))


def _row(keys: dict[str, Any], values: dict[str, Any]) -> Row:
    return Row(
        keys=keys,
        dispatched=values["dispatched"] or 0,
        met=values["met"] or 0,
        missed=values["missed"] or 0,
        breached=values["breached"] or 0,
        resolved_without_response=values["resolved_without_response"] or 0,
        running=values["running"] or 0,
        responded=values["responded"] or 0,
        median_minutes=values.get("median_minutes"),
        p90_minutes=values.get("p90_minutes"),
    )


# --- which clocks -----------------------------------------------------------------------------


def provider_zone() -> ZoneInfo:
    """The zone report dates are read in: the provider tenant's, else TIME_ZONE."""
    name = (
        Tenant.objects.filter(kind=TenantKind.PROVIDER).values_list("timezone", flat=True).first()
    )
    return ZoneInfo(name or settings.TIME_ZONE)


def day_bounds(
    start: date | None, end: date | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """[start's midnight, the midnight after ``end``) in ``zone``; None for an open side."""
    low = datetime.combine(start, time.min, tzinfo=zone) if start else None
    high = None
    if end is not None and end < date.max:
        high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    return low, high


def clocks_in(
    clocks: QuerySet[ResponseClock],
    *,
    dispatched_from: datetime | None = None,
    dispatched_before: datetime | None = None,
    tenant: Tenant | None = None,
    reseller: Tenant | None = None,
    severity: int | None = None,
    tier: int | None = None,
) -> QuerySet[ResponseClock]:
    """Narrow ``clocks``. ``tenant`` naming a reseller includes its sub-customers' cases."""
    if dispatched_from is not None:
        clocks = clocks.filter(dispatched_at__gte=dispatched_from)
    if dispatched_before is not None:
        clocks = clocks.filter(dispatched_at__lt=dispatched_before)
    if tenant is not None:
        if tenant.kind == TenantKind.RESELLER:
            clocks = clocks.filter(tenant__in=_with_subcustomers(tenant))
        else:
            clocks = clocks.filter(tenant=tenant)
    if reseller is not None:
        clocks = clocks.filter(
            tenant__in=Tenant.objects.filter(parent=reseller, kind=TenantKind.SUBCUSTOMER)
        )
    if severity is not None:
        clocks = clocks.filter(severity=severity)
    if tier is not None:
        clocks = clocks.filter(tier=tier)
    return clocks


def _with_subcustomers(tenant: Tenant) -> QuerySet[Tenant]:
    """A reseller and its sub-customers, as a subquery (read when the report runs)."""
    return Tenant.objects.filter(Q(pk=tenant.pk) | Q(parent=tenant, kind=TenantKind.SUBCUSTOMER))


# --- the rows behind a report ---------------------------------------------------------------

CASE_ROW_COLUMNS = (
    "reference",
    "tenant",
    "severity",
    "tier",
    "dispatched",
    "due",
    "responded",
    "open_hours_minutes",
    "state",
)


def state_expression(now: datetime) -> SqlCase:
    """A clock's report bucket as SQL (the state column of the per-case export)."""
    conditions = bucket_conditions(now)
    return SqlCase(
        When(conditions["met"], then=Value("met")),
        When(conditions["missed"], then=Value("missed")),
        When(conditions["resolved_without_response"], then=Value("resolved_without_response")),
        When(Q(stopped_at__isnull=True, due_at__lt=now), then=Value("breached")),
        default=Value("running"),
        output_field=CharField(),
    )


class IsoUtc(Func):
    """An instant as ISO 8601 text in UTC with its offset (``2026-03-09T14:30:00+00:00``),
    formatted by the database: the export's rows then need no datetime objects in Python."""

    output_field = CharField()
    arity = 1

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=(
                "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"
            ),
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="strftime('%%Y-%%m-%%dT%%H:%%M:%%S+00:00', %(expressions)s)",
            **extra_context,
        )


# The first characters that make defusedcsv rewrite a text cell (spreadsheets would read the
# cell as a formula). tests/sla/test_reports.py checks this against defusedcsv itself.
FORMULA_STARTS = ("=", "+", "-", "@", "|", "%")


def _starts_like_a_formula(field: str) -> Q:
    condition = Q()
    for start in FORMULA_STARTS:
        condition |= Q(**{f"{field}__startswith": start})
    return condition


class MinutesText(Func):
    """Minutes with one decimal (half away from zero, as ``Round``) as text, formatted by the
    database: a float column would cost a Python conversion per row of the export."""

    output_field = CharField()
    arity = 1

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND(CAST(%(expressions)s AS numeric), 1) AS text)",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND(%(expressions)s, 1) AS TEXT)",
            **extra_context,
        )


def case_rows(clocks: QuerySet[ResponseClock], *, now: datetime) -> QuerySet:
    """The clocks behind a report, each annotated with the cells of its export row
    (``CASE_ROW_COLUMNS``, as ``values_list(*CASE_ROW_CELLS)``), oldest dispatch first.
    Times are ISO 8601 in UTC with their offset and minutes have one decimal, both made by
    the database; missing values are None (an empty CSV cell)."""
    return clocks.order_by("dispatched_at", "pk").annotate(
        report_state=state_expression(now),
        dispatched_text=IsoUtc("dispatched_at"),
        due_text=IsoUtc("due_at"),
        responded_text=IsoUtc("responded_at"),
        minutes=MinutesText("response_minutes"),
    )


CASE_ROW_CELLS = (
    "case__reference",
    "tenant__slug",
    "severity",
    "tier",
    "dispatched_text",
    "due_text",
    "responded_text",
    "minutes",
    "report_state",
)
# Text cells the csv module would quote (delimiter, quote, line breaks): such a row is written
# by Python, like one that starts like a formula.
_QUOTED = (",", '"', "\r", "\n")


class CsvLine(Func):
    """One CSV line (no terminator) of cells joined by commas, NULL cells empty, made by the
    database: only for cells the csv module writes as they are (no quoting)."""

    output_field = TextField()

    def __init__(self, *fields: str) -> None:
        super().__init__(*(Coalesce(Cast(field, TextField()), Value("")) for field in fields))

    template = "%(expressions)s"
    arg_joiner = " || ',' || "


def case_row_lines(
    clocks: QuerySet[ResponseClock], *, now: datetime, size: int = 5000
) -> Iterator[str]:
    """The rows of ``case_rows`` as CSV text (``\\r\\n`` line ends, no header), a
    batch of ``size`` rows per chunk, the same bytes as defusedcsv writing every row: the
    database writes each row's line where no text cell needs quoting or starts like a formula
    (every row in practice: references, slugs, ISO dates, numbers and state words), and Python
    only converts rows into lines; the few other rows are read again by id and written through
    defusedcsv. A million rows stream in flat memory (server-side cursor, one batch held)."""
    needs_python = _starts_like_a_formula("case__reference") | _starts_like_a_formula(
        "tenant__slug"
    )
    for character in _QUOTED:
        needs_python |= Q(case__reference__contains=character) | Q(tenant__slug__contains=character)
    lines = case_rows(clocks, now=now).annotate(
        line=SqlCase(When(needs_python, then=Value(None)), default=CsvLine(*CASE_ROW_CELLS))
    )
    buffer = io.StringIO()
    escaping = defused_csv.writer(buffer)
    with _tuned():
        rows = lines.values_list("line", "pk").iterator(chunk_size=size)
        while batch := list(islice(rows, size)):
            missing = [pk for line, pk in batch if line is None]
            if not missing:
                yield "\r\n".join(map(itemgetter(0), batch)) + "\r\n"
                continue
            cells = {
                row[-1]: row[:-1]
                for row in case_rows(clocks, now=now)
                .filter(pk__in=missing)
                .values_list(*CASE_ROW_CELLS, "pk")
            }
            for line, pk in batch:
                if line is None:
                    escaping.writerow(cells[pk])
                else:
                    buffer.write(line + "\r\n")
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()


# --- figures for the charts -------------------------------------------------------------------

# Response-time bands, in open-hours minutes: [low, high).
DISTRIBUTION_BANDS = (
    (0, 10, "< 10 min"),
    (10, 30, "10–30 min"),
    (30, 60, "30–60 min"),
    (60, 240, "1–4 h"),
    (240, 480, "4–8 h"),
    (480, 1440, "8–24 h"),
    (1440, None, "≥ 24 h"),
)


def response_distribution(clocks: QuerySet[ResponseClock]) -> list[tuple[str, int]]:
    """How many responded clocks fall in each band of ``DISTRIBUTION_BANDS``: one query."""
    # Any instant serves as "now": bands count responded clocks only, whose bucket is final.
    histogram = _histogram(clocks, (), now=datetime.now(tz=ZoneInfo("UTC")), minutes=True)
    if histogram is not None:
        return _bands(histogram)
    figures = {}
    for n, (low, high, _) in enumerate(DISTRIBUTION_BANDS):
        condition = Q(responded_at__isnull=False, response_minutes__gte=low)
        if high is not None:
            condition &= Q(response_minutes__lt=high)
        figures[f"band_{n}"] = Count(EVERY, filter=condition)
    with _tuned():
        counted = clocks.order_by().aggregate(**figures)
    return [(label, counted[f"band_{n}"]) for n, (_, _, label) in enumerate(DISTRIBUTION_BANDS)]


def _bands(histogram: Counted) -> list[tuple[str, int]]:
    """``response_distribution`` from a histogram of (outcome, minutes)."""
    bands = [0] * len(DISTRIBUTION_BANDS)
    for outcomes in histogram.values():
        for (outcome, minutes), n in outcomes.items():
            if outcome in _RESPONDED and minutes is not None:
                for b, (low, high, _) in enumerate(DISTRIBUTION_BANDS):
                    if minutes >= low and (high is None or minutes < high):
                        bands[b] += n
    return [(label, bands[b]) for b, (_, _, label) in enumerate(DISTRIBUTION_BANDS)]


def report_figures(
    clocks: QuerySet[ResponseClock], groupings: Sequence[tuple[str, ...]], *, now: datetime
) -> tuple[list[list[Row]], list[tuple[str, int]]]:
    """``compliance`` (with percentiles) for each of ``groupings``, and
    ``response_distribution``, over the same clocks: what a report page shows. Where the
    roll-ups answer, one statement reads the clocks and roll-up rows once for all of them
    (``_read_summaries``); otherwise each is computed on its own."""
    for by in groupings:
        unknown = [key for key in by if key not in KEYS]
        if unknown:
            raise ValueError(f"unknown report key(s): {', '.join(unknown)}")
    scope = _scope_of(clocks)
    if scope is not None and any(groupings):
        for _ in range(3):
            coverage = _coverage(scope.low, scope.high, now)
            summaries, whole = _read_summaries(scope, coverage, groupings, now=now)
            if coverage.calendars == dict(
                Calendar.objects.order_by("pk").values_list("pk", "timezone")
            ):
                rows = [
                    _rows_of_summaries(figures, by)
                    for figures, by in zip(summaries, groupings, strict=True)
                ]
                return rows, _bands(whole)
    return [compliance(clocks, by, now=now) for by in groupings], response_distribution(clocks)


def breaches_per_day(
    clocks: QuerySet[ResponseClock],
    *,
    first: date,
    last: date,
    zone: ZoneInfo,
    now: datetime,
    rollups: bool = True,
) -> list[tuple[date, int]]:
    """Breaches by the day (in ``zone``) of the instant they happened, the due time, for every
    day from ``first`` to ``last``: a breach is a clock that was not answered by its due time
    (``bucket_conditions``' breached), counted once its due time has passed. On PostgreSQL the
    stopped ones come from ``BreachRollup`` where it can answer (``_breaches_rolled``);
    ``rollups=False`` counts every one from the clocks (the tests compare the two)."""
    low = datetime.combine(first, time.min, tzinfo=zone)
    high = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    counted = _breaches_rolled(clocks, low, high, zone, now) if rollups else None
    if counted is None:
        breached = bucket_conditions(now)["breached"]
        with _tuned():
            counted = _counted_by_day(
                clocks.filter(breached, due_at__gte=low, due_at__lt=min(high, now)), zone
            )
    days = (last - first).days + 1
    return [
        (first + timedelta(days=d), counted.get(first + timedelta(days=d), 0)) for d in range(days)
    ]


def _counted_by_day(clocks: QuerySet[ResponseClock], zone: ZoneInfo) -> dict[date, int]:
    return dict(
        clocks.order_by()
        .annotate(day=TruncDate("due_at", tzinfo=zone))
        .values("day")
        .annotate(n=Count(EVERY))
        .values_list("day", "n")
    )


def open_clocks_by_tier(
    clocks: QuerySet[ResponseClock], *, now: datetime
) -> dict[int, dict[str, int]]:
    """Running clocks at risk and breached now, by tier: one query."""
    rows = (
        clocks.filter(stopped_at__isnull=True)
        .order_by()
        .values("tier")
        .annotate(
            at_risk=Count(EVERY, filter=Q(at_risk_at__lte=now, due_at__gte=now)),
            breached=Count(EVERY, filter=Q(due_at__lt=now)),
        )
    )
    with _tuned():
        return {
            row["tier"]: {"at_risk": row["at_risk"], "breached": row["breached"]} for row in rows
        }


# --- roll-ups (PostgreSQL) --------------------------------------------------------------------
#
# ``sla.models.ClockRollup`` counts stopped clocks by (calendar, month of dispatch in that
# calendar's zone, tenant, tier, severity, outcome, response minutes), kept exact by triggers.
# A report over ``clocks`` then reads, in one statement (one snapshot):
#
# * the roll-up rows of the months that lie wholly inside the period, per calendar, and of a
#   partial month at either end where most of it lies inside the period (``_plan``);
# * live, from the clocks: the running ones of the period (their bucket depends on ``now``), the
#   stopped ones dispatched in the period in a partial month not read from the roll-up, and,
#   with a minus sign, the stopped ones of a partial month read from the roll-up but dispatched
#   outside the period (for a period ending today: the rest of the current month, empty);
#
# all grouped by the report's keys, outcome and minutes, and Python adds them up per group
# (counts, and percentiles from the minutes' histogram: the same interpolation as
# ``percentile_cont``). That is only possible when ``clocks`` is narrowed by nothing but what
# the roll-up also has (tenant, tier, severity) and by dispatch bounds; anything else, and
# SQLite, is computed live over the clocks.

# Outcome codes of the live part beyond RollupOutcome: still running, past due or not.
_BREACHED_OPEN, _RUNNING = 5, 6
_RESPONDED = (RollupOutcome.MET, RollupOutcome.MISSED_RESPONDED)
_REPLAYABLE = {"tenant": ("exact", "in"), "tier": ("exact", "in"), "severity": ("exact", "in")}

Counted = dict[tuple[Any, ...], dict[tuple[int, float | None], int]]


@dataclass(frozen=True)
class _Scope:
    where: Q  # the same conditions, on the roll-up's fields
    low: datetime | None
    high: datetime | None
    fields: frozenset[str]  # the fields ``where`` narrows


def _scope_of(clocks: QuerySet[ResponseClock]) -> _Scope | None:
    """What ``clocks`` is narrowed by, if the roll-ups can answer for it: conditions ANDed on
    the clock's own tenant, tier and severity, and ``dispatched_at`` >= / < bounds."""
    if connection.vendor != "postgresql" or clocks.model is not ResponseClock:
        return None
    query = clocks.query
    if (
        query.is_empty()
        or query.combinator
        or query.distinct
        or query.annotations
        or query.extra
        or query.low_mark
        or query.high_mark is not None
    ):
        return None
    where = Q()
    fields: set[str] = set()
    bounds: dict[str, list[datetime]] = {"gte": [], "lt": []}

    def walk(node) -> bool:
        nonlocal where
        if node.negated or (node.connector != "AND" and len(node.children) > 1):
            return False
        for child in node.children:
            if hasattr(child, "children"):
                if not walk(child):
                    return False
                continue
            lhs = getattr(child, "lhs", None)
            target = getattr(lhs, "target", None)
            if target is None or getattr(lhs, "alias", None) != query.base_table:
                return False
            if target.model is not ResponseClock:
                return False
            name, lookup = target.name, child.lookup_name
            if name == "dispatched_at" and lookup in bounds:
                if not isinstance(child.rhs, datetime) or child.rhs.tzinfo is None:
                    return False
                bounds[lookup].append(child.rhs)
            elif lookup in _REPLAYABLE.get(name, ()):
                where &= Q(**{f"{name}__{lookup}": child.rhs})
                fields.add(name)
            else:
                return False
        return True

    if not walk(query.where):
        return None
    return _Scope(
        where=where,
        low=max(bounds["gte"]) if bounds["gte"] else None,
        high=min(bounds["lt"]) if bounds["lt"] else None,
        fields=frozenset(fields),
    )


@lru_cache(maxsize=4096)
def _month_start(zone: str, year: int, month: int) -> datetime | None:
    """The first instant whose month in ``zone`` (as PostgreSQL reads it, the way the roll-up
    was bucketed) is ``year-month``, or None when the month does not start cleanly there: the
    instants of the 26 hours either side must be before it exactly when their month is earlier
    (checked minute by minute: a zone falling back across midnight of the 1st would put
    instants of the previous month after it). Then the clocks of whole months are exactly those
    dispatched between two starts."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH s AS (SELECT make_timestamp(%s, %s, 1, 0, 0, 0) AT TIME ZONE %s AS start)
            SELECT start, bool_and((to_char(t AT TIME ZONE %s, 'YYYY-MM') >= %s) = (t >= start))
            FROM s, generate_series(start - interval '26 hours', start + interval '26 hours',
                                    interval '1 minute') AS t
            GROUP BY start
            """,
            [year, month, zone, zone, f"{year:04d}-{month:02d}"],
        )
        start, clean = cursor.fetchone()
    return start if clean else None


def _months_from(year: int, month: int, step: int) -> Iterator[tuple[int, int]]:
    while True:
        yield year, month
        month += step
        if month == 13:
            year, month = year + 1, 1
        elif month == 0:
            year, month = year - 1, 12


Start = tuple[str, datetime]  # a month's label ('YYYY-MM') and its first instant


def _start_from(zone: str, instant: datetime) -> Start | None:
    """The first clean month start (``_month_start``) at or after ``instant``, within three
    months; None when there is none."""
    local = instant.astimezone(ZoneInfo(zone))
    for year, month in islice(_months_from(local.year, local.month, 1), 3):
        start = _month_start(zone, year, month)
        if start is not None and start >= instant:
            return f"{year:04d}-{month:02d}", start
    return None


def _start_until(zone: str, instant: datetime) -> Start | None:
    """The last clean month start at or before ``instant``, within four months; None when
    there is none."""
    local = instant.astimezone(ZoneInfo(zone))
    following = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    for year, month in islice(_months_from(*following, -1), 4):
        start = _month_start(zone, year, month)
        if start is not None and start <= instant:
            return f"{year:04d}-{month:02d}", start
    return None


def _span(low: datetime, high: datetime, now: datetime) -> timedelta:
    """How much of [low, high) lies before ``now``: where clocks have been dispatched, so a
    rough measure of what counting them live reads (clocks are not dispatched ahead of time;
    if some were, the figures would still be exact, only slower)."""
    return max(min(high, now) - min(low, now), timedelta(0))


@dataclass(frozen=True)
class _Plan:
    """How one calendar's stopped clocks of a period are counted: the roll-up months
    [first, after) (None: unbounded), plus the clocks dispatched in the ``add`` ranges, less
    those dispatched in the ``subtract`` ranges (both counted live)."""

    first: str | None
    after: str | None
    add: tuple[tuple[datetime, datetime], ...] = ()
    subtract: tuple[tuple[datetime, datetime], ...] = ()


def _plan(zone: str, low: datetime | None, high: datetime | None, now: datetime) -> _Plan | None:
    """The cheapest exact plan for the stopped clocks dispatched in [low, high) on a calendar
    of ``zone``; None to count them all live.

    The clocks of the roll-up months from one clean start to another are exactly the clocks
    dispatched between the two instants (``_month_start``). A partial month at either end of
    the period is either counted live (its part inside the period) or read whole from the
    roll-up less its part outside the period counted live, whichever part has had more time
    to receive clocks: the current month of a period ending today is then the month's roll-up
    less nothing (its rest is in the future) rather than weeks of clocks."""
    first = _start_from(zone, low) if low is not None else None
    after = _start_until(zone, high) if high is not None else None
    if (low is not None and first is None) or (high is not None and after is None):
        return None
    if (
        low is not None
        and high is not None
        and first is not None
        and after is not None
        and first[0] > after[0]
    ):
        # [low, high) lies between two consecutive clean starts (after <= low: else ``first``
        # would be at most ``after``; high <= first likewise): within one month.
        outside = _span(after[1], low, now) + _span(high, first[1], now)
        if outside < _span(low, high, now):
            return _Plan(after[0], first[0], (), ((after[1], low), (high, first[1])))
        return None
    add: list[tuple[datetime, datetime]] = []
    subtract: list[tuple[datetime, datetime]] = []
    if low is not None and first is not None and first[1] > low:
        previous = _start_until(zone, low)
        if previous is not None and _span(previous[1], low, now) < _span(low, first[1], now):
            subtract.append((previous[1], low))
            first = previous
        else:
            add.append((low, first[1]))
    if high is not None and after is not None and after[1] < high:
        following = _start_from(zone, high)
        if following is not None and _span(high, following[1], now) < _span(after[1], high, now):
            subtract.append((high, following[1]))
            after = following
        else:
            add.append((after[1], high))
    return _Plan(
        None if first is None else first[0],
        None if after is None else after[0],
        tuple(add),
        tuple(subtract),
    )


@dataclass(frozen=True)
class _Coverage:
    rolled: Q  # roll-up rows read
    live: Q  # stopped clocks of the period counted live (on top of the running ones)
    subtract: Q | None  # stopped clocks outside the period counted live with a minus sign
    in_period: Q
    calendars: dict[int, str]  # the calendars and zones it was worked out for


def _coverage(low: datetime | None, high: datetime | None, now: datetime) -> _Coverage:
    """Which roll-up rows a period [low, high) reads, and which stopped clocks are counted live
    instead, or against them (``_plan``), per calendar."""
    calendars = dict(Calendar.objects.order_by("pk").values_list("pk", "timezone"))
    rolled, live = Q(pk__in=[]), Q(pk__in=[])
    subtract: Q | None = None
    in_period = Q()
    if low is not None:
        in_period &= Q(dispatched_at__gte=low)
    if high is not None:
        in_period &= Q(dispatched_at__lt=high)
    for pk, zone in calendars.items():
        plan = _plan(zone, low, high, now) if low or high else _Plan(None, None)
        if plan is None:
            live |= Q(calendar_id=pk) & in_period
            continue
        rolled_here = Q(calendar_id=pk)
        if plan.first is not None:
            rolled_here &= Q(month__gte=plan.first)
        if plan.after is not None:
            rolled_here &= Q(month__lt=plan.after)
        rolled |= rolled_here
        for start, end in plan.add:
            live |= Q(calendar_id=pk, dispatched_at__gte=start, dispatched_at__lt=end)
        for start, end in plan.subtract:
            outside = Q(calendar_id=pk, dispatched_at__gte=start, dispatched_at__lt=end)
            subtract = outside if subtract is None else subtract | outside
    # A calendar created after the list was read: its clocks all live.
    live |= Q(calendar_id__gt=max(calendars, default=0)) & in_period
    return _Coverage(rolled, live, subtract, in_period, calendars)


def _outcome(now: datetime) -> SqlCase:
    responded = Q(responded_at__isnull=False)
    return SqlCase(
        When(responded & Q(responded_at__lte=F("due_at")), then=Value(RollupOutcome.MET)),
        When(responded, then=Value(RollupOutcome.MISSED_RESPONDED)),
        When(
            Q(stopped_at__isnull=False, stopped_at__gt=F("due_at")),
            then=Value(RollupOutcome.MISSED_UNANSWERED),
        ),
        When(Q(stopped_at__isnull=False), then=Value(RollupOutcome.RESOLVED_WITHOUT_RESPONSE)),
        When(Q(due_at__lt=now), then=Value(_BREACHED_OPEN)),
        default=Value(_RUNNING),
    )


def _histogram(
    clocks: QuerySet[ResponseClock], by: Sequence[str], *, now: datetime, minutes: bool
) -> Counted | None:
    """Per group of ``by``: how many clocks of ``clocks`` have each (outcome, minutes), from
    the roll-ups and the live remainder in one statement; None when the roll-ups cannot answer
    (then the caller computes live)."""
    scope = _scope_of(clocks)
    if scope is None:
        return None
    for _ in range(3):
        coverage = _coverage(scope.low, scope.high, now)
        counted = _read(scope, coverage, by, now=now, minutes=minutes)
        # The split was worked out for these calendars and zones: if one changed meanwhile,
        # the statement may have seen the change, so work it out again.
        if coverage.calendars == dict(
            Calendar.objects.order_by("pk").values_list("pk", "timezone")
        ):
            return counted
    return None


def _union(
    scope: _Scope,
    coverage: _Coverage,
    by: Sequence[str],
    *,
    now: datetime,
    minutes: bool,
    summed: bool = True,
) -> QuerySet:
    """The statement of ``_read``: rows of (keys of ``by``..., outcome, minutes, n).
    ``summed=False`` leaves the roll-up's rows as they are (a statement that sums the union
    again needs no sum inside it: at a fine grouping they are nearly one row per group).
    The tenant key is the tenant's id, not its slug (``_slugs`` maps them): joining the
    tenants to every roll-up row and running clock cost more than the rest of the read."""
    keys = {**_key_expressions(), "tenant": F("tenant_id")}
    names = [f"key_{key}" for key in by]
    no_minutes = Value(None, output_field=FloatField())
    from_rollup = (
        ClockRollup.objects.filter(scope.where, coverage.rolled)
        .order_by()
        .annotate(
            **{f"key_{key}": F("month") if key == "month" else keys[key] for key in by},
            code=F("outcome"),
            mins=F("response_minutes") if minutes else no_minutes,
        )
    )
    if summed:
        from_rollup = from_rollup.values(*names, "code", "mins").annotate(n=Sum("n"))
    else:
        from_rollup = from_rollup.annotate(clocks=F("n")).values(*names, "code", "mins", "clocks")
    # The running clocks of the period, from the partial index alone (a running clock has no
    # response and no minutes: constraints sla_clock_response_stops_it and
    # sla_clock_minutes_with_response).
    running = (
        ResponseClock.objects.filter(scope.where, coverage.in_period, stopped_at=None)
        .order_by()
        .annotate(
            **{f"key_{key}": keys[key] for key in by},
            code=SqlCase(When(due_at__lt=now, then=Value(_BREACHED_OPEN)), default=Value(_RUNNING)),
            mins=no_minutes,
        )
        .values(*names, "code", "mins")
        .annotate(n=Count(EVERY))
    )
    # Stopped clocks counted live: the ones of ``clocks`` (scope.where, dispatched in the
    # period) in partial months not read from the roll-up, and the ones subtracted, which lie
    # outside the period: so this starts from scope.where alone.
    stopped = coverage.in_period & coverage.live
    if coverage.subtract is not None:
        stopped |= coverage.subtract
        n: Aggregate = Sum(SqlCase(When(coverage.subtract, then=Value(-1)), default=Value(1)))
    else:
        n = Count(EVERY)
    from_clocks = (
        ResponseClock.objects.filter(scope.where, stopped, stopped_at__isnull=False)
        .order_by()
        .annotate(
            **{f"key_{key}": keys[key] for key in by},
            code=_outcome(now),
            mins=F("response_minutes") if minutes else no_minutes,
        )
        .values(*names, "code", "mins")
        .annotate(n=n)
    )
    return from_rollup.union(running, from_clocks, all=True).values_list(
        *names, "code", "mins", "n"
    )


def _read(
    scope: _Scope,
    coverage: _Coverage,
    by: Sequence[str],
    *,
    now: datetime,
    minutes: bool,
) -> Counted:
    counted: Counted = {}
    with _tuned():
        for row in _union(scope, coverage, by, now=now, minutes=minutes):
            group = counted.setdefault(tuple(row[: len(by)]), {})
            key = (row[len(by)], row[len(by) + 1])
            group[key] = group.get(key, 0) + row[-1]
    if "tenant" not in by:
        return counted
    at = by.index("tenant")
    slugs = _slugs(group[at] for group in counted)
    return {
        # (An organisation deleted since the figures were read shows by its id, not a 500.)
        (*group[:at], slugs.get(group[at], str(group[at])), *group[at + 1 :]): outcomes
        for group, outcomes in counted.items()
    }


def _slugs(ids: Iterable[int]) -> dict[int, str]:
    """The slugs of the tenants of these ids (the roll-up reads key tenants by id). A tenant's
    slug is unique, so the groups stay the same; one small query for the page's tenants."""
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(Tenant.objects.filter(pk__in=wanted).values_list("pk", "slug"))


@dataclass
class _Summary:
    """One group's figures as ``_read_summaries`` returns them: clocks per outcome code, and
    the responded clocks' count with the minutes at the ranks each percentile interpolates
    between (``_histogram_percentile``'s ranks, found by PostgreSQL)."""

    by_code: dict[int, int]
    responded: int = 0
    ranks: dict[float, tuple[float, float]] = field(default_factory=dict)


_FRACTIONS = (0.5, 0.9)


def _read_summaries(
    scope: _Scope,
    coverage: _Coverage,
    groupings: Sequence[tuple[str, ...]],
    *,
    now: datetime,
) -> tuple[list[dict[tuple[Any, ...], _Summary]], Counted]:
    """Per grouping of ``groupings`` (at least one key among them), per group, its
    ``_Summary``, and the histogram of the whole (for the distribution), in one statement:
    the union of ``_union`` at the finest grouping, read once, summed per grouping by
    GROUPING SETS; the minutes' histograms stay in PostgreSQL, which finds for each group the
    minutes at the ranks of the median and the 90th percentile (a running sum over the
    histogram): a page gets a few hundred rows instead of every group's histogram."""
    finest = [key for key in KEYS if any(key in by for by in groupings)]
    union = _union(scope, coverage, finest, now=now, minutes=True, summed=False)
    sql, params = union.query.get_compiler(using=union.db).as_sql()
    keys = ", ".join(f"k{i}" for i in range(len(finest)))
    # GROUPING(k0, k1, ...) has a bit set for each column a row's set leaves out, k0 highest.
    masks = {
        tuple(by): sum(1 << (len(finest) - 1 - i) for i, key in enumerate(finest) if key not in by)
        for by in [*groupings, ()]
    }
    one_per_mask = {mask: by for by, mask in masks.items()}  # a set once, whatever its order
    sets = ", ".join(
        "(" + ", ".join([*(f"k{finest.index(key)}" for key in by), "code", "mins"]) + ")"
        for by in one_per_mask.values()
    )
    # The value at rank r (from 0) is the least minutes whose running count exceeds r; the
    # ranks are floor and ceil of fraction × (count - 1) in float8, as Python computes them.
    ranks = ", ".join(
        f"min(mins) FILTER (WHERE cum > {rounding}({fraction!r}::float8 * (total - 1)))"
        for fraction in _FRACTIONS
        for rounding in ("floor", "ceil")
    )
    nulls = ", ".join("NULL::float8" for _ in range(2 * len(_FRACTIONS) - 1))
    # Counts are summed as float8 (exact for integers below 2**53) rather than as numeric,
    # which PostgreSQL uses for sum(bigint) and which took a fifth of the statement's time.
    # The percentiles' running sums run over ``g`` itself: for a group, the rows with minutes
    # are its responded clocks (a clock has minutes exactly when it has a response, constraint
    # sla_clock_minutes_with_response) by outcome and minutes; a running sum ordered by
    # minutes counts a value's rows together (peers), so the two outcomes at one value need no
    # merging first, and a row that sums to zero never holds the least value past a rank.
    statement = f"""
        WITH u ({keys}, code, mins, n) AS ({sql}),
        g AS (
            SELECT GROUPING({keys}) AS gm, {keys}, code, mins, sum(n::float8) AS n
            FROM u GROUP BY GROUPING SETS ({sets})
        ),
        c AS (
            SELECT gm, {keys}, mins,
                   sum(n) OVER (PARTITION BY gm, {keys} ORDER BY mins) AS cum,
                   sum(n) OVER (PARTITION BY gm, {keys}) AS total
            FROM g
            WHERE code IN ({RollupOutcome.MET}, {RollupOutcome.MISSED_RESPONDED})
              AND mins IS NOT NULL
        )
        SELECT 0, gm, {keys}, code, sum(n)::bigint, {nulls}, NULL::float8
        FROM g GROUP BY gm, {keys}, code HAVING sum(n) <> 0
        UNION ALL
        SELECT 1, gm, {keys}, NULL, max(total)::bigint, {ranks}
        FROM c GROUP BY gm, {keys} HAVING max(total) <> 0
        UNION ALL
        SELECT 2, gm, {keys}, code, n::bigint, mins, {nulls}
        FROM g
        WHERE gm = {masks[()]} AND code IN ({RollupOutcome.MET}, {RollupOutcome.MISSED_RESPONDED})
          AND mins IS NOT NULL AND n <> 0
    """  # noqa: S608 (names and numbers made here, the union's SQL made by Django: no input)
    summaries: dict[tuple[str, ...], dict[tuple[Any, ...], _Summary]] = {by: {} for by in masks}
    routes: dict[int, list[tuple[str, ...]]] = {}
    for by, mask in masks.items():
        routes.setdefault(mask, []).append(by)
    whole: Counted = {(): {}}
    tenant = finest.index("tenant") if "tenant" in finest else None
    with _tuned(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        read = cursor.fetchall()
    slugs = (
        _slugs(row[2 + tenant] for row in read if row[2 + tenant] is not None)
        if tenant is not None
        else {}
    )
    for kind, mask, *row in read:
        values = row[: len(finest)]
        if tenant is not None and values[tenant] is not None:
            values[tenant] = slugs.get(values[tenant], str(values[tenant]))
        code, n, *at = row[len(finest) :]
        if kind == 2:
            whole[()][(code, at[0])] = n
            continue
        for by in routes[mask]:
            group = tuple(values[finest.index(key)] for key in by)
            summary = summaries[by].setdefault(group, _Summary({}))
            if kind == 0:
                summary.by_code[code] = n
            else:
                summary.responded = n
                summary.ranks = {
                    fraction: (at[2 * f], at[2 * f + 1]) for f, fraction in enumerate(_FRACTIONS)
                }
    return [summaries[tuple(by)] for by in groupings], whole


def _rows_of_summaries(summaries: dict[tuple[Any, ...], _Summary], by: Sequence[str]) -> list[Row]:
    """``_rows_of`` from ``_read_summaries``' figures: the same rows."""
    counted: Counted = {
        group: {(code, None): n for code, n in summary.by_code.items()}
        for group, summary in summaries.items()
    }
    rows = _rows_of(counted, by, percentiles=False)
    percentiles = {}
    for group, summary in summaries.items():
        if summary.responded:
            position = {fraction: fraction * (summary.responded - 1) for fraction in _FRACTIONS}
            percentiles[group] = [
                low + (high - low) * (position[fraction] - math.floor(position[fraction]))
                for fraction, (low, high) in summary.ranks.items()
            ]
    result = []
    for row in rows:
        median, p90 = percentiles.get(tuple(row.keys[key] for key in by), (None, None))
        result.append(replace(row, median_minutes=median, p90_minutes=p90))
    return result


def _rows_of(counted: Counted, by: Sequence[str], *, percentiles: bool) -> list[Row]:
    rows = []
    for group, outcomes in counted.items():
        by_code: dict[int, int] = {}
        histogram: dict[float, int] = {}
        for (code, value), n in outcomes.items():
            if not n:
                continue
            by_code[code] = by_code.get(code, 0) + n
            if code in _RESPONDED and value is not None:
                histogram[value] = histogram.get(value, 0) + n
        if not by_code and by:
            continue  # only emptied roll-up rows
        ordered = sorted(histogram.items())
        rows.append(
            Row(
                keys=dict(zip(by, group, strict=True)),
                dispatched=sum(by_code.values()),
                met=by_code.get(RollupOutcome.MET, 0),
                missed=by_code.get(RollupOutcome.MISSED_RESPONDED, 0)
                + by_code.get(RollupOutcome.MISSED_UNANSWERED, 0),
                breached=by_code.get(RollupOutcome.MISSED_RESPONDED, 0)
                + by_code.get(RollupOutcome.MISSED_UNANSWERED, 0)
                + by_code.get(_BREACHED_OPEN, 0),
                resolved_without_response=by_code.get(RollupOutcome.RESOLVED_WITHOUT_RESPONSE, 0),
                running=by_code.get(_RUNNING, 0),
                responded=by_code.get(RollupOutcome.MET, 0)
                + by_code.get(RollupOutcome.MISSED_RESPONDED, 0),
                median_minutes=_histogram_percentile(ordered, 0.5) if percentiles else None,
                p90_minutes=_histogram_percentile(ordered, 0.9) if percentiles else None,
            )
        )
    if not by:
        return rows or [_row({}, dict.fromkeys(_COUNTS, 0))]
    rows.sort(key=lambda row: tuple(_sortable(row.keys[key]) for key in by))
    return rows


_COUNTS = (
    "dispatched",
    "met",
    "missed",
    "breached",
    "resolved_without_response",
    "running",
    "responded",
)


def _histogram_percentile(ordered: list[tuple[float, int]], fraction: float) -> float | None:
    """``percentile_cont`` over values given as sorted (value, count) pairs: the same ranks
    and the same interpolation as ``percentile_cont`` on the values one by one."""
    total = sum(n for _, n in ordered)
    if not total:
        return None
    position = fraction * (total - 1)
    low, high = math.floor(position), math.ceil(position)
    at_low = at_high = None
    seen = 0
    for value, n in ordered:
        seen += n
        if at_low is None and low < seen:
            at_low = value
        if high < seen:
            at_high = value
            break
    assert at_low is not None and at_high is not None
    return at_low + (at_high - at_low) * (position - low)


# --- breaches per day from the roll-up (PostgreSQL) -------------------------------------------
#
# ``sla.models.BreachRollup`` counts stopped, missed clocks by (UTC hour of due time, tenant,
# tier). Breaches per day over [low, high) in a zone then read, in one statement:
#
# * the roll-up's hours from ``low`` to the last whole hour before ``now`` (or ``high``), each
#   added to the day of ``zone`` it lies in (only when every one of those hours lies within one
#   day of the zone: not for zones with half-hour offsets, then everything is live);
# * live, from the clocks: the running ones past due, and the stopped missed ones due in the
#   hour that has not ended yet;
# * live, subtracted: when ``clocks`` is narrowed to a dispatch period starting at or before
#   ``low``, the missed clocks dispatched before it and due in the hours read (the roll-up
#   does not know dispatch times), found by the partial GiST index ``sla_clock_missed_span``
#   over each missed clock's span from dispatch to due: the few spanning that instant.


class _Spans(Func):
    """``_Spans(start, end, instant)``: whether [start, end] contains the instant, written as
    the expression of the index ``sla_clock_missed_span`` so that PostgreSQL finds the few
    missed clocks spanning an instant by it."""

    output_field = BooleanField()
    arity = 3

    def as_sql(self, compiler, connection, function=None, template=None, arg_joiner=None, **extra):
        (start, first), (end, second), (instant, third) = (
            compiler.compile(expression) for expression in self.source_expressions
        )
        return f"tstzrange({start}, {end}, '[]') @> {instant}", (*first, *second, *third)


class _HourOf(Func):
    """The UTC hour an instant lies in, by arithmetic (``date_bin``), with no time zone to
    look up per row."""

    output_field = DateTimeField()
    arity = 1
    template = "date_bin('1 hour', %(expressions)s, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def _whole_utc_hour(instant: datetime) -> bool:
    utc = instant.astimezone(ZoneInfo("UTC"))
    return (utc.minute, utc.second, utc.microsecond) == (0, 0, 0)


@lru_cache(maxsize=4096)
def _hours_within_days(zone: str, year: int, month: int) -> bool:
    """Whether each UTC hour of that UTC month (and the hour after it) lies within one day of
    ``zone``, as PostgreSQL reads the zone: its local time at the hour's start is a whole hour,
    and its date is the same at the hour's last microsecond. Then a day of the zone is a whole
    number of UTC hours."""
    start = datetime(year, month, 1, tzinfo=ZoneInfo("UTC"))
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=ZoneInfo("UTC"))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT bool_and(to_char(h AT TIME ZONE %s, 'MI:SS.US') = '00:00.000000'
                            AND (h AT TIME ZONE %s)::date
                                = ((h + interval '1 hour' - interval '1 microsecond')
                                   AT TIME ZONE %s)::date)
            FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 hour') AS h
            """,
            [zone, zone, zone, start, end],
        )
        (clean,) = cursor.fetchone()
    return bool(clean)


def _utc_months(low: datetime, high: datetime) -> Iterator[tuple[int, int]]:
    """The UTC months that [low, high) touches."""
    utc = ZoneInfo("UTC")
    first = low.astimezone(utc)
    last = (high - timedelta(microseconds=1)).astimezone(utc)
    for year, month in _months_from(first.year, first.month, 1):
        if (year, month) > (last.year, last.month):
            return
        yield year, month


def _breaches_rolled(
    clocks: QuerySet[ResponseClock], low: datetime, high: datetime, zone: ZoneInfo, now: datetime
) -> dict[date, int] | None:
    """Breaches per day of ``zone`` over [low, high) (both local midnights) among ``clocks``,
    stopped ones from the roll-up; None when it cannot answer (then the caller counts live)."""
    scope = _scope_of(clocks)
    if scope is None or not scope.fields <= {"tenant", "tier"}:
        return None
    end = min(high, now)
    cut = min(high, now.astimezone(ZoneInfo("UTC")).replace(minute=0, second=0, microsecond=0))
    if cut <= low or not (_whole_utc_hour(low) and _whole_utc_hour(high)):
        return None
    # Clocks dispatched at or after the period's end fall due after it: the hours read must
    # end by then. Those dispatched before its start are subtracted below, when it starts by
    # ``low`` (a later start leaves hours that only such clocks fill: live is cheaper).
    if (scope.high is not None and cut > scope.high) or (scope.low is not None and scope.low > low):
        return None
    if not all(_hours_within_days(zone.key, *month) for month in _utc_months(low, cut)):
        return None
    dispatched = Q()
    if scope.low is not None:
        dispatched &= Q(dispatched_at__gte=scope.low)
    if scope.high is not None:
        dispatched &= Q(dispatched_at__lt=scope.high)
    missed = bucket_conditions(now)["missed"]
    clocks_of_scope = ResponseClock.objects.filter(scope.where).order_by()

    # Each part counts by UTC hour (arithmetic on the instant), and the statement turns only
    # those hours into days of the zone: converting every roll-up row and running clock to a
    # day of a named zone took most of the statement's time. Exact because every hour from
    # ``low`` to ``cut``'s hour lies within one day there (checked above): an instant's day is
    # its hour's day.
    def by_day(queryset: QuerySet, field: str, n: Any) -> QuerySet:
        return queryset.annotate(bin=_HourOf(field)).values("bin").annotate(n=n)

    parts = [
        by_day(
            BreachRollup.objects.filter(scope.where, hour__gte=low, hour__lt=cut).order_by(),
            "hour",
            Sum("n"),
        ),
        # Stopped late in the hour not yet over, and running past due.
        by_day(
            clocks_of_scope.filter(dispatched, missed, due_at__gte=cut, due_at__lt=end),
            "due_at",
            Count(EVERY),
        ),
        by_day(
            clocks_of_scope.filter(dispatched, stopped_at=None, due_at__gte=low, due_at__lt=end),
            "due_at",
            Count(EVERY),
        ),
    ]
    if scope.low is not None:
        parts.append(
            by_day(
                clocks_of_scope.filter(
                    _Spans(F("dispatched_at"), F("due_at"), Value(scope.low)),
                    missed,
                    stopped_at__gt=F("due_at"),  # the index's condition (implied by missed)
                    dispatched_at__lt=scope.low,
                    due_at__gte=low,
                    due_at__lt=cut,
                ),
                "due_at",
                Count(EVERY) * Value(-1),
            )
        )
    union = parts[0].union(*parts[1:], all=True)
    sql, params = union.query.get_compiler(using=union.db).as_sql()
    statement = f"SELECT (h AT TIME ZONE %s)::date, sum(n) FROM ({sql}) AS x (h, n) GROUP BY 1"  # noqa: S608 (Django's SQL, parameters apart)
    counted: dict[date, int] = {}
    with _tuned(), connection.cursor() as cursor:
        cursor.execute(statement, [zone.key, *params])
        for day, n in cursor:
            counted[day] = counted.get(day, 0) + int(n)
    return counted
