"""Overlapping sweeps and senders on PostgreSQL, in real concurrent transactions: every event
is recorded once and every email sent once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from helpdesk import notifications, outbox, services
from helpdesk.emails import build_message
from helpdesk.models import Channel, NotificationKind, OutboundEmail, OutboxStatus, Severity
from sla import sweep as sweeping
from sla.models import ResponseClock, SlaEvent, SlaEventKind

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def overdue_cases(person, count: int) -> list[int]:
    with notifications.muted():
        ids = [
            services.case_open(
                tenant=person.membership.tenant,
                subject=f"Overdue {n}",
                description="x",
                channel=Channel.PORTAL,
                severity=Severity.CRITICAL,
                requester=person,
                opened_by=person,
            ).pk
            for n in range(count)
        ]
    now = timezone.now()
    ResponseClock.objects.filter(case_id__in=ids).update(
        dispatched_at=now - timedelta(hours=2),
        at_risk_at=now - timedelta(minutes=30),
        due_at=now - timedelta(minutes=1),
    )
    return ids


def in_threads(*targets) -> list:
    """Run ``targets`` at the same instant, each in its own thread and connection."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    errors: list[BaseException] = []

    def run(index: int, target) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except BaseException as error:  # surfaced in the test thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_two_sweeps_at_once_record_each_event_once_and_write_each_email_once(demo):
    cases = overdue_cases(demo["ann"], 300)
    results = in_threads(lambda: sweeping.sweep(batch=20), lambda: sweeping.sweep(batch=20))
    breaches = SlaEvent.objects.filter(case_id__in=cases, kind=SlaEventKind.BREACHED)
    assert breaches.count() == 300
    assert breaches.values("clock").distinct().count() == 300
    assert sum(result.breached for result in results) == 300
    emails = OutboundEmail.objects.filter(case_id__in=cases, kind=NotificationKind.BREACHED)
    assert emails.count() == 300
    assert emails.values("case").distinct().count() == 300


def test_a_sweep_that_raced_another_to_the_same_clocks_records_nothing(demo):
    """Without the lock (two sweeps that both read the clocks before either wrote): the second
    insert waits for the first transaction and then, by the constraint, inserts nothing."""
    cases = overdue_cases(demo["ann"], 5)
    ids = list(ResponseClock.objects.filter(case_id__in=cases).values_list("pk", flat=True))
    now = timezone.now()

    def first() -> set[int]:
        with transaction.atomic():
            inserted = sweeping.insert_events(sweeping.BREACHED, ids, now)
            time.sleep(0.5)  # the second sweep's insert arrives while this one is open
            return inserted

    def second() -> set[int]:
        time.sleep(0.1)
        with transaction.atomic():
            return sweeping.insert_events(sweeping.BREACHED, ids, now)

    won, lost = in_threads(first, second)
    assert won == set(ids) and lost == set()
    assert SlaEvent.objects.filter(clock_id__in=ids).count() == 5


def test_two_workers_sending_the_same_rows_send_each_once(demo, monkeypatch):
    cases = overdue_cases(demo["ann"], 40)
    monkeypatch.setattr(outbox, "enqueue", lambda ids: True)  # the rows wait for our workers
    sweeping.sweep()
    rows = list(
        OutboundEmail.objects.filter(case_id__in=cases, status=OutboxStatus.PENDING).values_list(
            "pk", flat=True
        )
    )
    assert len(rows) == 40
    mail.outbox.clear()

    def worker() -> int:
        return sum(outbox.outbox_send(pk, build=build_message) for pk in rows)

    sent = in_threads(worker, worker)
    assert sum(sent) == 40
    assert len([m for m in mail.outbox if "Response target breached" in m.subject]) == 40
