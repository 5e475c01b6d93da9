"""The admin case list's default page (issue 16): "awaiting a response first, due soonest",
with and without the index that serves that order (``case_admin_order``).

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_bench   (migrated, seed_demo run)
    python manage.py seed_bulk --cases 100000 --tenants 200
    GROW_TO=1000000 python bench/bench_admin_list.py

``GROW_TO`` (PostgreSQL only, optional) first copies the bulk cases, with their response clocks,
in SQL until the table holds that many (seed_bulk makes ~10,000 cases a minute on a shared
2-core machine; a copy of 100,000 takes seconds). The copies keep every column but the
reference, so the mix of statuses, ages and due times is the bulk seed's.

Then, in-process through Django's test client (middleware, admin, template: the server's whole
share), the list as a support agent opens it (no filter, no search): 3 warm-up requests, then
REPEATS timed ones; prints the median, the 95th percentile, the queries per request, and the
plan of the list's main query (EXPLAIN ANALYZE: which index, whether PostgreSQL sorts, its own
execution time). To compare, run it once after ``python manage.py migrate helpdesk 0013`` (no
index) and once after ``python manage.py migrate`` (the index).
"""

from __future__ import annotations

import os
import platform
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
from django_otp import DEVICE_ID_SESSION_KEY  # noqa: E402
from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: E402

import helpdesk.wsgi  # noqa: E402, F401 - as a web process: its garbage collector set up
from helpdesk.models import Case  # noqa: E402
from tenants.models import User  # noqa: E402

REPEATS = int(os.environ.get("REPEATS", "20"))
GROW_TO = int(os.environ.get("GROW_TO", "0"))
LIST = "/admin/helpdesk/case/"

CASE_COLUMNS = (
    "requester_email, subject, description, severity, channel, status, tier, created_at, "
    "updated_at, dispatched_at, first_response_at, response_due_at, resolved_at, closed_at, "
    "assignee_id, requester_id, tenant_id, tier_one_due_at"
)
CLOCK_COLUMNS = (
    "tier, severity, amount, unit, at_risk_share, dispatched_at, at_risk_at, due_at, "
    "responded_at, stopped_at, created_at, updated_at, calendar_id, target_id, "
    "at_risk_recorded_at, breach_recorded_at, response_minutes, sequence"
)


def grow(target: int) -> None:
    """Copy the bulk cases (tenants bulk-*) and their clocks until there are ``target`` cases."""
    assert connection.vendor == "postgresql", "GROW_TO needs PostgreSQL"
    round_ = 0
    while Case.objects.count() < target:
        round_ += 1
        missing = target - Case.objects.count()
        suffix = f"-x{round_}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO helpdesk_case (reference, {CASE_COLUMNS})
                SELECT c.reference || %s, {", ".join(f"c.{n.strip()}" for n in CASE_COLUMNS.split(","))}
                FROM helpdesk_case c JOIN tenants_tenant t ON t.id = c.tenant_id
                WHERE t.slug LIKE 'bulk-%%' AND c.reference NOT LIKE '%%-x%%'
                ORDER BY c.id LIMIT %s
                """,  # noqa: S608 - column names are this file's constants
                [suffix, missing],
            )
            added = cursor.rowcount
            cursor.execute(
                f"""
                INSERT INTO sla_responseclock (case_id, {CLOCK_COLUMNS})
                SELECT copy.id, {", ".join(f"k.{n.strip()}" for n in CLOCK_COLUMNS.split(","))}
                FROM sla_responseclock k
                JOIN helpdesk_case c ON c.id = k.case_id
                JOIN helpdesk_case copy ON copy.reference = c.reference || %s
                """,  # noqa: S608 - column names are this file's constants
                [suffix],
            )
        print(f"copied {added:,} cases (round {round_})", flush=True)
        if added == 0:
            raise SystemExit("no bulk cases to copy: run seed_bulk first")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE helpdesk_case")
        cursor.execute("ANALYZE sla_responseclock")


def staff_client() -> Client:
    """Alice, signed in with her second factor, as the admin requires."""
    alice = User.objects.get(email="alice@phonism.test")
    client = Client()
    client.force_login(alice)
    device = TOTPDevice.objects.filter(user=alice, confirmed=True).first()
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


def list_queries(queries) -> list[str]:
    """The page's queries over cases in the list's order: the paginator's capped count (a
    COUNT over the first CappedCountPaginator.cap rows) and the page itself."""
    return [
        q["sql"]
        for q in queries
        if 'FROM "helpdesk_case"' in q["sql"] and "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
    ]


def main() -> None:
    if GROW_TO:
        grow(GROW_TO)
    version = connection.pg_version if connection.vendor == "postgresql" else ""
    print(
        f"Python {platform.python_version()}, {connection.vendor} {version}, {os.cpu_count()} cores"
    )
    print(f"{Case.objects.count():,} cases; {REPEATS} timed requests\n")
    client = staff_client()
    for _ in range(3):
        assert client.get(LIST).status_code == 200
    timings = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(LIST)
            timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    timings.sort()
    median, p95 = statistics.median(timings), timings[int(len(timings) * 0.95) - 1]
    print(
        f"admin case list, default order: median {median:.1f} ms, p95 {p95:.1f} ms, "
        f"{len(queries)} queries"
    )
    if connection.vendor == "postgresql":
        for sql in list_queries(queries):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE) {sql}")
                plan = [row[0] for row in cursor.fetchall()]
            print(f"\nplan of: {sql[:60]}…")
            for line in plan[:7] + plan[-2:]:
                print("  " + line)


if __name__ == "__main__":
    main()
