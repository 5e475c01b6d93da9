"""IMAP polling against a real Dovecot: new messages become cases, a second poll adds nothing,
a poll killed halfway and run again adds each message once, nothing is deleted or marked read,
and the password never shows up in errors or logs."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

import pytest
from django.test import override_settings
from imap_tools import MailBoxUnencrypted

from helpdesk.models import Case
from intake import imap
from intake.models import InboundMessage, Mailbox, Outcome
from intake.services import message_store
from intake.tasks import intake_poll
from tenants.models import Brand
from tests.conftest import IN_CI
from tests.intake import dovecot
from tests.intake.helpers import mail

pytestmark = [pytest.mark.django_db, pytest.mark.imap]


@pytest.fixture
def server():
    if dovecot.binary() is None:
        if IN_CI:
            pytest.fail("Dovecot is needed: CI must apt-get install dovecot-imapd (.ci/run)")
        pytest.skip("Dovecot not installed (apt-get install dovecot-imapd): IMAP tests skipped")
    folder = Path(tempfile.mkdtemp(prefix="helpdesk-dovecot-"))
    folder.chmod(0o755)  # Dovecot's own user reads its config and mail here
    process, info = dovecot.start(folder)
    yield info
    dovecot.stop(process)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mailbox(demo, server) -> Mailbox:
    return Mailbox.objects.create(
        name="VoiceHub support",
        brand=Brand.objects.get(name="VoiceHub"),
        host=server.host,
        port=server.port,
        use_ssl=False,
        username=server.user,
        password=server.password,
    )


def append(server, *messages: bytes) -> None:
    with MailBoxUnencrypted(server.host, server.port).login(server.user, server.password) as box:
        for raw in messages:
            box.append(raw, "INBOX", flag_set=[])


def in_mailbox(server) -> list:
    with MailBoxUnencrypted(server.host, server.port).login(server.user, server.password) as box:
        return list(box.fetch(mark_seen=False, headers_only=True))


def customers_mail(count: int) -> list[bytes]:
    return [
        mail(sender="ivan@initech.test", to="support@voicehub.test", subject=f"Problem {n}")
        for n in range(count)
    ]


def email_cases() -> list[str]:
    return sorted(
        Case.objects.filter(subject__startswith="Problem ").values_list("subject", flat=True)
    )


def test_new_messages_become_cases_and_a_second_poll_adds_nothing(server, mailbox):
    stranger = mail(sender="someone@example.org", to="support@voicehub.test", subject="Hi")
    robot = mail(headers={"Auto-Submitted": "auto-replied"}, subject="Out of office")
    append(server, *customers_mail(3), stranger, robot)

    assert imap.mailbox_poll(mailbox) == 5
    assert email_cases() == ["Problem 0", "Problem 1", "Problem 2"]
    outcomes = sorted(InboundMessage.objects.values_list("outcome", flat=True))
    assert outcomes == sorted([Outcome.CASE_OPENED] * 3 + [Outcome.TRIAGE, Outcome.IGNORED])
    case = Case.objects.get(subject="Problem 0")
    assert case.tenant.slug == "initech"
    assert InboundMessage.objects.get(case=case).brand.name == "VoiceHub"

    assert imap.mailbox_poll(mailbox) == 0
    assert InboundMessage.objects.count() == 5 and len(email_cases()) == 3

    # Never deleted, never marked read: the mailbox is as the customer's mail left it.
    kept = in_mailbox(server)
    assert len(kept) == 5 and all("\\Seen" not in m.flags for m in kept)


def test_only_messages_arriving_after_a_poll_are_fetched_next_time(server, mailbox):
    append(server, *customers_mail(2))
    imap.mailbox_poll(mailbox)
    append(server, mail(sender="ivan@initech.test", subject="Problem late"))
    assert imap.mailbox_poll(mailbox) == 1
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3 and mailbox.uidvalidity


class Killed(BaseException):
    """A worker killed mid-poll: nothing after this point runs, no handler catches it."""


@override_settings(INTAKE_IMAP_BATCH=3)
def test_a_poll_killed_halfway_and_rerun_adds_each_message_once(server, mailbox, monkeypatch):
    append(server, *customers_mail(8))
    stored = []

    def store_then_die(**kwargs):
        result = message_store(**kwargs)
        stored.append(kwargs["uid"])
        if len(stored) == 5:  # in the middle of the second batch, after storing its 2nd
            raise Killed
        return result

    monkeypatch.setattr(imap, "message_store", store_then_die)
    with pytest.raises(Killed):
        imap.mailbox_poll(mailbox)
    mailbox.refresh_from_db()
    assert mailbox.last_uid == 3  # the first batch was recorded; the second was not
    assert InboundMessage.objects.count() == 5

    monkeypatch.setattr(imap, "message_store", message_store)
    imap.mailbox_poll(mailbox)
    imap.mailbox_poll(mailbox)
    assert InboundMessage.objects.count() == 8
    assert email_cases() == [f"Problem {n}" for n in range(8)]
    assert not InboundMessage.objects.filter(outcome=Outcome.PENDING).exists()


def test_a_new_uidvalidity_refetches_without_duplicating(server, mailbox):
    append(server, *customers_mail(3))
    imap.mailbox_poll(mailbox)
    Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=1, last_uid=999)
    mailbox.refresh_from_db()
    assert imap.mailbox_poll(mailbox) == 0
    assert InboundMessage.objects.count() == 3 and len(email_cases()) == 3


def test_a_wrong_password_is_recorded_without_the_password(server, mailbox, caplog):
    mailbox.password = "wrong-password-that-must-not-leak"
    mailbox.save()
    with caplog.at_level(logging.DEBUG):
        assert imap.mailbox_poll(mailbox) == 0
    mailbox.refresh_from_db()
    assert mailbox.last_error
    assert "wrong-password-that-must-not-leak" not in mailbox.last_error
    assert "wrong-password-that-must-not-leak" not in caplog.text


def test_the_beat_task_polls_every_active_mailbox(server, mailbox):
    append(server, *customers_mail(2))
    Mailbox.objects.create(
        name="off", host="127.0.0.1", port=1, use_ssl=False, username="x", is_active=False
    )
    assert intake_poll() == 2  # the task run here, in this process, as a worker would run it
    assert len(email_cases()) == 2
