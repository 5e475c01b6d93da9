"""`manage.py ingest_email` as a mail server runs it: a process, the message on stdin, the exit
code as the answer (0 stored, 75 try again later), never a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "new-case-from-ivan.eml"


def run(
    args: list[str], stdin: bytes, database_url: str, files: Path
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EMAIL_URL": "dummymail://",
        "ATTACHMENTS_ROOT": str(files),
    }
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def folder(demo_database) -> Path:
    return demo_database[1]


@pytest.fixture(scope="module")
def world(demo_database) -> str:
    """A real database file with the demo world, as `make run` leaves it."""
    return demo_database[0]


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
        return connection.execute(sql, params).fetchall()


def test_it_opens_a_case_from_the_documented_example_and_exits_0(world, folder):
    done = run(
        ["ingest_email", "--recipient", "support@voicehub.test"],
        EXAMPLE.read_bytes(),
        world,
        folder,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert b"Case opened" in done.stdout
    rows = query(
        world,
        "SELECT c.subject, c.severity, c.channel, t.slug FROM intake_inboundmessage m "
        "JOIN helpdesk_case c ON c.id = m.case_id JOIN tenants_tenant t ON t.id = c.tenant_id",
    )
    assert rows == [("Voicemail to email stopped on the front desk phone", 5, "email", "initech")]
    attachments = query(
        world, "SELECT filename FROM helpdesk_attachment WHERE filename LIKE 'device%'"
    )
    assert attachments == [("device-log.txt",)]


def test_the_same_message_piped_again_is_stored_once_and_exits_0(world, folder):
    done = run(["ingest_email"], EXAMPLE.read_bytes(), world, folder)
    assert done.returncode == 0
    assert query(world, "SELECT count(*) FROM intake_inboundmessage") == [(1,)]
    subject = "Voicemail to email stopped on the front desk phone"
    assert query(world, "SELECT count(*) FROM helpdesk_case WHERE subject = ?", (subject,)) == [
        (1,)
    ]


def test_a_strangers_mail_is_stored_for_triage_and_exits_0(world, folder):
    raw = b"From: someone@example.org\nSubject: hello\nMessage-ID: <s1@example.org>\n\nHi there"
    done = run(["ingest_email"], raw, world, folder)
    assert done.returncode == 0 and b"Held for triage" in done.stdout
    assert query(
        world, "SELECT outcome FROM intake_inboundmessage WHERE message_id = 's1@example.org'"
    ) == [("triage",)]


def test_garbage_is_stored_with_an_outcome_and_exits_0(world, folder):
    done = run(["ingest_email"], b"\xff\xfe\x00 not an email at all \x00\n\n\x80", world, folder)
    assert done.returncode == 0, done.stderr.decode()
    assert b"Traceback" not in done.stderr


def test_an_empty_message_is_refused_as_bad_data(world, folder):
    done = run(["ingest_email"], b"", world, folder)
    assert done.returncode == 65
    assert done.stderr.decode().strip() == "ingest_email: no message on stdin"


@pytest.mark.parametrize(
    "url",
    [
        "postgres://postgres@127.0.0.1:1/helpdesk_unreachable",
        "sqlite:////nonexistent/dir/db.sqlite3",
    ],
    ids=["postgres-down", "sqlite-unopenable"],
)
def test_with_the_database_unreachable_it_exits_75_without_a_traceback(url, tmp_path):
    done = run(["ingest_email"], EXAMPLE.read_bytes(), url, tmp_path)
    assert done.returncode == 75
    err = done.stderr.decode()
    assert "Traceback" not in err
    assert err.startswith("ingest_email: not stored, try again later (")
    assert len(err.strip().splitlines()) == 1
