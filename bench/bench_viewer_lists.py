"""Case lists sorted and filtered on the viewer's own clock (issue 11, point 1): server time and
the index PostgreSQL uses, per side.

Run against PostgreSQL filled by seed_bulk, with cases of a sub-customer, e.g.:

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_bench
    python manage.py migrate && python manage.py seed_demo
    python manage.py seed_bulk --cases 200000 --tenants 50 --focus initech --focus-share 0.2
    python bench/bench_viewer_lists.py

For Ivan (requesting side: tier one's clock), Rob (reseller: tier one's first) and Alice
(provider staff: the current clock), the portal list sorted "due soonest" and filtered by SLA
state is requested in-process through Django's test client, warmed up, then timed REPEATS times;
the median and 95th percentile are printed with the queries per request and the indexes in the
plan of the list's main query. Target: indexed (no sequential scan of cases or clocks) and a
median under 100 ms, like the other case lists.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")  # Django's test client's host

import django  # noqa: E402

django.setup()
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

import helpdesk.wsgi  # noqa: E402, F401 - as a web process: its garbage collector set up
from helpdesk.models import Case  # noqa: E402
from sla.models import ResponseClock  # noqa: E402
from tenants.models import User  # noqa: E402

REPEATS = int(os.environ.get("REPEATS", "20"))
PAGES = {
    "due soonest": {"sort": "due"},
    "breached, due soonest": {"sort": "due", "sla": "breached"},
    "met": {"sla": "met"},
}


def main_query(queries: list[dict]) -> str:
    """The list's own query: the one that reads helpdesk_case ORDER BY ... LIMIT."""
    for query in queries:
        sql = query["sql"]
        if 'FROM "helpdesk_case"' in sql and "LIMIT" in sql and "ORDER BY" in sql:
            return sql
    raise LookupError("no list query")


def plan_of(sql: str) -> tuple[str, bool]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    indexes = sorted(set(re.findall(r"using (\w+)", plan, flags=re.IGNORECASE)))
    seq = bool(re.search(r"Seq Scan on (helpdesk_case|sla_responseclock)\b", plan))
    return ", ".join(indexes) or "-", seq


def measure(client: Client, params: dict) -> tuple[float, float, int, str, bool]:
    for _ in range(3):
        assert client.get("/cases/", params).status_code == 200
    timings = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get("/cases/", params)
            timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    timings.sort()
    indexes, seq = plan_of(main_query(queries.captured_queries))
    p95 = timings[int(len(timings) * 0.95) - 1]
    return statistics.median(timings), p95, len(queries), indexes, seq


def main() -> None:
    assert connection.vendor == "postgresql", "run on PostgreSQL (DATABASE_URL)"
    print(f"PostgreSQL {connection.pg_version}, {os.cpu_count()} cores")
    print(f"{Case.objects.count():,} cases, {ResponseClock.objects.count():,} clocks")
    print("| viewer | page | median ms | p95 ms | queries | indexes in the plan | seq scan |")
    print("|---|---|---|---|---|---|---|")
    for email in ("ivan@initech.test", "rob@voicehub.test", "alice@phonism.test"):
        client = Client()
        client.force_login(User.objects.get(email=email))
        for name, params in PAGES.items():
            median, p95, count, indexes, seq = measure(client, params)
            print(
                f"| {email.split('@')[0]} | {name} | {median:.1f} | {p95:.1f} | {count} "
                f"| {indexes} | {'yes' if seq else 'no'} |"
            )


if __name__ == "__main__":
    main()
