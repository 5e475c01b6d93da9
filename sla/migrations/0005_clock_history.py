"""Clocks keep their history and their response time (issue 11, SPEC §4, §9).

* ``sequence``: each escalation is a dispatch, so a case may have several tier-two clocks; the
  one-clock-per-tier constraint becomes one per (case, tier, sequence) and at most one running
  clock per (case, tier). Existing clocks are all sequence 1.
* ``response_minutes``: open minutes of the clock's calendar from dispatch to response, filled
  here for clocks answered before the column existed (historical models and the pure
  ``sla.clock`` arithmetic, never today's model methods), then required with a response.
* ``Case.tier_one_due_at`` filled from the tier-one clocks.
* The breach sweep's partial index also holds clocks that stopped after their due time with no
  breach recorded (the sweep catches those up).
"""

from collections import defaultdict

from django.db import migrations, models

from sla import clock


def _calendar(row) -> clock.Calendar:
    weekly = defaultdict(list)
    for hours in row.opening_hours.all():
        weekly[hours.weekday].append((hours.start, hours.end))
    closed = frozenset(day.date for day in row.closed_dates.all())
    return clock.Calendar(row.timezone, dict(weekly), closed)


def fill(apps, schema_editor):
    Calendar = apps.get_model("sla", "Calendar")
    ResponseClock = apps.get_model("sla", "ResponseClock")
    Case = apps.get_model("helpdesk", "Case")
    calendars = {row.pk: _calendar(row) for row in Calendar.objects.all()}
    answered = ResponseClock.objects.filter(responded_at__isnull=False, response_minutes=None)
    batch = []
    for row in answered.only("id", "calendar_id", "dispatched_at", "responded_at").iterator(
        chunk_size=2000
    ):
        row.response_minutes = clock.open_minutes_between(
            calendars[row.calendar_id], row.dispatched_at, row.responded_at
        )
        batch.append(row)
        if len(batch) >= 2000:
            ResponseClock.objects.bulk_update(batch, ["response_minutes"])
            batch = []
    ResponseClock.objects.bulk_update(batch, ["response_minutes"])
    tier_one_due = ResponseClock.objects.filter(case=models.OuterRef("pk"), tier=1).values(
        "due_at"
    )[:1]
    Case.objects.update(tier_one_due_at=models.Subquery(tier_one_due))


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0008_tier_one_due"),
        ("sla", "0004_sla_event_permissions"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="responseclock",
            options={"ordering": ["case", "tier", "sequence"]},
        ),
        migrations.RemoveConstraint(
            model_name="responseclock",
            name="sla_clock_one_per_tier",
        ),
        migrations.RemoveIndex(
            model_name="responseclock",
            name="sla_clock_breach_unrecorded",
        ),
        migrations.AddField(
            model_name="responseclock",
            name="response_minutes",
            field=models.FloatField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="responseclock",
            name="sequence",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text="1 for the tier's first dispatch, 2 for its second (re-escalation)…",
            ),
        ),
        migrations.AddIndex(
            model_name="responseclock",
            index=models.Index(
                condition=models.Q(
                    ("breach_recorded_at", None),
                    models.Q(
                        ("stopped_at", None),
                        ("stopped_at__gt", models.F("due_at")),
                        _connector="OR",
                    ),
                ),
                fields=["due_at", "id"],
                name="sla_clock_breach_owed",
            ),
        ),
        migrations.AddConstraint(
            model_name="responseclock",
            constraint=models.UniqueConstraint(
                fields=("case", "tier", "sequence"), name="sla_clock_sequence_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="responseclock",
            constraint=models.UniqueConstraint(
                condition=models.Q(("stopped_at", None)),
                fields=("case", "tier"),
                name="sla_clock_one_running_per_tier",
            ),
        ),
        migrations.AddConstraint(
            model_name="responseclock",
            constraint=models.CheckConstraint(
                condition=models.Q(("sequence__gte", 1)), name="sla_clock_sequence_positive"
            ),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="responseclock",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("responded_at__isnull", True), ("response_minutes__isnull", True)),
                    models.Q(("responded_at__isnull", False), ("response_minutes__isnull", False)),
                    _connector="OR",
                ),
                name="sla_clock_minutes_with_response",
            ),
        ),
    ]
