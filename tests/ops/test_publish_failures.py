"""A publish the broker refuses is an error in the log and a counter in the admin, never a
silent warning (issue 10). The real broker that is down is in tests/worker/."""

from __future__ import annotations

import logging

import pytest
from django.db import DatabaseError
from kombu.exceptions import OperationalError

from helpdesk import tasks
from helpdesk.models import OutboundEmail, OutboxStatus
from ops import publish
from ops.publish import publish_failures, record_publish_failure
from tests.conftest import sign_in
from tests.factories import case_by

pytestmark = pytest.mark.django_db

OUTBOX_ADMIN = "/admin/helpdesk/outboundemail/"


@pytest.fixture
def broker_refuses(monkeypatch):
    """Every publish fails as it did with kombu's Redis transport missing its dependency."""

    def refuse(*args, **kwargs):
        raise OperationalError("No module named 'packaging'")

    monkeypatch.setattr(tasks.send_email, "apply_async", refuse)
    monkeypatch.setattr(tasks.send_emails, "apply_async", refuse)


def test_a_refused_publish_is_logged_as_an_error_and_counted(
    demo, broker_refuses, caplog, django_capture_on_commit_callbacks
):
    caplog.set_level(logging.INFO)
    with django_capture_on_commit_callbacks(execute=True):
        first = case_by(demo["ann"])
    with django_capture_on_commit_callbacks(execute=True):
        case_by(demo["ann"], subject="Voicemail is silent")

    records = [r for r in caplog.records if r.name == "helpdesk.outbox"]
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    assert "Could not publish 2 email(s) to the Celery broker" in records[0].getMessage()
    assert records[0].exc_info is not None  # the traceback says why
    failures = publish_failures()
    assert (failures.count, failures.items) == (2, 4)
    assert failures.last_error == "OperationalError: No module named 'packaging'"
    # Nothing is lost: the rows wait for the drain.
    statuses = set(OutboundEmail.objects.filter(case=first).values_list("status", flat=True))
    assert statuses == {OutboxStatus.PENDING}


def test_the_outbox_admin_shows_the_count_and_the_last_error(
    demo, broker_refuses, client, django_capture_on_commit_callbacks
):
    sign_in(client, demo["sam"])  # a support manager reads the outbox
    page = client.get(OUTBOX_ADMIN)
    assert page.status_code == 200
    assert "Publish failures: 0." in page.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        case_by(demo["ann"])
    page = client.get(OUTBOX_ADMIN).content.decode()
    assert "Publish failures: 1 (2 email(s) not handed to the broker)" in page
    assert "OperationalError: No module named &#x27;packaging&#x27;" in page


def test_a_working_broker_counts_nothing(demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case_by(demo["ann"])
    assert publish_failures() is None


def test_the_count_is_kept_when_the_database_refuses_to_write_it(demo, monkeypatch, caplog):
    """Counting must never raise into the caller (an on_commit hook of a committed change)."""

    def broken(*args, **kwargs):
        raise DatabaseError("database is read-only")

    monkeypatch.setattr(publish.PublishFailures.objects, "filter", broken)
    record_publish_failure(OperationalError("down"), items=1)
    assert any("Could not count" in r.getMessage() for r in caplog.records)
