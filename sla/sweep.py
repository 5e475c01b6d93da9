"""The breach sweep (SPEC §6): record the moment a running response clock goes at risk or
past due, once, and tell the people who must act.

Run every minute by beat (``sla.tasks.sla_sweep``). Each pass re-derives its work from indexed
columns, so anything a missed, failed or killed sweep left behind is found by the next one:

* **Which clocks.** Running clocks (``stopped_at`` null; for breaches also clocks stopped after
  their due time) whose at-risk / due instant has passed
  and whose ``at_risk_recorded_at`` / ``breach_recorded_at`` is still null. Two partial indexes
  hold exactly those clocks, so a sweep that finds nothing reads an empty index range, however
  many cases and events exist.
* **Bounded batches.** ``batch`` clocks per transaction, soonest first, as plain rows (never
  model objects, never all cases): memory and lock time do not grow with the backlog. Each
  batch commits its events, timeline entries and outbox rows together, so a worker killed
  mid-sweep loses at most the batch it had not committed, and the next sweep redoes it.
* **Exactly once.** ``SlaEvent`` is unique per (clock, kind), and events are inserted with
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING``: only the rows this sweep really
  inserted get timeline entries and emails. Concurrent sweeps on PostgreSQL also share the
  work without waiting (``FOR UPDATE SKIP LOCKED`` on the clocks).
* **Late stops.** A clock that stopped (late response, resolve, close) after its due time
  before any sweep saw it still owes its breach: the breach index holds such clocks too, the
  event is dated at the due instant, and nobody is emailed about a breach already answered.
* **Catching up.** Breaches are swept before at-risk events. A clock first seen already past
  due (the sweep was down, or a severity change moved its due time into the past) still gets
  its at-risk event for the record, but only the breach is emailed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from helpdesk import notifications
from helpdesk.models import CaseEvent, EventKind, NotificationKind, Tier, Visibility
from sla.clock import wall_time
from sla.models import ResponseClock, SlaEvent, SlaEventKind
from tenants.models import TenantKind, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Kind:
    event: str  # SlaEventKind
    instant: str  # the clock's column that, once passed, makes the event
    passed: str  # the lookup for "passed": the rule of ResponseClock.state_at
    flag: str  # the clock's column saying the event is recorded
    timeline: str  # EventKind
    notification: str  # NotificationKind
    owed: Q  # which clocks can owe the event (the condition of the kind's partial index)


# At the due instant itself a case is still at risk (a response then is in time): breached is
# strictly after due, at risk from the at-risk instant on.
BREACHED = Kind(
    SlaEventKind.BREACHED,
    "due_at",
    "lt",
    "breach_recorded_at",
    EventKind.SLA_BREACHED,
    NotificationKind.BREACHED,
    # Running clocks, and clocks that stopped (late response, resolve, close) after their due
    # time before any sweep saw them: every breach is recorded, once.
    Q(stopped_at=None) | Q(stopped_at__gt=F("due_at")),
)
AT_RISK = Kind(
    SlaEventKind.AT_RISK,
    "at_risk_at",
    "lte",
    "at_risk_recorded_at",
    EventKind.SLA_AT_RISK,
    NotificationKind.AT_RISK,
    Q(stopped_at=None),
)

# What a batch reads per clock: enough for the events, the timeline and the emails.
ROW_FIELDS = {
    "case_id": "case_id",
    "tier": "tier",
    "severity": "severity",
    "due_at": "due_at",
    "at_risk_at": "at_risk_at",
    "dispatched_at": "dispatched_at",
    "stopped_at": "stopped_at",
    "timezone": "calendar__timezone",
    "reference": "case__reference",
    "subject": "case__subject",
    "assignee_id": "case__assignee_id",
    "tenant_id": "case__tenant_id",
    "tenant_kind": "case__tenant__kind",
    "tenant_parent_id": "case__tenant__parent_id",
    "oncall": "case__tenant__oncall_email",
    "parent_oncall": "case__tenant__parent__oncall_email",
}


@dataclass
class SweepResult:
    breached: int = 0
    at_risk: int = 0
    emails: int = 0
    batches: int = 0


def sweep(*, now: datetime | None = None, batch: int | None = None) -> SweepResult:
    """Record and notify every at-risk and breached clock not recorded yet, as of ``now``."""
    now = now or timezone.now()
    batch = batch or settings.SLA_SWEEP_BATCH
    result = SweepResult()
    directory = notifications.Directory()  # team and manager addresses, read once per sweep
    for kind in (BREACHED, AT_RISK):
        while True:
            seen, recorded, emails = sweep_batch(kind, now, batch, directory)
            result.batches += 1
            result.emails += emails
            if kind is BREACHED:
                result.breached += recorded
            else:
                result.at_risk += recorded
            if seen < batch:
                break
    if result.breached or result.at_risk:
        logger.info(
            "SLA sweep: %d breached, %d at risk, %d emails",
            result.breached,
            result.at_risk,
            result.emails,
        )
    return result


def sweep_batch(
    kind: Kind, now: datetime, batch: int, directory: notifications.Directory
) -> tuple[int, int, int]:
    """One transaction: up to ``batch`` clocks owed ``kind``. Returns (clocks seen, events
    recorded, emails written)."""
    with transaction.atomic():
        rows = list(
            ResponseClock.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(kind.owed, **{kind.flag: None, f"{kind.instant}__{kind.passed}": now})
            .order_by(kind.instant, "id")
            .values("id", *ROW_FIELDS.values())[:batch]
        )
        if not rows:
            return 0, 0, 0
        rows = [{"id": r["id"], **{k: r[f] for k, f in ROW_FIELDS.items()}} for r in rows]
        ids = [row["id"] for row in rows]
        inserted = insert_events(kind, ids, now)
        ResponseClock.objects.filter(pk__in=ids).update(**{kind.flag: now})
        new = [row for row in rows if row["id"] in inserted]
        for row in new:
            row["due"] = wall_time(row["due_at"], row["timezone"])
            row["dispatched"] = wall_time(row["dispatched_at"], row["timezone"])
        CaseEvent.objects.bulk_create(_timeline(kind, new), batch_size=1000)
        # An at-risk event first seen after the due time is history: the breach is the news.
        # A breach caught up after the clock stopped is already answered (or the case is
        # resolved): recorded for the reports, told to nobody.
        to_tell = [
            r for r in new if r["stopped_at"] is None and (kind is BREACHED or r["due_at"] >= now)
        ]
        emails = notifications.sla_events_notify(
            kind.notification, to_tell, directory, _assignees(to_tell)
        )
    return len(rows), len(new), emails


def insert_events(kind: Kind, clock_ids: list[int], now: datetime) -> set[int]:
    """Insert ``kind`` events for the clocks, skipping any that exist; return the ids of the
    clocks that got one now. One statement, whatever the batch size."""
    quote = connection.ops.quote_name
    event_table, clock_table = SlaEvent._meta.db_table, ResponseClock._meta.db_table
    placeholders = ", ".join(["%s"] * len(clock_ids))
    # Table and column names come from the models, values are parameters.
    sql = (
        f"INSERT INTO {quote(event_table)} "  # noqa: S608
        "(clock_id, case_id, tier, severity, kind, due_at, occurred_at, recorded_at) "
        f"SELECT id, case_id, tier, severity, %s, due_at, {quote(kind.instant)}, %s "
        f"FROM {quote(clock_table)} WHERE id IN ({placeholders}) "
        "ON CONFLICT (clock_id, kind) DO NOTHING RETURNING clock_id"
    )
    recorded = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, [kind.event, recorded, *clock_ids])
        return {clock_id for (clock_id,) in cursor.fetchall()}


def _timeline(kind: Kind, rows: list[dict]) -> list[CaseEvent]:
    """The events on the cases' timelines, at the instant they happened. For the support side
    only: the customer sees the SLA state in the case's SLA panel, and a sub-customer must not
    read about its reseller's targets; Phonism's clock on an escalation is the reseller's."""
    events = []
    for row in rows:
        direct = row["tier"] == Tier.ONE and row["tenant_kind"] != TenantKind.SUBCUSTOMER
        events.append(
            CaseEvent(
                case_id=row["case_id"],
                kind=kind.timeline,
                new_value=f"due {row['due']}"
                + ("" if row["tier"] == Tier.ONE else " (provider's clock)"),
                visibility=Visibility.PROVIDER_NOTE if direct else Visibility.RESELLER_NOTE,
                created_at=row["due_at"] if kind is BREACHED else row["at_risk_at"],
            )
        )
    return events


def _assignees(rows: list[dict]) -> dict[int, str]:
    ids = {row["assignee_id"] for row in rows if row["assignee_id"]}
    if not ids:
        return {}
    return dict(User.objects.filter(pk__in=ids, is_active=True).values_list("pk", "email"))
