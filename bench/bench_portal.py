"""Server time of the case lists on a large database (issue 3's targets).

Run against PostgreSQL filled by seed_bulk, e.g.:

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_bench
    python manage.py migrate && python manage.py seed_demo
    python manage.py seed_bulk --cases 1000000 --tenants 200 --focus acme --focus-share 0.1
    python bench/bench_portal.py

Each page is requested in-process through Django's test client (middleware, view, template:
the server's whole share of a request, no network), warmed up first, then timed REPEATS
times; the median and 95th percentile are printed with the queries each request made.
Target: median under 100 ms for every page.
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
from bench_case_page import staff_client  # noqa: E402  (this folder: run as a script)
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

import helpdesk.wsgi  # noqa: E402, F401 - as a web process: its garbage collector set up
from helpdesk.models import Case  # noqa: E402
from tenants.models import User  # noqa: E402

REPEATS = int(os.environ.get("REPEATS", "30"))


def measure(client: Client, url: str) -> tuple[float, float, int]:
    for _ in range(3):
        assert client.get(url).status_code == 200, url
    timings = []
    for _ in range(REPEATS):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], len(queries)


def main() -> None:
    total = Case.objects.count()
    acme = Case.objects.filter(tenant__slug="acme").count()
    version = connection.pg_version if connection.vendor == "postgresql" else ""
    print(f"Python {platform.python_version()}, {connection.vendor} {version}")
    print(f"{total:,} cases, {acme:,} of them Acme's; {REPEATS} timed requests per page\n")
    agent = Client()
    agent.force_login(User.objects.get(email="ann@acme.test"))
    staff = staff_client("alice@phonism.test")  # past the second factor the admin requires
    pages = [
        ("agent list, first page", agent, "/cases/"),
        ("agent list, filtered", agent, "/cases/?status=new&status=in_progress&severity=3"),
        ("agent list, search", agent, "/cases/?q=firmware"),
        ("agent list, 2,000 rows deep", agent, "/cases/?page=81&size=25"),
        ("agent list, 100 per page", agent, "/cases/?size=100"),
        ("admin changelist", staff, "/admin/helpdesk/case/"),
        (
            "admin changelist, filtered",
            staff,
            "/admin/helpdesk/case/?status__exact=new&severity__exact=2",
        ),
        ("admin changelist, page 40", staff, "/admin/helpdesk/case/?p=40"),
    ]
    print(f"{'page':<32}{'median ms':>10}{'p95 ms':>9}{'queries':>9}")
    for name, client, url in pages:
        median, p95, queries = measure(client, url)
        flag = "" if median < 100 else "  <-- over 100 ms"
        print(f"{name:<32}{median:>10.1f}{p95:>9.1f}{queries:>9}{flag}")


if __name__ == "__main__":
    main()
