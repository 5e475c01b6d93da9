"""Email intake throughput: 10,000 messages through the pipe's intake service, and an IMAP
poll of 1,000 new messages from a real Dovecot.

    python bench/bench_intake.py                        # a fresh SQLite file under /tmp
    DATABASE_URL=postgres://USER@HOST:5432/helpdesk_email_bench python bench/bench_intake.py
    CELERY_BROKER_URL=redis://HOST:6379/N               # the broker the outbox enqueues on
    MESSAGES=10000 IMAP_MESSAGES=1000 python bench/bench_intake.py
    WORKERS=2 python bench/bench_intake.py              # the pipe's messages shared by 2 processes

The database is migrated and given the demo world plus 500 extra agents (so the per-sender
hourly cap is not what the figures measure). Messages are generated one at a time (not held
in memory) in a realistic mix: 70% new requests from agents (a third with a small attachment),
20% replies to earlier messages (In-Reply-To), 5% auto-replies, 5% strangers. Each goes through
``email_ingest`` exactly as ``manage.py ingest_email`` calls it: stored raw, parsed, routed,
a case opened or an update added with its notifications written to the outbox and enqueued.
Prints messages per second and the process's RSS every PROGRESS messages (flat = no growth).
Wall and CPU time (``time.process_time``: the machine is shared, wall time follows its load)
are given for the ``email_ingest`` calls alone (the service), and for the whole loop including
making the messages (the bench's own work, not the service's).
The IMAP part needs Debian's dovecot-imapd; it is skipped with a note without it.

WORKERS=N (default 1) shares the MESSAGES among N processes ingesting at once, as a mail
server runs several pipe deliveries at a time and the endpoint has several workers: each
process is started, sets Django up and waits; the wall time is from telling them all to go
until the last one is done, the CPU time is all of theirs added up (each process's
``time.process_time``), so the CPU per message stays comparable with one process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
WORK = Path(tempfile.mkdtemp(prefix="bench-intake-"))
WORK.chmod(0o755)
os.environ.setdefault("DATABASE_URL", f"sqlite:///{WORK / 'bench.sqlite3'}")
os.environ.setdefault("ATTACHMENTS_ROOT", str(WORK / "attachments"))
os.environ.setdefault("EMAIL_URL", "dummymail://")
os.environ.setdefault("LOG_LEVEL", "WARNING")

MESSAGES = int(os.environ.get("MESSAGES", "10000"))
IMAP_MESSAGES = int(os.environ.get("IMAP_MESSAGES", "1000"))
AGENTS = 500
PROGRESS = int(os.environ.get("PROGRESS", "1000"))
WORKERS = max(1, int(os.environ.get("WORKERS", "1")))
# Set in the processes that WORKERS starts: "index/count".
WORKER = os.environ.get("BENCH_INTAKE_WORKER", "")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def message(n: int, agents: list[str], replied: list[tuple[str, str]]) -> tuple[bytes, str]:
    kind = n % 20
    out = EmailMessage()
    out["To"] = "support@phonism.test"
    out["Message-ID"] = f"<bench-{n}-{time.time_ns()}@client.example>"
    out["Subject"] = f"Bench request {n}: handsets drop calls after transfer"
    body = (
        "Hello,\n\nSince the upgrade, attended transfers drop the call on the second leg.\n"
        "Steps: call 200, transfer to 201, announce, complete. The caller hears silence.\n\n"
        "Thanks,\nA customer\n"
    )
    if kind < 14:  # a new request from an agent
        out["From"] = agents[n % len(agents)]
        out.set_content(body)
        if kind % 3 == 0:
            out.add_attachment(
                b"12:00:01 SIP/2.0 487\n" * 40,
                maintype="text",
                subtype="plain",
                filename="sip-trace.txt",
            )
        expect = "new"
    elif kind < 18 and replied:  # its requester replies on an earlier case
        message_id, requester = replied[n % len(replied)]
        out["From"] = requester
        out["In-Reply-To"] = message_id
        out.set_content("It happens again today.\n\nOn Monday support wrote:\n> Please retry.\n")
        expect = "reply"
    elif kind == 18:  # an out-of-office
        out["From"] = agents[n % len(agents)]
        out["Auto-Submitted"] = "auto-replied"
        out.set_content("I am out of the office until Monday.")
        expect = "auto"
    else:  # a stranger
        out["From"] = f"stranger{n}@example.org"
        out.set_content(body)
        expect = "stranger"
    return out.as_bytes(), expect


def prepare() -> list[str]:
    from django.core.management import call_command

    from tenants.models import Membership, Tenant, User

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    tenants = list(Tenant.objects.filter(slug__in=["acme", "globex", "initech", "umbrella"]))
    existing = set(
        User.objects.filter(email__startswith="bench-agent-").values_list("email", flat=True)
    )
    users = [
        User(email=f"bench-agent-{i}@bench.test", password="!")  # noqa: S106 - unusable
        for i in range(AGENTS)
        if f"bench-agent-{i}@bench.test" not in existing
    ]
    User.objects.bulk_create(users)
    for user in User.objects.filter(email__startswith="bench-agent-", membership__isnull=True):
        Membership.objects.create(user=user, tenant=tenants[user.pk % len(tenants)])
    return sorted(
        User.objects.filter(email__startswith="bench-agent-").values_list("email", flat=True)
    )


def ingest_share(agents: list[str], worker: int = 0, workers: int = 1) -> dict:
    """Ingest this process's share of the MESSAGES (every workers-th, from worker)."""
    from intake.models import Outcome, Source
    from intake.services import email_ingest

    replied: list[tuple[str, str]] = []
    outcomes: dict[str, int] = {}
    done = 0
    started, cpu = time.perf_counter(), time.process_time()
    in_service, in_service_cpu = 0.0, 0.0
    for n in range(worker, MESSAGES, workers):
        raw, _expect = message(n, agents, replied)
        before, before_cpu = time.perf_counter(), time.process_time()
        row = email_ingest(raw=raw, source=Source.PIPE)
        in_service += time.perf_counter() - before
        in_service_cpu += time.process_time() - before_cpu
        done += 1
        outcomes[row.outcome] = outcomes.get(row.outcome, 0) + 1
        if row.outcome == Outcome.CASE_OPENED and len(replied) < 2000:
            replied.append((f"<{row.message_id}>", row.from_address))
        if done % PROGRESS == 0:
            elapsed = time.perf_counter() - started
            used = time.process_time() - cpu
            print(
                f"  {'' if workers == 1 else f'[{worker}] '}{done:>6,} messages  "
                f"{elapsed:6.1f} s  {done / elapsed:6.0f}/s  "
                f"CPU {used:6.1f} s ({done / used:.0f}/CPU s)  "
                f"service {in_service:6.1f} s, CPU {in_service_cpu:6.1f} s  "
                f"RSS {rss_mib():.0f} MiB  load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    return {
        "messages": done,
        "outcomes": outcomes,
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "service": in_service,
        "service_cpu": in_service_cpu,
        "rss": rss_mib(),
    }


