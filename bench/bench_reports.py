"""Benchmark of the SLA reports (issue 14) on a large PostgreSQL database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/helpdesk_reports_bench \\
    .venv/bin/python bench/bench_reports.py [--cases 1000000] [--repeat 7]

On an empty database (after ``migrate`` and ``seed_demo``) the script first adds ``--cases`` cases
with their response clocks in bulk with SQL (a year of dispatches spread over the demo's tenants; a
quarter of VoiceHub's customers' cases escalated, with a provider clock). The data obeys the
product's invariants: resolving a case stops its clocks (``sla.services.clocks_halt``), so only
open cases have running clocks. Cases of the last 30 days are open three times in ten (as is every
case of the last four hours: about 2.5% of the clocks run); every other case is resolved, and its
clocks stopped: 60% answered within 0-119 minutes (due after 60), 10% resolved unanswered, 30%
answered within 0-239 minutes. Tenant, severity, fate and minutes are drawn independently (from
hashes of the case and clock ids): correlated columns would make the report roll-ups
(``ClockRollup``) unrealistically few rows. It never touches a database that already holds that
many cases. Then it measures, in-process through Django's test client (server time:
URL routing, the queries and the template, no network):

* the staff dashboard in the admin (Sam);
* a year's report for one reseller (Rita, VoiceHub, "Last year" and "This year");
* the CSV of every case row behind the staff report, streamed: rows per second and the
  process's peak memory growth while streaming (``--no-csv`` skips it).

For each page: the median wall time, this process's CPU time (not PostgreSQL's), the SQL time
(the queries' time as this process waits for them) and the number of queries, and the load
average: on a shared machine CPU and SQL time are steadier than wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

import helpdesk.wsgi  # noqa: E402, F401 - as a web process: its garbage collector set up
from helpdesk.models import Case  # noqa: E402
from sla.models import Calendar, ResponseClock  # noqa: E402
from tenants.models import Tenant, TenantKind, User  # noqa: E402


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def fill(cases: int) -> None:
    """Bulk cases and clocks with SQL: one INSERT ... SELECT each (about a minute for 1M)."""
    tenants = list(
        Tenant.objects.exclude(kind=TenantKind.PROVIDER).values_list("pk", "kind", "parent_id")
    )
    calendar = Calendar.objects.get(name="Standard hours").pk
    tenant_ids = "{" + ",".join(str(pk) for pk, _, _ in tenants) + "}"
    subcustomers = "{" + ",".join(str(pk) for pk, kind, _ in tenants if kind == "subcustomer") + "}"
    start = Case.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO helpdesk_case (reference, tenant_id, requester_email, subject,
                description, severity, channel, status, tier, created_at, updated_at,
                dispatched_at, response_due_at)
            SELECT 'CS-B' || (%(start)s + g),
                   (%(tenants)s::int[])[1 + abs(hashint4(g)::bigint) %% cardinality(%(tenants)s::int[])],
                   'bulk@example.test', 'Bulk case ' || g, 'Generated for the reports benchmark',
                   1 + abs(hashint4(g + 1000000007)::bigint) %% 5, 'portal',
                   CASE WHEN g %% 525600 < 240 OR (g %% 10 >= 7 AND g %% 525600 < 43200)
                        THEN 'in_progress'
                        ELSE 'resolved' END, 1,
                   now() - (g %% 525600) * interval '1 minute',
                   now() - (g %% 525600) * interval '1 minute',
                   now() - (g %% 525600) * interval '1 minute', NULL
            FROM generate_series(1, %(cases)s) AS g
            """,
            {"start": start, "tenants": tenant_ids, "cases": cases},
        )
        for tier, condition in (
            (1, "TRUE"),
            (2, "c.tenant_id = ANY(%(subs)s::int[]) AND abs(hashint8(c.id + 3)::bigint) %% 4 = 0"),
        ):
            cursor.execute(
                f"""
                INSERT INTO sla_responseclock (case_id, tenant_id, tier, sequence, severity, calendar_id, amount, unit,
                    at_risk_share, dispatched_at, at_risk_at, due_at, responded_at, stopped_at,
                    response_minutes, created_at, updated_at)
                SELECT c.id, c.tenant_id, {tier}, 1, c.severity, %(calendar)s, 60, 'minutes', 0.75,
                       c.dispatched_at, c.dispatched_at + interval '45 minutes',
                       c.dispatched_at + interval '60 minutes',
                       CASE WHEN c.status <> 'resolved' THEN NULL
                            WHEN abs(hashint8(c.id)::bigint) %% 10 < 6 THEN c.dispatched_at + (abs(hashint8(c.id * 2 + {tier})::bigint) %% 120) * interval '1 minute'
                            WHEN abs(hashint8(c.id)::bigint) %% 10 > 6 THEN c.dispatched_at + (abs(hashint8(c.id * 2 + {tier})::bigint) %% 240) * interval '1 minute' END,
                       CASE WHEN c.status <> 'resolved' THEN NULL
                            WHEN abs(hashint8(c.id)::bigint) %% 10 < 6 THEN c.dispatched_at + (abs(hashint8(c.id * 2 + {tier})::bigint) %% 120) * interval '1 minute'
                            WHEN abs(hashint8(c.id)::bigint) %% 10 = 6 THEN c.dispatched_at + (abs(hashint8(c.id * 2 + {tier})::bigint) %% 90) * interval '1 minute'
                            ELSE c.dispatched_at + (abs(hashint8(c.id * 2 + {tier})::bigint) %% 240) * interval '1 minute' END,
                       CASE WHEN c.status <> 'resolved' THEN NULL
                            WHEN abs(hashint8(c.id)::bigint) %% 10 < 6 THEN (abs(hashint8(c.id * 2 + {tier})::bigint) %% 120)::float
                            WHEN abs(hashint8(c.id)::bigint) %% 10 > 6 THEN (abs(hashint8(c.id * 2 + {tier})::bigint) %% 240)::float END,
                       c.dispatched_at, c.dispatched_at
                FROM helpdesk_case c
                WHERE c.reference LIKE 'CS-B%%' AND {condition}
                  AND NOT EXISTS (SELECT 1 FROM sla_responseclock r WHERE r.case_id = c.id AND r.tier = {tier})
                """,
                {"calendar": calendar, "subs": subcustomers},
            )
        cursor.execute("ANALYZE")  # every table: a stale tenant table gives nested loops


