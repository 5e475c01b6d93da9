"""Store first, then process, in one transaction (intake.services.email_ingest): a message
whose processing fails is kept with the error as its outcome and retried; a crash before the
commit leaves nothing stored, and the same message delivered again is acted on once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from helpdesk.models import Case
from intake import services
from intake.models import InboundMessage, Outcome
from intake.services import messages_retry
from tests.intake.helpers import ingest, mail

pytestmark = pytest.mark.django_db


class Killed(BaseException):
    """The process killed mid-message: no handler catches it."""


def test_a_message_whose_processing_fails_is_kept_and_retried_once_fixed(demo, monkeypatch):
    before = Case.objects.count()
    raw = mail(subject="Handsets reboot")
    real_open = services.case_open

    def broken(**kwargs):
        real_open(**kwargs)  # the case is written, then the failure rolls it back
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "case_open", broken)
    row = ingest(raw)
    assert row.outcome == Outcome.FAILED and "RuntimeError" in row.reason
    stored = InboundMessage.objects.get(pk=row.pk)
    assert bytes(stored.raw) == raw and stored.outcome == Outcome.FAILED
    assert stored.attempts == 1 and stored.case is None
    assert Case.objects.count() == before  # nothing half done

    monkeypatch.setattr(services, "case_open", real_open)
    assert messages_retry(older_than=timedelta(0)) == 1
    stored.refresh_from_db()
    assert stored.outcome == Outcome.CASE_OPENED and stored.attempts == 2
    assert Case.objects.count() == before + 1
    assert Case.objects.get(pk=stored.case_id).subject == "Handsets reboot"


def test_a_crash_before_the_commit_stores_nothing_and_the_redelivery_acts_once(demo, monkeypatch):
    before = Case.objects.count()
    raw = mail(subject="Voicemail is silent")
    real_open = services.case_open

    def killed(**kwargs):
        real_open(**kwargs)
        raise Killed

    monkeypatch.setattr(services, "case_open", killed)
    with pytest.raises(Killed):  # the pipe exits non-zero: the mail server keeps the message
        ingest(raw)
    assert not InboundMessage.objects.exists() and Case.objects.count() == before

    monkeypatch.setattr(services, "case_open", real_open)
    row = ingest(raw)  # delivered again
    assert row.outcome == Outcome.CASE_OPENED
    assert ingest(raw).pk == row.pk  # and once more: the stored row, nothing new
    assert InboundMessage.objects.count() == 1 and Case.objects.count() == before + 1


def test_the_outcome_returned_is_the_one_stored(demo):
    row = ingest(mail(subject="Cannot transfer calls"))
    stored = InboundMessage.objects.get(pk=row.pk)
    fields = ["outcome", "reason", "case_id", "brand_id", "sender_tenant_id", "from_address"]
    assert [getattr(stored, f) for f in fields] == [getattr(row, f) for f in fields]
    assert stored.subject == "Cannot transfer calls" and stored.attempts == 1
    assert stored.processed_at == row.processed_at
