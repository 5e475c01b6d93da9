"""Automatic messages never open or reopen cases; the reason names what gave them away."""

import pytest
from django.test import override_settings

from helpdesk.emails import build_message
from helpdesk.models import Case, OutboundEmail, Status
from helpdesk.services import case_change_status
from intake.models import Outcome
from tests.intake.helpers import ingest, mail

pytestmark = pytest.mark.django_db

AUTOMATIC = [
    ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
    ({"Auto-Submitted": "auto-generated"}, "Auto-Submitted: auto-generated"),
    ({"Precedence": "bulk"}, "Precedence: bulk"),
    ({"Precedence": "junk"}, "Precedence: junk"),
    ({"Precedence": "list"}, "Precedence: list"),
    ({"X-Auto-Response-Suppress": "All"}, "X-Auto-Response-Suppress"),
    ({"X-Autoreply": "yes"}, "X-Autoreply"),
    ({"List-Id": "<ops.lists.example>"}, "List-Id"),
    ({"List-Unsubscribe": "<mailto:leave@lists.example>"}, "List-Unsubscribe"),
    ({"Return-Path": "<>"}, "Return-Path: <>"),
    ({"X-Helpdesk-Loop": "phonism.test"}, "X-Helpdesk-Loop"),
]


@pytest.mark.parametrize(("headers", "reason"), AUTOMATIC)
def test_automatic_messages_open_nothing(demo, headers, reason):
    before = Case.objects.count()
    row = ingest(mail(headers=headers, subject="Out of office"))
    assert row.outcome == Outcome.IGNORED
    assert reason in row.reason
    assert Case.objects.count() == before


@pytest.mark.parametrize(("headers", "reason"), AUTOMATIC[:3])
def test_automatic_replies_never_reopen_a_resolved_case(demo, acme_case, headers, reason):
    case_change_status(case=acme_case, actor=demo["ann"], status=Status.RESOLVED)
    row = ingest(mail(headers=headers, subject=f"Re: [{acme_case.reference}] Out of office"))
    acme_case.refresh_from_db()
    assert row.outcome == Outcome.IGNORED and acme_case.status == Status.RESOLVED


def test_auto_submitted_no_is_a_person(demo):
    assert ingest(mail(headers={"Auto-Submitted": "no"})).outcome == Outcome.CASE_OPENED


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.acme.test", "postmaster@acme.test"])
def test_mailer_daemon_and_postmaster_are_automatic(demo, sender):
    row = ingest(mail(sender=sender))
    assert row.outcome == Outcome.IGNORED and "automatic sender" in row.reason


def test_a_delivery_status_report_is_automatic(demo):
    raw = (
        b"From: ann@acme.test\r\nTo: support@phonism.test\r\nSubject: Delivery failure\r\n"
        b"Message-ID: <dsn@mx.example>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nAction: failed\r\n\r\n--b--\r\n"
    )
    row = ingest(raw)
    assert row.outcome == Outcome.IGNORED and "multipart/report" in row.reason


def test_our_own_notification_coming_back_is_ignored(demo, acme_case):
    ack = OutboundEmail.objects.get(case=acme_case, kind="acknowledgement")
    raw = build_message(ack).message().as_bytes()
    row = ingest(raw)
    assert row.outcome == Outcome.IGNORED


def test_our_message_id_coming_back_without_headers_is_ignored(demo, acme_case):
    ack = OutboundEmail.objects.get(case=acme_case, kind="acknowledgement")
    row = ingest(mail(sender="ann@acme.test", message_id=ack.message_id))
    assert row.outcome == Outcome.IGNORED and "one of ours" in row.reason


@override_settings(INTAKE_MAX_CASES_PER_HOUR=2)
def test_a_loop_with_a_human_looking_robot_is_capped(demo):
    """A responder that strips every header still cannot open more than the cap."""
    rows = [ingest(mail(subject=f"Re: Re: Re: loop {n}")) for n in range(6)]
    assert sum(r.outcome == Outcome.CASE_OPENED for r in rows) == 2
    assert all(r.outcome == Outcome.TRIAGE for r in rows[2:])


def test_every_notification_we_send_says_it_is_ours(demo, acme_case):
    for row in OutboundEmail.objects.filter(case=acme_case):
        headers = build_message(row).extra_headers
        assert headers["X-Helpdesk-Loop"] == "phonism.test"
        if row.auto_submitted:
            assert headers["Auto-Submitted"] == "auto-generated"
