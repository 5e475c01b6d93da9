"""Server time of one case's page, in the admin and on the portal (issue 10's target).

    export DATABASE_URL=postgres://USER@HOST:5432/helpdesk_bench   (migrated, seed_demo run)
    python bench/bench_case_page.py            # ENTRIES=50 REPEATS=30

Finds (or makes, once) an Acme case whose timeline has ENTRIES entries: the opening event,
replies by the customer's and the support side's people (one in five with an attachment) and
assignment events by staff. Then requests, in-process through Django's test client
(middleware, view, template: the server's whole share of a request), the admin change page as
a support agent (signed in with their second factor) and the portal's case page as the
requester, 3 warm-up requests then REPEATS timed ones each, the two pages interleaved so that
the machine's noise falls on both alike, and prints the median, the 95th percentile, the
median CPU time of this process per request (steadier than wall time on a shared machine; the
database server's share is not in it) and the queries per request.
Target: the admin page under 20 ms, and no slower than the portal's page.

    python bench/bench_case_page.py --profile   # where the admin page's time goes

profiles REPEATS admin page requests with cProfile (the 25 costliest functions, cumulative and
own time) and lists the page's queries.
"""

from __future__ import annotations

import cProfile
import os
import platform
import pstats
import statistics
import sys
import time
from datetime import timedelta
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
from helpdesk import notifications, services  # noqa: E402
from helpdesk.models import (  # noqa: E402
    Attachment,
    Case,
    CaseEvent,
    CaseUpdate,
    Channel,
    EventKind,
    Severity,
    Visibility,
)
from tenants.models import User  # noqa: E402

ENTRIES = int(os.environ.get("ENTRIES", "50"))
REPEATS = int(os.environ.get("REPEATS", "30"))


def bench_case(entries: int) -> Case:
    subject = f"Bench: a case with {entries} timeline entries"
    case = Case.objects.filter(subject=subject).first()
    if case is not None:
        return case
    ann = User.objects.get(email="ann@acme.test")
    people = [ann, *User.objects.filter(email__in=["bob@acme.test", "alice@phonism.test"])]
    staff = [p for p in people if p.is_staff] or people
    with notifications.muted():
        case = services.case_open(
            tenant=ann.membership.tenant,
            subject=subject,
            description="Made by bench/bench_case_page.py.",
            channel=Channel.PORTAL,
            severity=Severity.MODERATE,
            requester=ann,
            opened_by=ann,
        )
    start = case.created_at
    updates, events = [], []
    for n in range(1, entries):  # the opening event is the first entry
        at = start + timedelta(minutes=n)
        if n % 2:
            author = people[n % len(people)]
            updates.append(
                CaseUpdate(
                    case=case,
                    author=author,
                    author_email=author.email,
                    visibility=Visibility.PUBLIC,
                    body=f"Reply {n}: we checked the trunk and the registrar again.",
                    by_support=author.is_staff,
                    created_at=at,
                )
            )
        else:
            actor = staff[n % len(staff)]
            events.append(
                CaseEvent(
                    case=case,
                    actor=actor,
                    kind=EventKind.ASSIGNED,
                    new_value=actor.email,
                    visibility=Visibility.PUBLIC,
                    created_at=at,
                )
            )
    CaseUpdate.objects.bulk_create(updates)
    CaseEvent.objects.bulk_create(events)
    Attachment.objects.bulk_create(
        Attachment(
            case=case,
            update=update,
            file=f"bench/{case.pk}/trace-{n}.txt",
            filename=f"trace-{n}.txt",
            content_type="text/plain",
            size=1000,
            uploaded_by=update.author,
        )
        for n, update in enumerate(updates[::5])
    )
    return case


def timed(client: Client, url: str) -> tuple[float, float, int]:
    """Wall and CPU milliseconds of one request, and its queries."""
    with CaptureQueriesContext(connection) as queries:
        start, cpu = time.perf_counter(), time.process_time()
        response = client.get(url)
        elapsed = (time.perf_counter() - start) * 1000
        cpu = (time.process_time() - cpu) * 1000
    assert response.status_code == 200, url
    return elapsed, cpu, len(queries)


def staff_client(email: str) -> Client:
    """Signed in as staff are after their second factor: the session is verified with their
    authenticator app (the admin opens for nobody else)."""
    client, staff = Client(), User.objects.get(email=email)
    client.force_login(staff)
    device = TOTPDevice.objects.filter(user=staff, confirmed=True).first() or (
        TOTPDevice.objects.create(user=staff, name="Bench app", confirmed=True)
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def main() -> None:
    case = bench_case(ENTRIES)
    timeline = case.updates.count() + case.events.count()
    version = connection.pg_version if connection.vendor == "postgresql" else ""
    print(f"Python {platform.python_version()}, {connection.vendor} {version}")
    print(f"{Case.objects.count():,} cases; {case.reference} has {timeline} timeline entries")
    print(f"{REPEATS} timed requests per page, the two pages interleaved (the same noise)\n")
    agent = Client()
    agent.force_login(User.objects.get(email="ann@acme.test"))
    pages = [
        (
            "admin case page (alice)",
            staff_client("alice@phonism.test"),
            f"/admin/helpdesk/case/{case.pk}/change/",
        ),
        ("portal case page (ann)", agent, f"/cases/{case.reference}/"),
    ]
    for _, client, url in pages:
        for _ in range(3):
            timed(client, url)
    if "--profile" in sys.argv:
        profile(*pages[0][1:])
        return
    timings: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in pages}
    queries: dict[str, int] = {}
    for _ in range(REPEATS):
        for name, client, url in pages:
            elapsed, used, queries[name] = timed(client, url)
            timings[name].append(elapsed)
            cpu[name].append(used)
    print(f"{'page':<28}{'median ms':>10}{'p95 ms':>9}{'CPU ms':>9}{'queries':>9}")
    for name, values in timings.items():
        values.sort()
        median, p95 = statistics.median(values), values[int(len(values) * 0.95) - 1]
        used = statistics.median(cpu[name])
        print(f"{name:<28}{median:>10.1f}{p95:>9.1f}{used:>9.1f}{queries[name]:>9}")


def profile(client: Client, url: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    print(f"{len(queries)} queries:")
    for query in queries.captured_queries:
        print(f"  {query['time']}s  {query['sql'][:160]}")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(REPEATS):
        client.get(url)
    profiler.disable()
    stats = pstats.Stats(profiler)
    if os.environ.get("PROFILE_OUT"):  # for pstats or snakeviz
        stats.dump_stats(os.environ["PROFILE_OUT"])
    for order in ("cumulative", "tottime"):
        print(f"\n{REPEATS} requests, by {order} time:")
        stats.sort_stats(order).print_stats(25)


if __name__ == "__main__":
    main()