def bench_pipe(agents: list[str]) -> None:
    from django.db import connection

    from intake.models import InboundMessage, Outcome

    print(
        f"database: {connection.vendor}; {MESSAGES:,} messages; {WORKERS} process(es); "
        f"RSS {rss_mib():.0f} MiB; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    if WORKERS == 1:
        result = ingest_share(agents)
        results, elapsed = [result], result["wall"]
    else:
        results, elapsed = run_workers()
    service = max(r["service"] for r in results)
    service_cpu = sum(r["service_cpu"] for r in results)
    cpu = sum(r["cpu"] for r in results)
    outcomes: dict[str, int] = {}
    for result in results:
        for outcome, count in result["outcomes"].items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    if WORKERS == 1:
        print(
            f"email_ingest: {MESSAGES:,} messages in {service:.1f} s wall "
            f"({MESSAGES / service:.0f} per second), {service_cpu:.1f} s CPU "
            f"({MESSAGES / service_cpu:.0f} per CPU second, "
            f"{service_cpu / MESSAGES * 1000:.1f} ms each)"
        )
    else:
        print(
            f"email_ingest in {WORKERS} processes: {MESSAGES:,} messages in {elapsed:.1f} s wall "
            f"from go to the last one done ({MESSAGES / elapsed:.0f} per second); service CPU "
            f"{service_cpu:.1f} s in all ({MESSAGES / service_cpu:.0f} per CPU second, "
            f"{service_cpu / MESSAGES * 1000:.1f} ms each); each process's service wall: "
            + ", ".join(f"{r['service']:.1f} s" for r in results)
        )
    print(
        f"whole loop (with making the messages): {elapsed:.1f} s wall "
        f"({MESSAGES / elapsed:.0f} per second), {cpu:.1f} s CPU "
        f"({MESSAGES / cpu:.0f} per CPU second)"
    )
    print("RSS at the end:", ", ".join(f"{r['rss']:.0f} MiB" for r in results))
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("outcomes:", ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items())))
    unsettled = InboundMessage.objects.filter(outcome__in=[Outcome.PENDING, Outcome.FAILED]).count()
    print(f"messages without a final outcome: {unsettled}")