class SqlTimer:
    """Sums the time spent in the database driver's execute calls (connection.execute_wrapper):
    the SQL time of a request, queries counted."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.queries += 1


def timed(client: Client, url: str, repeat: int) -> dict[str, float]:
    """Medians over ``repeat`` requests: wall time, the process's CPU time (this process only:
    not PostgreSQL's), SQL time (sum of the queries' times as this process waits for them)
    and the number of queries, in ms; and the best wall time and the page's size."""
    walls, cpus, sqls = [], [], []
    timer = SqlTimer()
    for _ in range(repeat):
        timer.seconds, timer.queries = 0.0, 0
        with connection.execute_wrapper(timer):
            started, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
        sqls.append(timer.seconds * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return {
        "wall": statistics.median(walls),
        "best": min(walls),
        "cpu": statistics.median(cpus),
        "sql": statistics.median(sqls),
        "queries": timer.queries,
        "size": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-csv", action="store_true", help="skip the cases CSV")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    # Served pages use collected, hashed static files; in-process there are none to look up.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    have = Case.objects.count()
    if have < args.cases:
        started = time.perf_counter()
        fill(args.cases - have)
        print(
            f"filled {args.cases - have:,} cases in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
    print(f"data: {Case.objects.count():,} cases, {ResponseClock.objects.count():,} clocks")

    # This folder's (run as a script); imported here so that importing ``fill`` stays light.
    from bench_case_page import staff_client  # noqa: PLC0415

    rita = Client()
    sam = staff_client("sam@phonism.test")  # past the second factor the admin requires
    rita.force_login(User.objects.get(email="rita@voicehub.test"))
    for name, client, url in (
        ("staff dashboard (admin)", sam, "/admin/sla/dashboard/"),
        ("reseller report, last year", rita, "/reports/sla/?period=last_year"),
        ("reseller report, this year", rita, "/reports/sla/?period=this_year"),
        ("staff report, last 90 days", sam, "/reports/sla/"),
    ):
        timed(client, url, 1)  # warm caches and the connection
        t = timed(client, url, args.repeat)
        print(
            f"{name}: median {t['wall']:.0f} ms (CPU {t['cpu']:.0f} ms, SQL {t['sql']:.0f} ms "
            f"in {t['queries']} queries), best {t['best']:.0f} ms ({t['size']:,} bytes); "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    if args.no_csv:
        return

    before = rss_kib()
    started = time.perf_counter()
    response = sam.get("/reports/sla/cases.csv?period=custom&start=2000-01-01&end=2100-12-31")
    rows, peak = -1, before
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        if rows % 100_000 < 2:
            peak = max(peak, rss_kib())
    elapsed = time.perf_counter() - started
    peak = max(peak, rss_kib())
    print(
        f"cases CSV: {rows:,} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s; "
        f"memory before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB "
        f"(+{(peak - before) / 1024:.0f} MiB)"
    )


if __name__ == "__main__":
    main()
