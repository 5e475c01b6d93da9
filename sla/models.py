"""SLA data (SPEC §5): support-hours calendars, plans and their targets, and the response clocks
running on cases. The arithmetic lives in ``sla.clock``; writes go through ``sla.services``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models
from django.db.models import F, Q
from django.utils import timezone

from helpdesk.models import Severity, Tier
from sla import clock
from tenants.models import validate_timezone

MIDNIGHT = time(0)


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


# Built ``sla.clock.Calendar`` values by (calendar id, updated_at). Building one costs two queries;
# the expensive part (the compiled open intervals) is already shared by ``sla.clock`` between
# equal calendar values. ``updated_at`` moves whenever the admin or ``Calendar.touch`` saves, so an
# edited calendar is rebuilt on next use in every process without any cross-process message.
_BUILT: dict[tuple[int, datetime], clock.Calendar] = {}


def clear_calendar_cache() -> None:
    """Forget built calendars (tests, where ids and pinned clocks repeat across rollbacks)."""
    _BUILT.clear()


class Calendar(models.Model):
    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(
        max_length=64,
        default="America/New_York",
        validators=[validate_timezone],
        help_text="Opening hours and closed dates are wall-clock times in this zone.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        before = self.updated_at
        super().save(*args, **kwargs)
        if before is not None and self.updated_at <= before:  # a clock standing still
            self.updated_at = before
            self.touch()  # later than before, so the cache key changes

    def clean(self) -> None:
        super().clean()
        # On PostgreSQL the reports' roll-up buckets stopped clocks by month in this zone, in
        # the database (sla 0008): a zone Python knows and the server's tz data does not would
        # make every answer or resolution on these cases fail.
        if connection.vendor == "postgresql" and self.timezone:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_timezone_names WHERE name = %s", [self.timezone])
                if cursor.fetchone() is None:
                    raise ValidationError(
                        {
                            "timezone": f"“{self.timezone}” is not known to the database's "
                            "time-zone data; choose its older name or update the server's."
                        }
                    )

    def touch(self) -> None:
        """Mark the calendar changed, so every process rebuilds it. Saving or deleting its
        opening hours or closed dates does this by itself (see ``CalendarRowQuerySet``).

        The new ``updated_at`` is always later than the old one, even when the clock stands
        still (a frozen test clock), so the cache key always changes."""
        now = timezone.now()
        if self.updated_at is not None and now <= self.updated_at:
            now = self.updated_at + timedelta(microseconds=1)
        Calendar.objects.filter(pk=self.pk).update(updated_at=now)
        self.updated_at = now

    def as_clock(self) -> clock.Calendar:
        """This calendar as the pure ``sla.clock.Calendar`` the arithmetic takes."""
        key = (self.pk, self.updated_at)
        built = _BUILT.get(key)
        if built is None:
            weekly: dict[int, list[tuple[time, time | None]]] = {}
            for hours in self.opening_hours.all():
                weekly.setdefault(hours.weekday, []).append((hours.start, hours.end))
            closed = frozenset(closed.date for closed in self.closed_dates.all())
            built = clock.Calendar(self.timezone, weekly, closed)
            if len(_BUILT) >= 256:  # edited calendars leave old keys behind: stay bounded
                _BUILT.clear()
            _BUILT[key] = built
        return built


def touch_calendars(calendar_ids: Iterable[int]) -> None:
    for calendar in Calendar.objects.filter(pk__in=set(calendar_ids)):
        calendar.touch()


class CalendarRowQuerySet(models.QuerySet):
    """Opening hours and closed dates change their calendar: every way of writing them in bulk
    touches it, so code editing rows cannot forget to refresh the cached calendar."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        created = super().bulk_create(objs, *args, **kwargs)
        touch_calendars(obj.calendar_id for obj in objs)
        return created

    def bulk_update(self, objs, *args, **kwargs):
        objs = list(objs)
        updated = super().bulk_update(objs, *args, **kwargs)
        touch_calendars(obj.calendar_id for obj in objs)
        return updated

    def update(self, **kwargs) -> int:
        calendar_ids = set(self.values_list("calendar", flat=True))
        updated = super().update(**kwargs)
        touch_calendars(calendar_ids | ({kwargs["calendar"].pk} if "calendar" in kwargs else set()))
        return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        calendar_ids = set(self.values_list("calendar", flat=True))
        deleted = super().delete()
        touch_calendars(calendar_ids)
        return deleted


