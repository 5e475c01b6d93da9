"""Real-world messages the project did not write (tests/intake/corpus/README.md), and
generated malformed ones: no crash, and every message ends with a recorded outcome."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.models import InboundMessage, Outcome
from tests.intake.helpers import ingest

pytestmark = pytest.mark.django_db

CORPUS = Path(__file__).parent / "corpus"
SETTLED = {Outcome.CASE_OPENED, Outcome.UPDATE_ADDED, Outcome.IGNORED, Outcome.TRIAGE}
CPYTHON = sorted((CORPUS / "cpython").glob("msg_*.txt"))
BOUNCES = sorted((CORPUS / "bounces").glob("*.txt"))
REPLIES = sorted((CORPUS / "replies").glob("*.eml"))
# flufl.bounce keeps one human reply among its samples, to test that it is *not* a bounce.
NOT_A_BOUNCE = {"groupwise_03.txt"}


def test_the_corpus_is_there():
    assert len(CPYTHON) >= 40 and len(BOUNCES) >= 40 and len(REPLIES) >= 12


def test_cpythons_test_messages_each_get_an_outcome(db):
    for path in CPYTHON:
        row = ingest(path.read_bytes())
        assert row.outcome in SETTLED, (path.name, row.outcome, row.reason)
    assert not InboundMessage.objects.filter(outcome__in=[Outcome.PENDING, Outcome.FAILED])


def test_cpythons_test_messages_from_an_agent_open_cases_or_are_ignored(demo):
    """The same messages, as if an agent had sent them: each opens a case unless a header
    says it is automatic."""
    for path in CPYTHON:
        raw = re.sub(rb"(?im)^(from|message-id):[^\n]*\n([ \t][^\n]*\n)*", b"", path.read_bytes())
        raw = b"From: ann@acme.test\nMessage-ID: <" + path.name.encode() + b"@corpus>\n" + raw
        row = ingest(raw)
        assert row.outcome in {Outcome.CASE_OPENED, Outcome.IGNORED, Outcome.TRIAGE}, (
            path.name,
            row.reason,
        )
        if row.outcome == Outcome.CASE_OPENED:
            assert row.case.description and row.case.subject


@pytest.mark.parametrize("path", BOUNCES, ids=lambda p: p.name)
def test_bounces_are_ignored_as_automatic(db, path):
    row = ingest(path.read_bytes())
    if path.name in NOT_A_BOUNCE:
        assert row.outcome == Outcome.TRIAGE  # a stranger's reply: kept for staff
    else:
        assert row.outcome == Outcome.IGNORED, row.reason


def test_a_bounce_of_our_notification_never_reaches_the_case(demo, acme_case):
    bounce = (CORPUS / "bounces" / "postfix_01.txt").read_bytes()
    row = ingest(bounce)
    assert row.outcome == Outcome.IGNORED and acme_case.updates.count() == 0


@pytest.mark.parametrize("path", REPLIES, ids=lambda p: p.name)
def test_replies_from_common_mail_clients_add_just_the_new_words(demo, acme_case, path):
    message = message_from_bytes(path.read_bytes(), policy=policy.compat32)
    for name in ("From", "To", "Message-ID", "In-Reply-To", "References"):
        del message[name]
    message["From"] = "ann@acme.test"
    message["To"] = "support@phonism.test"
    message["Message-ID"] = f"<{path.stem}@corpus>"
    message["In-Reply-To"] = acme_case.emails.get(kind="acknowledgement").message_id
    row = ingest(message.as_bytes())
    assert row.outcome == Outcome.UPDATE_ADDED, row.reason
    expected_file = path.with_name(path.stem + "_reply_text")
    expected = expected_file.read_text().strip() if expected_file.exists() else "Hello"
    body = row.update.body
    # The new words, without the quoted history (signatures may go too: talon keeps them).
    assert body.startswith(expected.split("\n")[0].strip()), body
    assert ">" not in body and "wrote" not in body and "написал" not in body, body
    assert row.update.attachments.filter(filename="original-message.txt").exists()


# --- generated malformed messages ----------------------------------------------------------

HEADER_NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "MIME-Version",
        "Return-Path",
        "Auto-Submitted",
        "Date",
        "X-Junk",
    ]
)
NASTY_VALUES = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "ann@acme.test",
            "Ann <ann@acme.test",
            "=?utf-8?B?!!!invalid?=",
            "=?x-unknown?Q?caf=E9?= <ann@acme.test>",
            "multipart/mixed; boundary=",
            'multipart/mixed; boundary="b"',
            "multipart/alternative",
            "text/plain; charset=x-nonexistent",
            "text/html; charset=utf-7",
            "message/rfc822",
            "multipart/report",
            "base64",
            "quoted-printable",
            "attachment; filename*=utf-8''%FF%FE.exe",
            "<a@b> <<<>>> <",
            "[CS-10001] hello",
            "",
        ]
    ),
)
BODIES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=400).map(str.encode),
    st.sampled_from(
        [
            b"--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: image/png\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64===\r\n",
            b"--b\r\n--b\r\n--b--",
            b"=\r\n=XX=\r\n" * 20,
            b"\x00\x00\xff\xfe<html><body><p>hi</p><script>x</script>",
            b"<html>" * 200,
            b"A" * 5000,
        ]
    ),
)


@st.composite
def malformed_messages(draw) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, NASTY_VALUES), max_size=12))
    separator = draw(st.sampled_from([b"\r\n", b"\n", b"\r", b""]))
    lines = [
        name.encode() + b": " + value.encode("utf-8", "surrogateescape") for name, value in headers
    ]
    if draw(st.booleans()):
        lines.append(draw(st.binary(max_size=60)))  # a line that is no header at all
    return separator.join(lines) + separator + separator + draw(BODIES)


def test_malformed_messages_never_crash_and_always_get_an_outcome(demo):
    ingested: list[int] = []

    @settings(
        max_examples=1100,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(raw=malformed_messages().filter(lambda raw: raw.strip()))
    def one(raw: bytes) -> None:
        row = ingest(raw)
        assert row.outcome in SETTLED, row.reason
        assert row.reason
        ingested.append(row.pk)

    one()
    assert len(ingested) >= 1000
    assert InboundMessage.objects.filter(pk__in=ingested).exclude(outcome__in=SETTLED).count() == 0
    # Some of them came from an agent and opened cases; the rest were kept with a reason.
    assert InboundMessage.objects.filter(outcome=Outcome.CASE_OPENED).exists()
    assert InboundMessage.objects.filter(outcome=Outcome.TRIAGE).exists()
