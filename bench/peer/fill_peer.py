"""Creates, migrates and fills the peer's database (django-helpdesk 2.6.1) for bench_peer.py.

Run with the peer's virtualenv (setup.sh does, after installing it):

    PEER_DATABASE_URL=postgres://USER@HOST:5432/peer_bench PEER_VENV/bin/python bench/peer/fill_peer.py

Creates the database if it is missing (through the server's `postgres` database), runs
django-helpdesk's migrations, then, unless the tickets are already there, adds:

* 4 queues, 3 staff agents and the benchmark's staff user (STAFF_USERNAME, password from
  PEER_PASSWORD, default "demo-password"; the same as Phonism's demo people);
* TICKETS tickets (default 100,000, the two below included) spread over the 4 queues and over
  the last two years: 30 % open, 5 % reopened, 15 % resolved, 50 % closed, priorities 1-5, two
  in three assigned to an agent, each with its opening follow-up (public, the description as
  its comment), written with bulk_create;
* one ticket with 50 follow-ups: its opening one and 49 made through django-helpdesk's own
  update function (helpdesk.update_ticket.update_ticket, as its staff page's "update" does,
  e-mails to the local-memory backend included): 34 public, 16 private, 18 of them with a
  change row (priority, owner or status); and one with 5 (its opening one, 4 updates, 1
  private, 2 with a change row). Both from SUBMITTER, whose address opens their public view.

Then ANALYZE. Re-running on a filled database changes nothing (`--force` is not offered: drop
the database to start again).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from pathlib import Path

# This folder only: the repository's root holds Phonism's own package named `helpdesk`.
HERE = Path(__file__).resolve().parent
sys.path[:] = [str(HERE)] + [p for p in sys.path if p and Path(p).resolve() != HERE.parents[1]]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_site.settings")

TICKETS = int(os.environ.get("TICKETS", "100000"))
STAFF_USERNAME = "staff"
STAFF_EMAIL = "staff@example.test"
SUBMITTER = "customer@example.test"
TITLE_50 = "Benchmark ticket with 50 follow-ups"
TITLE_5 = "Benchmark ticket with 5 follow-ups"
BATCH = 5000

COMMENT = (
    "Thanks for the details. We looked at the trunk's registrations and the calls that dropped "
    "at 14:02 and 14:09; both were routed through the secondary SBC, whose certificate was "
    "renewed this morning.\n\nCould you confirm whether the handsets in the Leeds office "
    "still show *No service*? If so, please send a screenshot of the status page."
)


def create_database() -> None:
    """CREATE DATABASE through the server's maintenance database, if it is not there yet."""
    import psycopg
    from django.conf import settings
    from psycopg import sql

    db = settings.DATABASES["default"]
    params = {
        key: db[name]
        for key, name in (
            ("user", "USER"),
            ("password", "PASSWORD"),
            ("host", "HOST"),
            ("port", "PORT"),
        )
        if db.get(name)
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
            return
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
        print(f"created database {db['NAME']}", flush=True)


def people():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    password = os.environ.get("PEER_PASSWORD", "demo-password")
    staff, made = User.objects.get_or_create(
        username=STAFF_USERNAME, defaults={"email": STAFF_EMAIL, "is_staff": True}
    )
    if made:
        staff.set_password(password)
        staff.save()
    agents = []
    for n in range(1, 4):
        agent, made = User.objects.get_or_create(
            username=f"agent{n}", defaults={"email": f"agent{n}@example.test", "is_staff": True}
        )
        if made:
            agent.set_password(password)
            agent.save()
        agents.append(agent)
    return staff, agents


def queues():
    from helpdesk.models import Queue

    found = []
    for slug, title in (
        ("voice", "Voice"),
        ("numbers", "Numbers and porting"),
        ("billing", "Billing"),
        ("network", "Network"),
    ):
        queue, _ = Queue.objects.get_or_create(
            slug=slug,
            defaults={
                "title": title,
                "email_address": f"{slug}@example.test",
                "allow_public_submission": True,
            },
        )
        found.append(queue)
    return found


def status_of(i: int) -> int:
    """30 % open, 5 % reopened, 15 % resolved, 50 % closed, mixed over time."""
    from helpdesk.models import Ticket

    slot = (i * 7) % 20
    if slot < 6:
        return Ticket.OPEN_STATUS
    if slot < 7:
        return Ticket.REOPENED_STATUS
    if slot < 10:
        return Ticket.RESOLVED_STATUS
    return Ticket.CLOSED_STATUS


def bulk_tickets(count: int, qs, agents) -> None:
    """``count`` tickets and their opening follow-ups, oldest first, over the last two years."""
    from django.utils import timezone

    from helpdesk.models import FollowUp, Ticket

    created_field, modified_field = (
        Ticket._meta.get_field("created"),
        Ticket._meta.get_field("modified"),
    )
    # The model stamps both on every save (auto_now_add, auto_now); bulk_create too. Old tickets
    # need their own dates, so the stamps are off while this runs.
    created_field.auto_now_add = modified_field.auto_now = False
    try:
        now = timezone.now()
        span = timedelta(days=730)
        started = time.perf_counter()
        for first in range(0, count, BATCH):
            tickets = []
            for i in range(first, min(first + BATCH, count)):
                created = now - span + span * i / count
                status = status_of(i)
                done = status in (Ticket.RESOLVED_STATUS, Ticket.CLOSED_STATUS)
                tickets.append(
                    Ticket(
                        title=f"Calls dropping on line {i % 997} ({i})",
                        queue=qs[i % len(qs)],
                        created=created,
                        modified=created + timedelta(hours=1 + i % 48) if done else created,
                        submitter_email=f"customer{i % 5000}@example.test",
                        assigned_to=agents[i % 3] if i % 3 else None,
                        status=status,
                        description=f"Ticket {i}: outbound calls drop after about 30 seconds.",
                        resolution="Fixed on the carrier's side." if done else None,
                        priority=1 + (i * 3) % 5,
                    )
                )
            Ticket.objects.bulk_create(tickets)
            FollowUp.objects.bulk_create(
                FollowUp(
                    ticket=t,
                    date=t.created,
                    title="Ticket Opened",
                    comment=t.description,
                    public=True,
                )
                for t in tickets
            )
            print(
                f"  {first + len(tickets):,} tickets ({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    finally:
        created_field.auto_now_add = modified_field.auto_now = True


def ticket_with_updates(
    title: str, queue, staff, agents, updates: int, changes: set[int], private: set[int]
):
    """A ticket opened as its form does, then ``updates`` follow-ups through update_ticket."""
    from helpdesk.update_ticket import update_ticket

    from helpdesk.models import FollowUp, Ticket

    ticket = Ticket.objects.create(
        title=title,
        queue=queue,
        submitter_email=SUBMITTER,
        status=Ticket.OPEN_STATUS,
        description="Calls to the Leeds office drop after 30 seconds since this morning.",
        priority=3,
        assigned_to=agents[0],
    )
    FollowUp.objects.create(
        ticket=ticket, title="Ticket Opened", comment=ticket.description, public=True, user=staff
    )
    kinds = ("priority", "owner", "status")
    statuses = (Ticket.RESOLVED_STATUS, Ticket.REOPENED_STATUS)
    changes_at = {i: kinds[n % 3] for n, i in enumerate(sorted(changes))}
    status_turns = 0
    for i in range(1, updates + 1):
        ticket.refresh_from_db()
        kwargs = {}
        kind = changes_at.get(i)
        if kind == "priority":
            kwargs["priority"] = 2 if ticket.priority != 2 else 3
        elif kind == "owner":
            current = ticket.assigned_to_id
            kwargs["owner"] = next(a.id for a in agents if a.id != current)
        elif kind == "status":
            kwargs["new_status"] = statuses[status_turns % 2]
            status_turns += 1
        update_ticket(
            staff,
            ticket,
            comment=f"Update {i}. {COMMENT}",
            public=i not in private,
            **kwargs,
        )
    return ticket


def main() -> None:
    import django

    create_database()
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Count

    from helpdesk.models import FollowUp, Ticket, TicketChange

    call_command("migrate", verbosity=0)
    if Ticket.objects.exists():
        print(f"already filled: {Ticket.objects.count():,} tickets; nothing done")
        return
    staff, agents = people()
    qs = queues()
    started = time.perf_counter()
    bulk_tickets(TICKETS - 2, qs, agents)
    # 49 updates after the opening follow-up: every third private (16), 18 with a change
    # (priority, owner, status in turn; the owner changes fall on private ones, as in-house
    # reassignments do).
    fifty = ticket_with_updates(
        TITLE_50,
        qs[0],
        staff,
        agents,
        updates=49,
        changes={i for i in range(1, 48) if i % 11 in (1, 3, 5, 7)},
        private={i for i in range(1, 50) if i % 3 == 0},
    )
    five = ticket_with_updates(
        TITLE_5, qs[0], staff, agents, updates=4, changes={1, 3}, private={2}
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    for ticket in (fifty, five):
        followups = FollowUp.objects.filter(ticket=ticket)
        print(
            f"ticket {ticket.id} ({ticket.title}): {followups.count()} follow-ups, "
            f"{followups.filter(public=True).count()} public, "
            f"{followups.filter(ticketchange__isnull=False).distinct().count()} with change rows "
            f"({TicketChange.objects.filter(followup__ticket=ticket).count()} rows)"
        )
    by_status = dict(Ticket.objects.values_list("status").annotate(n=Count("id")))
    print(
        f"filled {Ticket.objects.count():,} tickets, {FollowUp.objects.count():,} follow-ups in "
        f"{time.perf_counter() - started:.0f} s; by status {by_status}"
    )


if __name__ == "__main__":
    main()