class CalendarRow(models.Model):
    """A row of a calendar (its opening hours, its closed dates): saving or deleting one
    touches the calendar, so every process rebuilds it on next use."""

    calendar: models.ForeignKey[Calendar, Calendar]
    calendar_id: int

    objects = CalendarRowQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        old_calendar_id = None
        if self.pk is not None:
            # The concrete model's rows (the type checker only knows this abstract base).
            rows: models.QuerySet[Any] = type(self).objects.filter(pk=self.pk)
            old_calendar_id = rows.values_list("calendar", flat=True).first()
        super().save(*args, **kwargs)
        self.calendar.touch()
        if old_calendar_id not in (None, self.calendar_id):  # moved to another calendar
            touch_calendars([old_calendar_id])

    def delete(self, *args, **kwargs):
        deleted = super().delete(*args, **kwargs)
        self.calendar.touch()
        return deleted


def check_opening_hours(hours: Iterable[tuple[int, time, time]]) -> None:
    """Refuse overlapping opening hours (weekday, start, end; an end of 00:00 is midnight).

    The clock would merge them silently; a typo is likelier than intent. The admin's inline and
    the seeds (``sla.defaults``) both check a calendar's hours here."""
    ranges: dict[int, list[tuple[time, time | None]]] = {}
    for weekday, opens, closes in hours:
        ranges.setdefault(weekday, []).append((opens, None if closes == MIDNIGHT else closes))
    for weekday, spans in sorted(ranges.items()):
        spans.sort(key=lambda span: span[0])
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            if end is None or start < end:
                day = Weekday(weekday).label
                raise ValidationError(
                    f"Opening hours on {day} overlap; merge them into one.", code="overlap"
                )


class OpeningHours(CalendarRow):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField(help_text="Opens at (local time, included).")
    end = models.TimeField(help_text="Closes at (local time, excluded); 00:00 means midnight.")

    class Meta:
        verbose_name = "opening hours"
        verbose_name_plural = "opening hours"
        ordering = ["weekday", "start"]
        constraints = [
            models.CheckConstraint(
                name="sla_hours_weekday_0_to_6", condition=Q(weekday__gte=0, weekday__lte=6)
            ),
            models.CheckConstraint(
                name="sla_hours_end_after_start",
                condition=Q(end__gt=F("start")) | Q(end=MIDNIGHT),
                violation_error_message="Closing time must be after opening time.",
            ),
        ]

    def __str__(self) -> str:
        end = "24:00" if self.end == MIDNIGHT else f"{self.end:%H:%M}"
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{end}"

    def clean(self) -> None:
        super().clean()
        start, end = self.start, self.end
        if start is not None and end is not None and end != MIDNIGHT and end <= start:
            raise ValidationError(
                {"end": "Closing time must be after opening time (00:00 means midnight)."}
            )


