"""Benchmark of the breach sweep (issue 5) on a large PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/14 \\
    .venv/bin/python bench/bench_sweep.py [--running 100000] [--breaches 10000] [--webhooks]

The database must hold the cases already (``seed_demo`` then ``seed_bulk --cases 1000000``).
The script then shapes the SLA data, every run the same way (it rewrites SLA events, SLA
timeline entries and the outbox of that database: never point it at real data):

* exactly ``--running`` unanswered cases (running tier-one clocks), reopening answered ones if
  there are fewer; of these, 10,000 on track, ``--breaches`` at risk (recorded) and about to
  breach, and the rest long breached and recorded, as a live helpdesk accumulates them (on a
  smaller database, fewer on track; clocks dispatched too recently for their role, such as
  cases opened in the last hour, are dated back so the clocks' check constraint holds);
* then it measures (1) sweeps that find nothing new, (2) one sweep that finds ``--breaches``
  new breaches, records them and enqueues their emails on the broker (Redis: run no worker on
  that database meanwhile, the queued messages are purged at the end), and (3) the process's
  peak memory while sweeping growing numbers of breaches.

With ``--webhooks`` every tenant has a webhook subscription (to an address nobody serves: the
deliveries are written and enqueued, never sent), so each breach also writes its deliveries;
the script's own subscriptions and their deliveries are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from api.models import WebhookDelivery, WebhookSubscription  # noqa: E402
from helpdesk.celery import app  # noqa: E402
from helpdesk.models import Case, CaseEvent, EventKind, OutboundEmail  # noqa: E402
from sla import sweep as sweeping  # noqa: E402
from sla.models import ResponseClock, SlaEvent  # noqa: E402
from tenants.models import Tenant  # noqa: E402

ON_TRACK = 10_000
BENCH_HOOK = "https://bench-sweep.invalid/hook"


def sql(statement: str, params: list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.rowcount


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def ensure_running(target: int) -> None:
    """Exactly ``target`` running tier-one clocks: reopen answered cases if there are fewer."""
    running = ResponseClock.objects.filter(stopped_at=None).count()
    if running < target:
        reopened = sql(
            "WITH picked AS (SELECT id, case_id FROM sla_responseclock "
            " WHERE stopped_at IS NOT NULL AND tier = 1 ORDER BY id DESC LIMIT %s), "
            "clocks AS (UPDATE sla_responseclock c SET responded_at = NULL, response_minutes = NULL, "
            " stopped_at = NULL "
            " FROM picked WHERE c.id = picked.id RETURNING c.case_id) "
            "UPDATE helpdesk_case SET status = 'new', first_response_at = NULL, "
            " resolved_at = NULL, closed_at = NULL WHERE id IN (SELECT case_id FROM clocks)",
            [target - running],
        )
        print(f"reopened {reopened:,} answered cases")
    elif running > target:
        sql(
            "UPDATE sla_responseclock SET stopped_at = due_at WHERE id IN ("
            " SELECT id FROM sla_responseclock WHERE stopped_at IS NULL ORDER BY id LIMIT %s)",
            [running - target],
        )


def shape(breaches: int) -> list[int]:
    """Reset the SLA events, timeline entries and outbox, and give the running clocks their
    roles. Returns the ids of the clocks about to breach."""
    now = timezone.now()
    SlaEvent.objects.all().delete()
    CaseEvent.objects.filter(kind__in=[EventKind.SLA_AT_RISK, EventKind.SLA_BREACHED]).delete()
    OutboundEmail.objects.all().delete()
    WebhookDelivery.objects.filter(subscription__url=BENCH_HOOK).delete()
    ids = list(
        ResponseClock.objects.filter(stopped_at=None).order_by("id").values_list("pk", flat=True)
    )
    # A small database keeps fewer clocks on track rather than find fewer breaches.
    keep = max(0, min(ON_TRACK, len(ids) - breaches))
    on_track, soon = ids[:keep], ids[keep : keep + breaches]
    old = ids[ON_TRACK + breaches :]
    recorded = now - timedelta(days=1)
    # Long breached and recorded: due in the past, both events there.
    sql(
        "UPDATE sla_responseclock SET at_risk_at = dispatched_at, due_at = dispatched_at, "
        "at_risk_recorded_at = %s, breach_recorded_at = %s WHERE id = ANY(%s)",
        [recorded, recorded, old],
    )
    for kind, instant in (("at_risk", "at_risk_at"), ("breached", "due_at")):
        sql(
            "INSERT INTO sla_slaevent (clock_id, case_id, tier, severity, kind, due_at, "  # noqa: S608 - fixed column names
            f"occurred_at, recorded_at) SELECT id, case_id, tier, severity, %s, due_at, {instant}, "
            "%s FROM sla_responseclock WHERE id = ANY(%s)",
            [kind, recorded, old],
        )
    # Stopped after due (answered late, resolved late): their breach is recorded too, as the
    # sweep would have caught it up (issue 11); the timed sweeps find only the new breaches.
    sql(
        "UPDATE sla_responseclock SET breach_recorded_at = %s "
        "WHERE stopped_at > due_at AND breach_recorded_at IS NULL",
        [recorded],
    )
    sql(
        "INSERT INTO sla_slaevent (clock_id, case_id, tier, severity, kind, due_at, "
        "occurred_at, recorded_at) SELECT id, case_id, tier, severity, 'breached', due_at, "
        "due_at, %s FROM sla_responseclock WHERE stopped_at > due_at "
        "ON CONFLICT (clock_id, kind) DO NOTHING",
        [recorded],
    )
    # The clocks' check constraint wants dispatched <= at risk <= due. A clock dispatched
    # after the instants given below (a case opened in the last hour, or a clock dated ahead)
    # is dated back to them: the roles then hold on any database, whatever its clocks' ages.
    # On track: due in 1 to 30 days.
    sql(
        "UPDATE sla_responseclock SET due_at = %s + (id %% 30 + 1) * interval '1 day', "
        "at_risk_at = %s + (id %% 30) * interval '1 day' + interval '1 hour', "
        "dispatched_at = LEAST(dispatched_at, %s), "
        "at_risk_recorded_at = NULL, breach_recorded_at = NULL WHERE id = ANY(%s)",
        [now, now, now, on_track],
    )
    # At risk since an hour (recorded), due tomorrow for now: the breach phase moves it.
    at_risk = now - timedelta(hours=1)
    sql(
        "UPDATE sla_responseclock SET at_risk_at = %s, due_at = %s, at_risk_recorded_at = %s, "
        "dispatched_at = LEAST(dispatched_at, %s), breach_recorded_at = NULL WHERE id = ANY(%s)",
        [at_risk, now + timedelta(days=1), now - timedelta(minutes=50), at_risk, soon],
    )
    sql("ANALYZE sla_responseclock")
    sql("ANALYZE sla_slaevent")
    return soon


def make_due(clock_ids: list[int]) -> None:
    """Time passes: the clocks' due times fall in the last 50 minutes (after their at-risk
    instant, an hour ago, as the check constraint wants)."""
    sql(
        "UPDATE sla_responseclock SET due_at = GREATEST(%s - (id %% 50) * interval '1 minute', "
        "at_risk_at) WHERE id = ANY(%s)",
        [timezone.now(), clock_ids],
    )


def purge_queue() -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(app.conf.task_default_queue) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--running", type=int, default=100_000)
    parser.add_argument("--breaches", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--webhooks", action="store_true", help="give every tenant a webhook subscription"
    )
    parser.add_argument(
        "--skip-memory", action="store_true", help="measure (1) and (2) only, not part (3)"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    broker = settings.CELERY_BROKER_URL
    cases = Case.objects.count()
    print(f"database: {settings.DATABASES['default']['NAME']}, {cases:,} cases; broker: {broker}")
    WebhookSubscription.objects.filter(url=BENCH_HOOK).delete()
    if args.webhooks:
        WebhookSubscription.objects.bulk_create(
            WebhookSubscription(tenant=tenant, url=BENCH_HOOK) for tenant in Tenant.objects.all()
        )
        print(f"webhooks: every tenant subscribed ({Tenant.objects.count():,} subscriptions)")
    ensure_running(args.running)
    soon = shape(args.breaches)
    running = ResponseClock.objects.filter(stopped_at=None).count()
    recorded = ResponseClock.objects.filter(stopped_at=None).exclude(breach_recorded_at=None)
    breached = recorded.count()
    print(
        f"running clocks (unanswered cases): {running:,}: {running - len(soon) - breached:,} on "
        f"track, {len(soon):,} at risk and about to breach, {breached:,} "
        f"breached and recorded; SLA events: {SlaEvent.objects.count():,}"
    )
    purge_queue()

    # (1) A sweep that finds nothing new.
    sweeping.sweep()  # warm the connection and caches
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = sweeping.sweep()
        times.append((time.perf_counter() - start) * 1000)
        assert result.breached == result.at_risk == 0, result
    print(
        f"\n(1) sweep finding nothing new, {args.repeat} runs: median {statistics.median(times):.1f} ms, "
        f"max {max(times):.1f} ms (target < 200 ms)"
    )

    # (2) A sweep that finds the new breaches, records them and enqueues their emails.
    make_due(soon)
    reset_peak()
    before = rss_kib()
    start = time.perf_counter()
    result = sweeping.sweep()
    elapsed = time.perf_counter() - start
    emails = OutboundEmail.objects.count()
    hooks = WebhookDelivery.objects.filter(subscription__url=BENCH_HOOK).count()
    queued = purge_queue()
    print(
        f"(2) sweep finding {len(soon):,} new breaches: {elapsed:.2f} s (target < 10 s): "
        f"{result.breached:,} breach events, {result.breached:,} timeline entries, "
        f"{emails:,} outbox rows, {hooks:,} webhook deliveries, "
        f"{queued:,} broker messages (fan-out and delivery tasks), "
        f"{result.batches} batches of up to {settings.SLA_SWEEP_BATCH:,} clocks; "
        f"RSS {before / 1024:.0f} MiB before, peak {rss_kib('VmHWM') / 1024:.0f} MiB"
    )

    # (3) Memory while sweeping growing numbers of breaches (bounded batches: flat).
    print("\n(3) peak RSS of the sweeping process by new breaches found:")
    for count in () if args.skip_memory else (1_000, 5_000, 10_000, 20_000):
        soon = shape(count)
        make_due(soon)
        purge_queue()
        reset_peak()
        before = rss_kib()
        start = time.perf_counter()
        result = sweeping.sweep()
        elapsed = time.perf_counter() - start
        purge_queue()
        print(  # the clocks found, which a small database may hold fewer of than asked
            f"    {len(soon):>6,} breaches: {elapsed:5.2f} s, RSS before {before / 1024:.0f} MiB, "
            f"peak {rss_kib('VmHWM') / 1024:.0f} MiB, after {rss_kib() / 1024:.0f} MiB"
        )
    shape(args.breaches)
    WebhookSubscription.objects.filter(url=BENCH_HOOK).delete()
    print("\nThe bench data is left shaped as for (1); nothing else was changed.")


if __name__ == "__main__":
    main()
