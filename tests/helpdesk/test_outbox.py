"""The outbox: a broker outage loses nothing, two deliveries send once, failures retry."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from smtplib import SMTPServerDisconnected

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from kombu.exceptions import OperationalError

from helpdesk import notifications, outbox, services, tasks
from helpdesk.emails import build_message
from helpdesk.models import (
    Channel,
    NotificationIntent,
    NotificationKind,
    OutboundEmail,
    OutboxStatus,
    Severity,
)
from tests.factories import case_by, worker_expands

pytestmark = pytest.mark.django_db


def open_case(person):
    """Open a case as ``person`` and let the worker expand its notifications."""
    case = services.case_open(
        tenant=person.membership.tenant,
        subject="Phones cannot register",
        description="Since 9am.",
        channel=Channel.PORTAL,
        severity=Severity.MAJOR,
        requester=person,
        opened_by=person,
    )
    worker_expands(case)
    return case


@pytest.fixture
def broker_down(monkeypatch):
    """Every enqueue fails as a Redis that refuses connections would."""

    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_email, "apply_async", refuse)
    monkeypatch.setattr(tasks.send_emails, "apply_async", refuse)
    monkeypatch.setattr(tasks.notification_expand, "apply_async", refuse)
    return monkeypatch


def test_opening_a_case_works_while_the_broker_is_down_and_the_drain_sends_later(
    demo, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = services.case_open(
            tenant=demo["ann"].membership.tenant,
            subject="Phones cannot register",
            description="Since 9am.",
            channel=Channel.PORTAL,
            severity=Severity.MAJOR,
            requester=demo["ann"],
            opened_by=demo["ann"],
        )  # no exception reaches the customer
    # Nobody took the notification intent: it waits in the database, committed with the case.
    assert NotificationIntent.objects.filter(case=case).count() == 1
    rows = OutboundEmail.objects.filter(case=case)
    assert mail.outbox == []

    broker_down.undo()  # the broker is back
    assert notifications.intents_drain() == 0  # too recent: maybe still on its way
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        tasks.outbox_drain.apply()  # the beat's drain: expands the intent, sends its emails
    with time_machine.travel(timezone.now() + timedelta(minutes=6), tick=False):
        assert notifications.intents_drain() == 0  # expanded once only
    received = sorted(to for m in mail.outbox if case.reference in m.subject for to in m.to)
    assert received == ["alice@phonism.test", "ann@acme.test", "sam@phonism.test"]
    assert rows.count() == 2
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}
    assert not NotificationIntent.objects.filter(case=case).exists()


def test_an_outbox_row_written_while_the_broker_is_down_is_sent_by_the_drain(
    demo, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = open_case(demo["ann"])  # expanded, but its emails cannot be enqueued
    rows = OutboundEmail.objects.filter(case=case)
    assert rows.count() == 2
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.PENDING}
    broker_down.undo()
    assert outbox.outbox_drain() == 0  # too recent: maybe still on its way
    with time_machine.travel(timezone.now() + timedelta(minutes=3), tick=False):
        assert outbox.outbox_drain() >= 2  # (the demo's emails may be waiting too)
        assert outbox.outbox_drain() == 0
    received = sorted(to for m in mail.outbox if case.reference in m.subject for to in m.to)
    assert received == ["alice@phonism.test", "ann@acme.test", "sam@phonism.test"]
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_two_deliveries_of_one_message_send_it_once(demo):
    case = case_by(demo["ann"])
    row = OutboundEmail.objects.get(case=case, kind=NotificationKind.ACKNOWLEDGEMENT)
    assert outbox.outbox_send(row.pk, build=build_message) is True
    assert outbox.outbox_send(row.pk, build=build_message) is False
    tasks.send_email.apply(args=(row.pk,))  # a redelivered task
    assert [m.to for m in mail.outbox] == [["ann@acme.test"]]
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)


def test_a_claim_abandoned_by_a_dead_worker_is_taken_again_after_the_lease(demo):
    case = case_by(demo["ann"])
    row = OutboundEmail.objects.get(case=case, kind=NotificationKind.ACKNOWLEDGEMENT)
    OutboundEmail.objects.filter(pk=row.pk).update(
        status=OutboxStatus.SENDING, claimed_at=timezone.now()
    )
    # another worker may be sending it right now
    assert outbox.outbox_send(row.pk, build=build_message) is False
    later = timezone.now() + outbox.CLAIM_LEASE + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):
        assert outbox.outbox_drain() >= 1
    acks = [m for m in mail.outbox if m.extra_headers["Message-ID"] == row.message_id]
    assert [m.to for m in acks] == [["ann@acme.test"]]


def test_an_smtp_failure_puts_the_row_back_and_the_task_retries(demo, monkeypatch):
    case = case_by(demo["ann"])
    row = OutboundEmail.objects.get(case=case, kind=NotificationKind.ACKNOWLEDGEMENT)
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) < 3:
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return 1

    monkeypatch.setattr("django.core.mail.EmailMessage.send", flaky)
    with pytest.raises(SMTPServerDisconnected):
        outbox.outbox_send(row.pk, build=build_message)
    row.refresh_from_db()
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "SMTPServerDisconnected" in row.last_error
    # The task retries on SMTP errors (eagerly here): the third try goes through.
    tasks.send_email.apply(args=(row.pk,))
    row.refresh_from_db()
    assert (row.status, row.attempts, len(calls)) == (OutboxStatus.SENT, 3, 3)


def test_a_row_that_keeps_failing_is_given_up_and_can_be_sent_again(demo, monkeypatch):
    case = case_by(demo["ann"])
    row = OutboundEmail.objects.get(case=case, kind=NotificationKind.ACKNOWLEDGEMENT)
    OutboundEmail.objects.filter(pk=row.pk).update(attempts=outbox.MAX_ATTEMPTS - 1)

    def down(self, *args, **kwargs):
        raise ConnectionRefusedError("smtp.example.test:587")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", down)
    with pytest.raises(ConnectionRefusedError):
        outbox.outbox_send(row.pk, build=build_message)
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED
    monkeypatch.undo()
    assert outbox.outbox_retry(ids=[row.pk]) == 1
    assert outbox.outbox_send(row.pk, build=build_message) is True


def test_a_template_error_fails_the_row_without_retrying(demo):
    case = case_by(demo["ann"])
    row = OutboundEmail.objects.get(case=case, kind=NotificationKind.ACKNOWLEDGEMENT)
    OutboundEmail.objects.filter(pk=row.pk).update(kind="no_such_template")
    with pytest.raises(Exception, match="no_such_template"):
        outbox.outbox_send(row.pk, build=build_message)
    row.refresh_from_db()
    assert row.status == OutboxStatus.FAILED


def test_many_rows_are_enqueued_as_a_few_fan_out_messages(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.send_email, "apply_async", lambda args, **kw: sent.append(args))
    monkeypatch.setattr(tasks.send_emails, "apply_async", lambda args, **kw: sent.append(args))
    assert outbox.enqueue(list(range(1, 1201)))
    assert [len(args[0]) for args in sent] == [500, 500, 200]
    sent.clear()
    assert outbox.enqueue([7, 8])
    assert sent == [(7,), (8,)]


def test_a_fresh_process_finds_the_tasks_the_outbox_enqueues_by_name() -> None:
    """Web processes and commands never import helpdesk.tasks themselves: the app registry's
    ready() must register them, or every email would wait for the drain."""
    code = (
        "import django; django.setup(); from helpdesk import outbox; "
        "print(outbox._task(outbox.SEND_TASK).name, outbox._task(outbox.FANOUT_TASK).name)"
    )
    done = subprocess.run(  # noqa: S603 - our own code
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "helpdesk.settings"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [outbox.SEND_TASK, outbox.FANOUT_TASK]
