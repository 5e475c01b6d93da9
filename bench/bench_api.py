"""The API's performance targets (issue 17), on PostgreSQL with a million cases:

1. the case list's first page under 30 ms server time;
2. a case under 15 ms;
3. opening a case through the API at least as fast as through the portal.

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_api_bench   (migrated, seed_demo run)
    python bench/bench_api.py [--cases 1000000] [--repeat 30]

On a database with fewer than ``--cases`` cases it first adds the rest with the reports
benchmark's builder (``bench_reports.fill``: bulk SQL, a year of cases over the demo's tenants,
with their clocks). Times are in-process through Django's test client with the API key header
(authentication, throttling, middleware, view, queries, JSON: the server's whole share, no
network), each figure the median of ``--repeat`` requests after warm-up ones, with the p95, the
median CPU time of this process (what the request cost here, whatever else the machine ran:
PostgreSQL's own share is not in it) and the queries per request. Openings through the API and the portal (Ann, Acme's agent) are
interleaved, notifications muted for both as in bench_widget; the bench's cases are deleted
afterwards so runs compare.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Celery's loader puts the working directory first on sys.path: run from another checkout, the
# modules imported after setup would be that checkout's.
os.chdir(ROOT)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# Many openings by one person in a minute: the portal's hourly limit must not stop the bench.
os.environ.setdefault("RATE_CASES_PER_PERSON_HOUR", "100000")
os.environ.setdefault("RATE_CASES_PER_TENANT_HOUR", "100000")

from bench_reports import fill  # noqa: E402  (sets Django up)
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from api.authentication import PerKeyThrottle  # noqa: E402
from api.models import ApiKey  # noqa: E402
from helpdesk.models import Case  # noqa: E402
from helpdesk.notifications import muted  # noqa: E402
from tenants.models import User  # noqa: E402

SUBJECT = "Bench API case"


def api_client(email: str) -> Client:
    _, token = ApiKey.issue(user=User.objects.get(email=email), name="bench_api")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


Figures = tuple[float, float, float, int]


def once(send) -> tuple[float, float, int]:
    """Wall and this process's CPU milliseconds, and queries, of one request."""
    with CaptureQueriesContext(connection) as captured:
        wall, cpu = time.perf_counter(), time.process_time()
        send()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return wall * 1000, cpu * 1000, len(captured)


def summary(runs: list[tuple[float, float, int]]) -> Figures:
    walls = sorted(wall for wall, _, _ in runs)
    p95 = walls[max(0, int(len(walls) * 0.95) - 1)]
    return statistics.median(walls), p95, statistics.median(c for _, c, _ in runs), runs[-1][2]


def timed(send, repeat: int, warm: int = 3) -> Figures:
    for _ in range(warm):
        send()
    return summary([once(send) for _ in range(repeat)])


def get(client: Client, url: str):
    def send():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])

    return send


def report(name: str, figures: Figures, target: str) -> None:
    median, p95, cpu, queries = figures
    print(f"{name:52} {median:9.1f} {p95:8.1f} {cpu:8.1f} {queries:8}   {target}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run this on PostgreSQL (DATABASE_URL=postgres://...).")
    setup_test_environment()
    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The per-key limit (600/minute) would answer the bench 429: it measures the work instead.
    PerKeyThrottle.THROTTLE_RATES = {"api_key": "1000000/minute"}
    have = Case.objects.count()
    if have < args.cases:
        started = time.perf_counter()
        fill(args.cases - have)
        print(f"filled {args.cases - have:,} cases in {time.perf_counter() - started:.0f} s")
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {connection.cursor().connection.info.server_version}; "
        f"{Case.objects.count():,} cases; median of {args.repeat}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'request':52} {'median ms':>9} {'p95 ms':>8} {'CPU ms':>8} {'queries':>8}   target")

    ann, rita, sam = (
        api_client(e) for e in ("ann@acme.test", "rita@voicehub.test", "sam@phonism.test")
    )
    for name, client in (("agent", ann), ("reseller", rita), ("staff", sam)):
        report(
            f"case list, first page ({name})",
            timed(get(client, "/api/v1/cases/"), args.repeat),
            "< 30 ms",
        )
    report(
        "case list, first page, status=new (staff)",
        timed(get(sam, "/api/v1/cases/?status=new"), args.repeat),
        "< 30 ms",
    )
    demo_case = Case.objects.filter(tenant__slug="acme").order_by("pk").first()
    bulk_case = Case.objects.filter(tenant__slug="acme", reference__startswith="CS-B").first()
    for label, case in (("demo case with its thread", demo_case), ("bulk case", bulk_case)):
        report(
            f"a case, {label} (agent)",
            timed(get(ann, f"/api/v1/cases/{case.reference}/"), args.repeat),
            "< 15 ms",
        )
    escalated = Case.objects.filter(tenant__slug="initech", tier=2).order_by("pk").first()
    if escalated is not None:
        report(
            "a case, escalated, both clocks (reseller)",
            timed(get(rita, f"/api/v1/cases/{escalated.reference}/"), args.repeat),
            "< 15 ms",
        )

    portal = Client()
    portal.force_login(User.objects.get(email="ann@acme.test"))
    form = {"subject": SUBJECT, "severity": "4", "description": "Opened by bench_api."}

    def through_api():
        response = ann.post(
            "/api/v1/cases/", {**form, "severity": 4}, content_type="application/json"
        )
        assert response.status_code == 201, response.content[:300]

    def through_portal():
        response = portal.post("/cases/new/", form, HTTP_ORIGIN="http://testserver")
        assert response.status_code == 302, response.status_code

    before = Case.objects.count()
    runs: dict[str, list[tuple[float, float, int]]] = {"API": [], "portal": []}
    with muted():
        for _ in range(3):
            through_api()
            through_portal()
        for _ in range(args.repeat):
            runs["API"].append(once(through_api))
            runs["portal"].append(once(through_portal))
    for name, measured in runs.items():
        report(f"opening a case through the {name} (agent)", summary(measured), "API <= portal")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    Case.objects.filter(subject=SUBJECT).delete()
    ApiKey.objects.filter(name="bench_api").delete()
    assert Case.objects.count() == before


if __name__ == "__main__":
    main()
