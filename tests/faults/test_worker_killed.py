"""A worker killed in the middle of sending a batch of emails (issue 15, point 7): each email
is sent once and none is lost. Real processes throughout: a Celery worker and beat on a
throw-away Redis, a throw-away PostgreSQL, and an SMTP server (aiosmtpd) that counts what it
accepted. The worker is killed with SIGKILL while it is in the middle of an SMTP conversation,
so the row it holds is claimed but its message not delivered; the lease and the drain must
bring that one back, and the rest of the batch must go out once each.

(A worker killed after the server accepted a message but before the row is marked sent would
send that one again after the lease, with the same Message-ID: the one duplicate an outbox
without two-phase commit with the SMTP server can make; see helpdesk/outbox.py.)
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.conftest import app_environment, free_port, manage
from tests.faults.smtp import Recorder, smtp_server

pytestmark = pytest.mark.faults

BATCH = 30
LEASE = 8  # seconds a killed worker's claim holds its row

MAKE_BATCH = f"""
from django.db import transaction
from helpdesk.models import Audience, Case, NotificationKind
from helpdesk.outbox import Draft, outbox_add
case = Case.objects.order_by("pk").first()
with transaction.atomic():
    ids = outbox_add([
        Draft(kind=NotificationKind.ACKNOWLEDGEMENT, audience=Audience.CUSTOMER,
              recipients=[f"p{{n}}@batch.test"],
              subject=f"[{{case.reference}}] We received your request: {{case.subject}}",
              case_id=case.pk)
        for n in range({BATCH})
    ])
print(",".join(map(str, ids)))
"""


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_batch_sends_each_email_once_and_loses_none(
    postgres, database, redis_server, processes, tmp_path
) -> None:
    smtp_port = free_port()
    recorder = Recorder(rcpt_delay=0.3)  # slow enough to be caught mid-conversation
    smtp = smtp_server(smtp_port, recorder)
    env = app_environment(
        DATABASE_URL=postgres.url(database),
        REDIS_URL=redis_server.url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        OUTBOX_CLAIM_LEASE_SECONDS=str(LEASE),
        OUTBOX_REQUEUE_SECONDS="3",
        SLA_SWEEP_SECONDS="2",  # beat's drain, every 2 seconds instead of every minute
    )
    celery = str(Path(sys.executable).parent / "celery")
    worker = [celery, "--app", "helpdesk", "worker", "--pool", "solo", "--loglevel", "INFO"]
    worker += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    try:
        # The batch is written and enqueued (one fan-out task) before any worker runs.
        output = manage("shell", "-c", MAKE_BATCH, env=env).strip().splitlines()[-1]
        ids = [int(pk) for pk in output.split(",")]
        assert len(ids) == BATCH
        id_list = ",".join(map(str, ids))

        def statuses() -> Counter:
            rows = postgres.query(
                f"SELECT status FROM helpdesk_outboundemail WHERE id IN ({id_list})", database
            )
            return Counter(status for (status,) in rows)

        def delivered() -> Counter:
            return Counter(
                m["To"] for m in recorder.received() if (m["To"] or "").endswith("@batch.test")
            )

        first = processes("worker-1", [*worker, "-n", "first@%h"], env)
        wait_until(lambda: sum(delivered().values()) >= 5, 120, "the first worker's sends")
        wait_until(recorder.in_conversation.is_set, 30, "a send in progress")
        first.kill()  # SIGKILL in the middle of an SMTP conversation, mid-batch
        at_kill = sum(delivered().values())
        assert 5 <= at_kill < BATCH
        held = statuses()
        assert held["sending"] == 1, held  # the claim of the message it was sending
        assert held["sent"] == at_kill

        processes("worker-2", [*worker, "-n", "second@%h"], env)
        beat = [celery, "--app", "helpdesk", "beat", "--schedule", str(tmp_path / "beat")]
        processes("beat", beat, env)
        wait_until(lambda: statuses() == Counter(sent=BATCH), 180, "every email sent")
        time.sleep(2 * 2 + 1)  # a few more drains: nothing may be sent again
    finally:
        smtp.stop()

    assert delivered() == Counter({f"p{n}@batch.test": 1 for n in range(BATCH)})
    message_ids = Counter(
        m["Message-ID"] for m in recorder.received() if m["To"].endswith("@batch.test")
    )
    assert set(message_ids.values()) == {1}
    attempts = postgres.query(
        f"SELECT attempts, count(*) FROM helpdesk_outboundemail WHERE id IN ({id_list}) "
        "GROUP BY attempts ORDER BY attempts",
        database,
    )
    assert attempts == [(1, BATCH - 1), (2, 1)]  # only the interrupted one was tried again
