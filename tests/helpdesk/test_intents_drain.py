"""The drain of notification intents (``notifications.intents_drain``): one intent whose
expansion raises does not hold up the others in its batch or after it; it is logged with its
id, tried again by later drains, then given up and shown on the outbox admin page, where staff
can have it worked out again once the cause is fixed."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from helpdesk import notifications
from helpdesk.models import NotificationIntent, OutboundEmail
from helpdesk.outbox import outbox_add
from tests.conftest import sign_in
from tests.factories import case_by

pytestmark = pytest.mark.django_db

OUTBOX_ADMIN = "/admin/helpdesk/outboundemail/"
RETRY = "/admin/helpdesk/outboundemail/retry-notifications/"


@pytest.fixture
def broken_for(monkeypatch):
    """Make expanding one case's intent fail halfway: its emails are written, then it raises
    (as a template or a lookup that breaks after the first rows would)."""
    broken: set[int] = set()

    def writes_then_raises(drafts):
        outbox_add(drafts)
        if any(draft.case_id in broken for draft in drafts):
            raise ValueError("brand has no mail domain")

    monkeypatch.setattr(notifications, "outbox_add", writes_then_raises)
    return broken


def later(minutes: int):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.mark.parametrize("batch", [200, 2, 1])
def test_one_failing_intent_does_not_block_the_others(demo, broken_for, caplog, batch) -> None:
    first, bad, last = (case_by(demo["ann"], subject=s) for s in ("First", "Bad", "Last"))
    broken_for.add(bad.pk)
    bad_intent = NotificationIntent.objects.get(case=bad)

    with caplog.at_level(logging.ERROR, logger="helpdesk.notifications"):
        assert notifications.intents_drain(now=later(3), batch=batch) == 2

    for case in (first, last):  # expanded: their team's and the requester's emails
        assert OutboundEmail.objects.filter(case=case).count() == 2
        assert not NotificationIntent.objects.filter(case=case).exists()
    # The bad one wrote nothing that stayed, and waits for the next drain.
    assert not OutboundEmail.objects.filter(case=bad).exists()
    bad_intent.refresh_from_db()
    assert bad_intent.attempts == 1 and bad_intent.failed_at is None
    assert bad_intent.last_error == "ValueError: brand has no mail domain"
    [record] = caplog.records
    assert f"Could not expand notification intent {bad_intent.pk}" in record.getMessage()
    assert bad.reference in record.getMessage()
    assert record.exc_info is not None


def test_a_failing_intent_is_retried_then_given_up_shown_and_worked_out_again(
    demo, broken_for, client
) -> None:
    bad = case_by(demo["ann"], subject="Bad")
    broken_for.add(bad.pk)
    intent = NotificationIntent.objects.get(case=bad)
    # The same drain does not try it twice; each later drain (after the requeue delay) does.
    assert notifications.intents_drain(now=later(3)) == 0
    assert notifications.intents_drain(now=later(4)) == 0
    intent.refresh_from_db()
    assert intent.attempts == 1
    for attempt in range(2, notifications.INTENT_MAX_ATTEMPTS + 1):
        notifications.intents_drain(now=later(3 * attempt + 3))
    intent.refresh_from_db()
    assert intent.attempts == notifications.INTENT_MAX_ATTEMPTS
    assert intent.failed_at is not None
    notifications.intents_drain(now=later(60))
    intent.refresh_from_db()
    assert intent.attempts == notifications.INTENT_MAX_ATTEMPTS  # given up: not tried again

    sign_in(client, demo["sam"])  # a support manager reads the outbox
    page = client.get(OUTBOX_ADMIN).content.decode()
    assert "Notifications not worked out: 1 case event(s)" in page
    assert f"intent {intent.pk} (Case opened, case" in page and bad.reference in page
    assert "ValueError: brand has no mail domain" in page

    broken_for.clear()  # the cause is fixed
    response = client.post(RETRY, follow=True)
    assert "1 notification(s) will be worked out again." in response.content.decode()
    assert notifications.intents_drain() == 1
    assert OutboundEmail.objects.filter(case=bad).count() == 2
    assert "Notifications not worked out: 0." in client.get(OUTBOX_ADMIN).content.decode()


def test_only_those_who_read_the_outbox_retry_and_only_by_post(demo, client) -> None:
    sign_in(client, demo["alice"])  # a support agent: no outbox
    assert client.post(RETRY).status_code == 403
    sign_in(client, demo["sam"])
    assert client.get(RETRY).status_code == 405


def test_the_databases_trouble_is_not_counted_against_an_intent(demo, monkeypatch) -> None:
    """A lost connection or a lock timeout while expanding stops the drain (the next one goes
    on): it is not the intent's fault, so no attempt is counted towards giving it up."""
    case = case_by(demo["ann"], subject="Database hiccup")
    intent = NotificationIntent.objects.get(case=case)

    def database_gone(drafts):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(notifications, "outbox_add", database_gone)
    with pytest.raises(OperationalError):
        notifications.intents_drain(now=later(3))
    intent.refresh_from_db()
    assert intent.attempts == 0 and intent.failed_at is None and intent.last_error == ""