class ClosedDate(CalendarRow):
    calendar = models.ForeignKey(Calendar, on_delete=models.CASCADE, related_name="closed_dates")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True, help_text="e.g. Independence Day")

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date"],
                name="sla_closed_date_once",
                violation_error_message="This date is already closed.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class Plan(models.Model):
    name = models.CharField(max_length=100, unique=True)
    at_risk_share = models.DecimalField(
        "at-risk share",
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.75"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1"))],
        help_text="A case is at risk once this share of its response budget is used (0.75 = 75%).",
    )
    is_default = models.BooleanField(
        "default plan",
        default=False,
        help_text="Applies to every tenant that names no plan. Exactly one plan is the default.",
    )

    class Meta:
        ordering = ["-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="sla_plan_one_default",
                violation_error_message="Another plan is already the default; use the "
                "“Make default” action instead.",
            ),
            models.CheckConstraint(
                name="sla_plan_share_in_range",
                condition=Q(at_risk_share__gt=0, at_risk_share__lte=1),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        # Some plan must always be the default: cases of tenants without a plan need one.
        if self.pk and not self.is_default:
            was_default = Plan.objects.filter(pk=self.pk, is_default=True).exists()
            if was_default:
                raise ValidationError(
                    {
                        "is_default": "Some plan must be the default: make another plan the "
                        "default (the “Make default” action) instead of unticking this one."
                    }
                )


def check_plan_targets(severities: Iterable[int]) -> None:
    """A plan names a target for every severity, exactly once: every case needs one. The
    admin's inline and the seeds (``sla.defaults``) both check a plan's targets here."""
    severities = list(severities)
    missing = [Severity(s).label for s in Severity.values if s not in severities]
    if missing:
        raise ValidationError(
            f"Give a target for every severity; missing: {', '.join(missing)}.", code="missing"
        )
    if len(severities) != len(set(severities)):
        raise ValidationError("Give each severity one target only.", code="duplicate")


class Unit(models.TextChoices):
    MINUTES = "minutes", "minutes of open time"
    DAYS = "days", "calendar days"


class Target(models.Model):
    """The response target of one severity in a plan: an amount of open time on a calendar."""

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="targets")
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    calendar = models.ForeignKey(
        Calendar,
        on_delete=models.PROTECT,
        related_name="targets",
        help_text="Only this calendar's open time counts.",
    )
    amount = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit = models.CharField(max_length=10, choices=Unit.choices, default=Unit.MINUTES)

    class Meta:
        ordering = ["plan", "severity"]
        constraints = [
            models.UniqueConstraint(
                fields=["plan", "severity"],
                name="sla_target_one_per_severity",
                violation_error_message="This plan already has a target for this severity.",
            ),
            models.CheckConstraint(
                name="sla_target_severity_1_to_5", condition=Q(severity__gte=1, severity__lte=5)
            ),
            models.CheckConstraint(name="sla_target_amount_positive", condition=Q(amount__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()}: {self.describe()}"

    def describe(self) -> str:
        return describe_budget(self.amount, self.unit, self.calendar.name)


def describe_budget(amount: int, unit: str, calendar_name: str) -> str:
    """“30 minutes, Standard hours”, “1 calendar day, Standard hours”."""
    if unit == Unit.DAYS:
        what = "calendar day" if amount == 1 else "calendar days"
    else:
        what = "minute" if amount == 1 else "minutes"
    return f"{amount} {what}, {calendar_name}"


class SlaState(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"
    MET = "met", "Met"
    MISSED = "missed", "Missed"
    # Stopped by the case's resolution (or closing) before due with no response: neither met
    # nor missed (SPEC §5, §9). Stopped that way after due is missed.
    RESOLVED_WITHOUT_RESPONSE = "resolved_without_response", "Resolved without response"


class ResponseClock(models.Model):
    """One party's response clock on a case: tier one's from opening, Phonism's from escalation.

    The target's amount, unit, calendar and the plan's at-risk share are copied at start: editing
    a plan later changes new clocks (and running ones only on a severity change), never the due
    times already promised. ``stopped_at`` is set by the response (then ``responded_at`` and
    ``response_minutes`` too), or by the case being resolved or closed before anyone responded.

    Each dispatch is a clock (SPEC §4): tier one's once, at opening; Phonism's at every
    escalation, numbered by ``sequence`` (1, 2, ...). Earlier clocks stay as history; at most one
    clock per (case, tier) runs, and the *current* clock of a tier is its highest sequence.
    """

    case = models.ForeignKey(
        "helpdesk.Case", on_delete=models.CASCADE, related_name="response_clocks"
    )
    # The case's requesting tenant, copied when the clock starts (a case never changes tenant:
    # it is read-only everywhere). Reports group and filter by it without joining a million
    # cases; its reseller is read through the tenant row at report time, so moving a
    # sub-customer to another reseller needs no rewrite of clocks.
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_index=False,  # sla_clock_report_tenant leads with it
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    sequence = models.PositiveSmallIntegerField(
        default=1, help_text="1 for the tier's first dispatch, 2 for its second (re-escalation)…"
    )
    target = models.ForeignKey(
        Target,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clocks",
        help_text="The target last used; its values are copied below.",
    )
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    calendar = models.ForeignKey(Calendar, on_delete=models.PROTECT, related_name="clocks")
    amount = models.PositiveIntegerField()
    unit = models.CharField(max_length=10, choices=Unit.choices)
    at_risk_share = models.DecimalField(max_digits=3, decimal_places=2)
    dispatched_at = models.DateTimeField()
    at_risk_at = models.DateTimeField()
    due_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Open minutes of the clock's calendar from dispatch to the response (SPEC §9), written with
    # ``responded_at`` by ``sla.services.clock_respond``: reports aggregate it in the database.
    response_minutes = models.FloatField(null=True, blank=True, editable=False)
    # Set by the breach sweep in the transaction that records the clock's at-risk / breached
    # SlaEvent: "this clock has that event", kept on the clock so the sweep's partial indexes
    # hold only clocks still owed an event and a sweep that finds nothing reads nothing.
    # The SlaEvent unique constraint, not this copy, is what forbids a second event.
    at_risk_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    breach_recorded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["case", "tier", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "tier", "sequence"], name="sla_clock_sequence_once"
            ),
            models.UniqueConstraint(
                fields=["case", "tier"],
                condition=Q(stopped_at=None),
                name="sla_clock_one_running_per_tier",
            ),
            models.CheckConstraint(
                name="sla_clock_sequence_positive", condition=Q(sequence__gte=1)
            ),
            models.CheckConstraint(name="sla_clock_tier_1_or_2", condition=Q(tier__in=[1, 2])),
            models.CheckConstraint(
                name="sla_clock_due_in_order",
                condition=Q(at_risk_at__gte=F("dispatched_at"), due_at__gte=F("at_risk_at")),
            ),
            models.CheckConstraint(
                name="sla_clock_response_stops_it",
                condition=Q(responded_at__isnull=True) | Q(stopped_at=F("responded_at")),
            ),
            models.CheckConstraint(
                name="sla_clock_minutes_with_response",
                condition=Q(responded_at__isnull=True, response_minutes__isnull=True)
                | Q(responded_at__isnull=False, response_minutes__isnull=False),
            ),
        ]
        # The breach sweep asks "which running clocks are past due / newly at risk": partial
        # indexes hold only running clocks, so they stay small however much history piles up.
        indexes = [
            # Reports (sla.reports) read clocks by dispatch and breaches by due time: covering
            # indexes let PostgreSQL answer from the index alone (SQLite ignores INCLUDE).
            models.Index(
                fields=["dispatched_at"],
                name="sla_clock_report_dispatch",
                include=[
                    "id",
                    "tenant_id",
                    "tier",
                    "severity",
                    "due_at",
                    "responded_at",
                    "stopped_at",
                    "response_minutes",
                    "case_id",
                    "calendar_id",
                ],
            ),
            # One organisation's (or a reseller's few) clocks of a period, without reading
            # everyone else's.
            models.Index(
                fields=["tenant", "dispatched_at"],
                name="sla_clock_report_tenant",
                include=[
                    "id",
                    "tier",
                    "severity",
                    "due_at",
                    "responded_at",
                    "stopped_at",
                    "response_minutes",
                    "case_id",
                    "calendar_id",
                ],
            ),
            models.Index(
                fields=["due_at"],
                name="sla_clock_report_due",
                include=["responded_at", "stopped_at", "tenant_id", "tier", "severity"],
            ),
            # Reports count running clocks live (stopped ones come from ClockRollup): the few
            # running clocks of a period, without reading its stopped ones.
            models.Index(
                fields=["dispatched_at"],
                name="sla_clock_running_dispatch",
                condition=Q(stopped_at=None),
                include=["tenant_id", "tier", "severity", "due_at", "calendar_id"],
            ),
            # The dashboard's "right now" by tier reads it alone (INCLUDE).
            models.Index(
                fields=["due_at"],
                name="sla_clock_running_due",
                condition=Q(stopped_at=None),
                include=["tier", "at_risk_at"],
            ),
            models.Index(
                fields=["at_risk_at"],
                name="sla_clock_running_at_risk",
                condition=Q(stopped_at=None),
            ),
            # The sweep's own: clocks still owed their breach event (running ones, and ones
            # that stopped after their due time before a sweep saw them) / at-risk event.
            models.Index(
                fields=["due_at", "id"],
                name="sla_clock_breach_owed",
                condition=Q(breach_recorded_at=None)
                & (Q(stopped_at=None) | Q(stopped_at__gt=F("due_at"))),
            ),
            models.Index(
                fields=["at_risk_at", "id"],
                name="sla_clock_at_risk_unrecorded",
                condition=Q(stopped_at=None, at_risk_recorded_at=None),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_tier_display()} clock of case {self.case_id}"

    @property
    def is_running(self) -> bool:
        return self.stopped_at is None

    def describe(self) -> str:
        return describe_budget(self.amount, self.unit, self.calendar.name)

    def state_at(self, now: datetime) -> SlaState:
        """The SLA state at ``now``; ``sla.selectors.filter_by_sla_state`` is the same rule as
        a query, so keep the two in step."""
        if self.stopped_at is not None:
            if self.stopped_at > self.due_at:
                return SlaState.MISSED
            if self.responded_at is None:
                return SlaState.RESOLVED_WITHOUT_RESPONSE
            return SlaState.MET
        if now > self.due_at:
            return SlaState.BREACHED
        if now >= self.at_risk_at:
            return SlaState.AT_RISK
        return SlaState.ON_TRACK

    def minutes_left(self, now: datetime) -> float:
        """Open minutes from ``now`` to the due time on the clock's calendar; negative once
        overdue, by the open time it has been overdue."""
        return clock.open_minutes_between(self.calendar.as_clock(), now, self.due_at)


class SlaEventKind(models.TextChoices):
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"


class SlaEvent(models.Model):
    """A running clock passed its at-risk or due instant unanswered, as the sweep saw it.

    At most one per (clock, kind), by constraint: overlapping sweeps, retries and redelivered
    tasks cannot record (and so cannot notify) twice. Written only by ``sla.sweep``.
    """

    clock = models.ForeignKey(ResponseClock, on_delete=models.CASCADE, related_name="events")
    # Copies, so lists and filters need no join through the clock.
    case = models.ForeignKey("helpdesk.Case", on_delete=models.CASCADE, related_name="sla_events")
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    kind = models.CharField(max_length=10, choices=SlaEventKind.choices)
    due_at = models.DateTimeField(help_text="The response due time the event is about.")
    occurred_at = models.DateTimeField(
        help_text="When the clock passed the instant: its at-risk or due time."
    )
    recorded_at = models.DateTimeField(help_text="When the sweep recorded it.")

    class Meta:
        verbose_name = "SLA event"
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["clock", "kind"], name="sla_event_once_per_clock"),
        ]
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="sla_event_newest"),
            models.Index(fields=["case", "occurred_at"], name="sla_event_case"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: case {self.case_id}, tier {self.tier}"


class SlaWatch(ResponseClock):
    """The support managers' list: running clocks at risk or breached right now (admin only)."""

    class Meta:
        proxy = True
        verbose_name = "case at risk or breached"
        verbose_name_plural = "at risk or breached now"


class RollupOutcome(models.IntegerChoices):
    """How a stopped clock ended (its report bucket, final once it stops)."""

    MET = 1, "Met"
    MISSED_RESPONDED = 2, "Missed, responded late"
    MISSED_UNANSWERED = 3, "Missed, stopped unanswered after due"
    RESOLVED_WITHOUT_RESPONSE = 4, "Resolved without response"


class ClockRollup(models.Model):
    """How many *stopped* clocks share one report key: their calendar, the month of their
    dispatch in that calendar's zone (as reports group it), their tenant, tier and severity,
    how they ended and their response minutes (whole in practice, so a month's values are few).

    Maintained on PostgreSQL by statement-level triggers on ``sla_responseclock`` and
    ``sla_calendar`` (migration ``sla 0008``): every writer, the services, bulk SQL and
    migrations alike, keeps it exact in the writing transaction. A stopped clock's bucket does
    not depend on when a report runs, so a report over whole months reads these counts (and its
    percentiles from the minutes' histogram) instead of every clock; running clocks are counted
    live, and a partial month at a period's end either live or as its roll-up less its clocks
    outside the period, whichever reads fewer (``sla.reports._plan``). SQLite has no triggers
    here: reports there are always live. Nothing else writes it.
    """

    calendar = models.ForeignKey(
        Calendar,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,  # sla_rollup_month leads with it
    )
    month = models.CharField(max_length=7)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,  # sla_rollup_tenant leads with it
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    outcome = models.PositiveSmallIntegerField(choices=RollupOutcome.choices)
    response_minutes = models.FloatField(null=True, blank=True)
    n = models.BigIntegerField()

    class Meta:
        # The unique key the triggers upsert on is an expression index (NULL minutes are one
        # key) created by the migration on PostgreSQL.
        indexes = [
            models.Index(fields=["calendar", "month", "tenant"], name="sla_rollup_month"),
            models.Index(fields=["tenant", "month"], name="sla_rollup_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.n} clocks of {self.month}"


class BreachRollup(models.Model):
    """How many *stopped, missed* clocks (responded after due, or stopped unanswered after
    due) fell due in one UTC hour, per tenant and tier: breaches per day in any zone whose day
    boundaries fall on whole UTC hours are sums of these hours, without reading the clocks.

    Kept exact on PostgreSQL by statement-level triggers on ``sla_responseclock`` (migration
    ``sla 0009``), like ``ClockRollup``; a stopped clock's breach never depends on when a
    report runs. Running clocks past due, the hour that has not ended yet, clocks dispatched
    before a report's period (``sla_clock_missed_span``) and any other filter (severity, a zone
    with half-hour offsets) are counted live (``sla.reports.breaches_per_day``). SQLite has no
    triggers here: its breaches are always live. Nothing else writes it.
    """

    hour = models.DateTimeField()
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,  # sla_breach_rollup_key holds it
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    n = models.BigIntegerField()

    class Meta:
        constraints = [
            # The key the triggers upsert on.
            models.UniqueConstraint(fields=["hour", "tenant", "tier"], name="sla_breach_rollup_key")
        ]

    def __str__(self) -> str:
        return f"{self.n} breaches due at {self.hour:%Y-%m-%d %H:00}"