def run_workers() -> tuple[list[dict], float]:
    """Start WORKERS copies of this script on the prepared database; each sets Django up and
    says it is ready; then all are told to go at once. Returns their results and the wall
    time from go until the last one finished."""
    from django.db import connections

    connections.close_all()
    env = {**os.environ, "DATABASE_URL": os.environ["DATABASE_URL"]}
    children = []
    for worker in range(WORKERS):
        children.append(
            subprocess.Popen(  # noqa: S603 - this very script
                [sys.executable, __file__],
                env={**env, "BENCH_INTAKE_WORKER": f"{worker}/{WORKERS}"},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    for child in children:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("a bench worker did not start")
    started = time.perf_counter()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    results = []
    for child in children:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("{"):
                results.append(json.loads(line))
            else:
                print(line, end="", flush=True)
        child.wait()
    elapsed = time.perf_counter() - started
    if len(results) != WORKERS:
        raise RuntimeError("a bench worker failed")
    return results, elapsed


def worker_main() -> None:
    """A process started by ``run_workers``: its share of the messages, then its figures."""
    import django

    django.setup()
    from tenants.models import User

    index, count = (int(x) for x in WORKER.split("/"))
    agents = sorted(
        User.objects.filter(email__startswith="bench-agent-").values_list("email", flat=True)
    )
    print("ready", flush=True)
    sys.stdin.readline()
    result = ingest_share(agents, index, count)
    print(json.dumps(result), flush=True)


def bench_imap(agents: list[str]) -> None:
    from imap_tools import MailBoxUnencrypted

    from intake.imap import mailbox_poll
    from intake.models import InboundMessage, Mailbox
    from tests.intake import dovecot

    if dovecot.binary() is None:
        print("IMAP: SKIPPED, Dovecot is not installed (apt-get install dovecot-imapd)")
        return
    process, info = dovecot.start(WORK / "dovecot")
    try:
        with MailBoxUnencrypted(info.host, info.port).login(info.user, info.password) as box:
            for n in range(IMAP_MESSAGES):
                # New requests (a third with an attachment), each agent in turn: the hourly
                # cap per sender is not what is measured (500 agents, 2 messages each).
                raw, _ = message(1_000_000 + n * 20 + n % 14, [agents[n % len(agents)]], [])
                box.append(raw, "INBOX", flag_set=[])
        mailbox = Mailbox.objects.create(
            name=f"bench {time.time_ns()}",
            host=info.host,
            port=info.port,
            use_ssl=False,
            username=info.user,
            password=info.password,
        )
        before = InboundMessage.objects.count()
        started, cpu = time.perf_counter(), time.process_time()
        new = mailbox_poll(mailbox)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"IMAP poll of {IMAP_MESSAGES:,} new messages: {elapsed:.1f} s "
            f"({new:,} stored and processed, {InboundMessage.objects.count() - before:,} rows; "
            f"CPU {cpu:.1f} s; load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        counts: dict[str, int] = {}
        for outcome in InboundMessage.objects.filter(mailbox=mailbox).values_list(
            "outcome", flat=True
        ):
            counts[outcome] = counts.get(outcome, 0) + 1
        print("IMAP outcomes:", ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
        started = time.perf_counter()
        again = mailbox_poll(mailbox)
        print(
            f"IMAP poll with nothing new: {(time.perf_counter() - started) * 1000:.0f} ms ({again} new)"
        )
    finally:
        dovecot.stop(process)


def main() -> None:
    import django

    django.setup()
    agents = prepare()
    if MESSAGES:
        bench_pipe(agents)
    if IMAP_MESSAGES:
        bench_imap(agents)


if __name__ == "__main__":
    try:
        if WORKER:
            worker_main()
        else:
            main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
