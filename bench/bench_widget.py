"""The widget's two performance targets (issue 13):

1. its first load (snippet, start, the case list's HTML, CSS and JS) under 50 KB transferred;
2. opening a case through the widget as fast as through the portal.

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_bench   (migrated, seed_demo run)
    python manage.py collectstatic --noinput
    python bench/bench_widget.py

Sizes are the bytes of each response body as served, and gzipped as whitenoise serves the
static files in production (and as a proxy would compress the HTML). Opening times are
in-process through Django's test client (middleware, view, service, template: the server's
whole share, no network), the portal's and the widget's POSTs interleaved, REPEATS each after
3 warm-up ones; the queries per request in the last column.
"""

from __future__ import annotations

import gzip
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

import helpdesk.wsgi  # noqa: E402, F401 - as a web process: its garbage collector set up
from helpdesk.models import Case  # noqa: E402
from helpdesk.notifications import muted  # noqa: E402
from tenants.models import User  # noqa: E402
from widget import services, tokens  # noqa: E402
from widget.models import WidgetKey  # noqa: E402

REPEATS = int(os.environ.get("REPEATS", "30"))
ORIGIN = "https://portal.bench.example"
FORM = {"subject": "Bench case", "severity": "4", "description": "Opened by bench_widget."}


def start_session(client: Client, user: User) -> str:
    acme = user.membership.tenant
    row = services.settings_for(acme)
    if ORIGIN not in row.origins:
        services.settings_update(
            tenant=acme, actor=None, origins=[*row.origins, ORIGIN], create_agents=False
        )
    key = WidgetKey.objects.valid().filter(tenant=acme).first()
    if key is None:
        key, _ = services.key_create(tenant=acme, actor=None, label="bench")
    response = client.post(
        "/widget/start/", {"token": tokens.sign(key, email=user.email)}, HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 302, response.content
    return response["Location"]


def first_load(client: Client, cases_url: str) -> None:
    rows = []
    embed = client.get("/widget/embed.js").content
    rows.append(("/widget/embed.js (host page)", embed))
    page = client.get(cases_url)
    assert page.status_code == 200
    rows.append(("case list HTML", page.content))
    html = page.content.decode()
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        # As collected (hashed names); whitenoise serves these files, gzipped.
        rows.append((url, (Path(settings.STATIC_ROOT) / url.removeprefix("/static/")).read_bytes()))
    print("Widget first load (start's 302 has an empty body):")
    print(f"{'resource':50} {'bytes':>8} {'gzip':>8}")
    raw = zipped = 0
    for name, body in rows:
        size, gz = len(body), len(gzip.compress(body, 9))
        raw, zipped = raw + size, zipped + gz
        print(f"{name:50} {size:8,} {gz:8,}")
    print(f"{'total':50} {raw:8,} {zipped:8,}   target < 51,200")
    print()


def measure(client: Client, url: str) -> tuple[list[float], int]:
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        response = client.post(url, FORM, HTTP_ORIGIN="http://testserver")
        elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 302, (url, response.status_code)
    return elapsed, len(queries)


def opening(portal: Client, widget: Client, new_url: str) -> None:
    runs = {"portal": ([], 0), "widget": ([], 0)}
    with muted():
        for _ in range(3):
            measure(portal, "/cases/new/")
            measure(widget, new_url)
        for _ in range(REPEATS):
            for name, client, url in (
                ("portal", portal, "/cases/new/"),
                ("widget", widget, new_url),
            ):
                ms, queries = measure(client, url)
                runs[name][0].append(ms)
                runs[name] = (runs[name][0], queries)
    print(f"Opening a case (POST, {REPEATS} each, interleaved):")
    print(f"{'surface':10} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for name, (times, queries) in runs.items():
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"{name:10} {statistics.median(times):10.1f} {p95:8.1f} {queries:8}")


def main() -> None:
    ann = User.objects.get(email="ann@acme.test")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {connection.vendor}; {Case.objects.count():,} cases"
    )
    widget = Client()
    cases_url = start_session(widget, ann)
    first_load(widget, cases_url)
    portal = Client()
    portal.force_login(ann)
    before = Case.objects.count()
    opening(portal, widget, cases_url.replace("/cases/", "/cases/new/"))
    # The bench's cases are the database's extra rows; remove them so runs compare.
    Case.objects.filter(subject=FORM["subject"]).delete()
    assert Case.objects.count() == before


if __name__ == "__main__":
    main()
