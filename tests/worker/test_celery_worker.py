"""The sweep and the emails through a real Celery worker on Redis, as in production."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from celery.signals import task_postrun
from django.core import mail
from django.utils import timezone
from kombu.transport import redis as kombu_redis

from helpdesk import tasks
from helpdesk.models import (
    NotificationIntent,
    NotificationKind,
    OutboundEmail,
    OutboxStatus,
    Severity,
)
from ops.publish import publish_failures
from sla import tasks as sla_tasks
from sla.models import SlaEvent, SlaEventKind
from tests.factories import case_by
from tests.worker.conftest import REDIS_URL, use_broker, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens there: a broker that is down


class Finished:
    """Counts tasks of one name finished by the worker thread."""

    def __init__(self, name: str) -> None:
        self.name, self.count, self.changed = name, 0, threading.Condition()
        task_postrun.connect(self.seen, weak=False)

    def seen(self, sender=None, **kwargs) -> None:
        if sender is not None and sender.name == self.name:
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    def wait(self, count: int, timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.count >= count, timeout), self.name

    def close(self) -> None:
        task_postrun.disconnect(self.seen)


def test_an_overdue_case_gets_one_breach_event_and_one_email_per_recipient_after_two_sweeps(
    demo, celery_on_redis
):
    with time_machine.travel(timezone.now() - timedelta(minutes=30), tick=False):
        case = case_by(demo["gina"], Severity.EMERGENCY)  # an Emergency: 10 minutes, long gone
    with celery_on_redis():
        # The opening's emails: its intent expanded by the worker, then sent.
        wait_for(
            lambda: (
                not NotificationIntent.objects.exists()
                and not OutboundEmail.objects.exclude(status=OutboxStatus.SENT).exists()
            )
        )
        mail.outbox.clear()
        sweeps = Finished(sla_tasks.sla_sweep.name)
        try:
            sla_tasks.sla_sweep.delay()
            sla_tasks.sla_sweep.delay()
            sweeps.wait(2)
        finally:
            sweeps.close()
        wait_for(lambda: not OutboundEmail.objects.exclude(status=OutboxStatus.SENT).exists())

    assert sorted(SlaEvent.objects.filter(case=case).values_list("kind", flat=True)) == [
        SlaEventKind.AT_RISK,
        SlaEventKind.BREACHED,
    ]
    received = sorted(to for m in mail.outbox if case.reference in m.subject for to in m.to)
    assert received == ["alice@phonism.test", "oncall@phonism.test", "sam@phonism.test"]
    breach = OutboundEmail.objects.get(case=case, kind=NotificationKind.BREACHED)
    assert breach.status == OutboxStatus.SENT and breach.attempts == 1


def test_a_case_opened_while_the_broker_is_down_is_notified_once_it_is_back(
    demo, celery_on_redis, settings, caplog
):
    use_broker(CLOSED_PORT)
    case = case_by(demo["ann"], Severity.MAJOR)  # on_commit's publish fails, not the request
    # The notification intent waits in the database, committed with the case.
    assert NotificationIntent.objects.filter(case=case).count() == 1
    rows = OutboundEmail.objects.filter(case=case)
    assert not rows.exists()
    # Loud, not a warning: an error in the log and a count staff see in the admin.
    errors = [r for r in caplog.records if r.levelname == "ERROR" and r.name == "helpdesk.outbox"]
    assert [r.getMessage().split(";")[0] for r in errors] == [
        "Could not publish task helpdesk.tasks.notification_expand to the Celery broker"
    ]
    failures = publish_failures()
    assert (failures.count, failures.items) == (1, 1)
    assert "OperationalError" in failures.last_error

    use_broker(REDIS_URL)  # the broker is back
    settings.OUTBOX_REQUEUE_AFTER = timedelta(0)  # no need to wait the two minutes here
    mail.outbox.clear()
    with celery_on_redis():
        drains = Finished(tasks.outbox_drain.name)
        try:
            tasks.outbox_drain.delay()  # what beat sends every minute
            drains.wait(1)
            wait_for(lambda: set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT})
            tasks.outbox_drain.delay()  # a second drain finds nothing left to send
            drains.wait(2)
        finally:
            drains.close()

    received = sorted(to for m in mail.outbox if case.reference in m.subject for to in m.to)
    assert received == ["alice@phonism.test", "ann@acme.test", "sam@phonism.test"]


def test_cases_opened_one_after_another_are_each_notified_through_one_publishing_client(
    demo, celery_on_redis, monkeypatch
):
    """The web process publishes each opening's intent through the same redis-py client
    (helpdesk/broker.py), and the worker still expands and sends every one of them."""
    built = []
    create = kombu_redis.Channel._create_client

    def counted(channel, asynchronous=False):
        built.append(asynchronous)
        return create(channel, asynchronous)

    monkeypatch.setattr(kombu_redis.Channel, "_create_client", counted)
    mail.outbox.clear()
    # Opened before the worker starts (SQLite's test database takes one writer at a time):
    # the three publishes wait on Redis.
    cases = [case_by(demo["ann"], Severity.MAJOR, subject=f"Line {n} is down") for n in (1, 2, 3)]
    publishing = built.count(False)
    with celery_on_redis():
        wait_for(
            lambda: (
                not NotificationIntent.objects.exists()
                and OutboundEmail.objects.filter(case__in=cases).count() == 6
                and not OutboundEmail.objects.exclude(status=OutboxStatus.SENT).exists()
            )
        )
    for case in cases:
        received = sorted(to for m in mail.outbox if case.reference in m.subject for to in m.to)
        assert received == ["alice@phonism.test", "ann@acme.test", "sam@phonism.test"]
    # Three publishes through one client (kombu alone would have built three).
    assert publishing == 1, built
