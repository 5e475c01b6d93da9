"""CI: a production install of `requirements.txt` alone really sends its mail (issue 10).

A fresh virtualenv gets `requirements.txt` and nothing else (no dev tools, no pytest). From it:
migrate and seed the demo on PostgreSQL (a database of its own), then gunicorn, a Celery worker
(prefork pool) and Celery beat on Redis (a db number of its own), emails going to a local SMTP
capture server (aiosmtpd, run here from the dev virtualenv). A demo agent signs in through the
web, posts the new-case form with its CSRF token, and the check waits for the case's emails at
the SMTP server and checks them by content: subject, reference, recipient, link. It also checks
that beat's tasks reach the worker, that every outbox row is sent, that no publish failed, and
that no process logged an error.

Run by `.ci/run` as `.venv/bin/python .ci/prod_install_check.py`. Bounded in time
(PRODCHECK_TIMEOUT, 600 s), stops every process it started and drops its database whatever
happens, exits 1 with the processes' logs on any failure.

Environment (all optional): PRODCHECK_DATABASE_URL (default: DATABASE_URL's server, database
`helpdesk_prodcheck`), PRODCHECK_REDIS_URL (default redis://127.0.0.1:6379/15; the db is
flushed), PRODCHECK_WEB_PORT and PRODCHECK_SMTP_PORT (default: free ports), PRODCHECK_PYTHON
(the interpreter the virtualenv is made from, default python3), PRODCHECK_KEEP=1 keeps the
temporary folder for a look afterwards.
"""

from __future__ import annotations

import email
import email.policy
import http.cookiejar
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

import psycopg
import redis
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent
AGENT, PASSWORD = "ann@acme.test", "demo-password"  # seed_demo's direct customer's agent
STAFF_DOMAIN = "@phonism.test"  # the provider's team, told of a direct customer's new case
ERROR = re.compile(r".*\b(ERROR|CRITICAL)\b.*|Traceback.*")
SUBJECT = f"Prod check {secrets.token_hex(4)}: handsets lose registration"


class CheckFailed(Exception):
    pass


class Capture:
    """aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def snapshot(self) -> list[tuple[list[str], email.message.EmailMessage]]:
        with self.lock:
            return list(self.messages)


def log(text: str) -> None:
    print(f"[prod-install-check] {text}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_urls() -> tuple[str, str, str]:
    """(the check's database URL, the maintenance database URL, the database name)."""
    url = os.environ.get("PRODCHECK_DATABASE_URL")
    if not url:
        base = os.environ.get("DATABASE_URL", "")
        if not base.startswith("postgres"):
            base = "postgres://postgres@127.0.0.1:5432/helpdesk"
        url = urllib.parse.urlsplit(base)._replace(path="/helpdesk_prodcheck").geturl()
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise CheckFailed(f"unexpected database name {name!r}")
    return url, parts._replace(path="/postgres").geturl(), name


def recreate_database(maintenance: str, name: str, *, drop_only: bool = False) -> None:
    with psycopg.connect(maintenance, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            conn.execute(f'CREATE DATABASE "{name}"')


def wait_until(what: str, condition: Callable[[], object], timeout: float, procs=()) -> object:
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            proc.check_alive()
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


class Proc:
    """A server process in a session of its own, logging to a file; stopped with its children."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.logfile = logdir / f"{name}.log"
        with open(self.logfile, "wb") as out:
            self.popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.logfile.read_text(errors="replace")

    def check_alive(self) -> None:
        """Fails as soon as the process has exited or logged an error (a refused publish, a
        task that raised...), rather than at the end of a wait."""
        if self.popen.poll() is not None:
            raise CheckFailed(f"{self.name} exited early with status {self.popen.returncode}")
        error = ERROR.search(self.text())
        if error:
            raise CheckFailed(f"{self.name} logged an error: {error.group(0)!r}")

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue


def run(argv: list[str], env: dict[str, str] | None, timeout: float) -> str:
    done = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise CheckFailed(
            f"`{' '.join(argv)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if not found:
        raise CheckFailed("no CSRF token in the form")
    return found.group(1)


def check(tmp: Path, procs: list[Proc], cleanup: list[Callable[[], None]]) -> None:
    python = os.environ.get("PRODCHECK_PYTHON") or shutil.which("python3") or sys.executable
    venv = tmp / "venv"
    log(f"fresh virtualenv with requirements.txt only ({python})")
    started = time.monotonic()
    run([python, "-m", "venv", str(venv)], None, 120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    run([*pip, "install", "--quiet", "-r", str(ROOT / "requirements.txt")], None, 480)
    run([*pip, "check"], None, 60)
    installed = run([*pip, "list", "--format=freeze"], None, 60).lower()
    if "pytest" in installed or "aiosmtpd" in installed:
        raise CheckFailed("the virtualenv has development packages: it must be requirements only")
    log(f"installed in {time.monotonic() - started:.0f} s")

    database_url, maintenance, db_name = database_urls()
    recreate_database(maintenance, db_name)
    cleanup.append(lambda: recreate_database(maintenance, db_name, drop_only=True))
    redis_url = os.environ.get("PRODCHECK_REDIS_URL") or "redis://127.0.0.1:6379/15"
    broker = redis.Redis.from_url(redis_url, socket_connect_timeout=5)
    broker.flushdb()
    cleanup.append(broker.flushdb)

    capture = Capture()
    smtp_port = int(os.environ.get("PRODCHECK_SMTP_PORT") or free_port())
    controller = Controller(capture, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    cleanup.append(controller.stop)
    web_port = int(os.environ.get("PRODCHECK_WEB_PORT") or free_port())
    site = f"http://127.0.0.1:{web_port}"

    # Only what production sets: nothing inherited (no PYTEST_VERSION, CI, DJANGO_* ...).
    env = {
        "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp),
        "LANG": "C.UTF-8",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "SITE_URL": site,
        "STATIC_ROOT": str(tmp / "static"),
        "ATTACHMENTS_ROOT": str(tmp / "attachments"),
        # Beat's interval: short, so its tasks are seen reaching the worker within the check.
        "SLA_SWEEP_SECONDS": "3",
        "LOG_LEVEL": "INFO",
    }
    bin_ = venv / "bin"
    log("migrate, collectstatic, seed_demo (from the fresh virtualenv)")
    run([str(bin_ / "python"), "manage.py", "migrate", "--noinput"], env, 300)
    run([str(bin_ / "python"), "manage.py", "collectstatic", "--noinput"], env, 120)
    run([str(bin_ / "python"), "manage.py", "seed_demo"], env, 300)

    logdir = tmp / "logs"
    logdir.mkdir()
    log(f"gunicorn on {site}, worker and beat on Redis, SMTP capture on port {smtp_port}")
    procs.append(
        Proc(
            "gunicorn",
            [str(bin_ / "gunicorn"), "helpdesk.wsgi", "--workers", "2", "--bind",
             f"127.0.0.1:{web_port}", "--access-logfile", "-", "--timeout", "60"],
            env,
            logdir,
        )
    )  # fmt: skip
    worker = Proc(
        "worker",
        [str(bin_ / "celery"), "--app", "helpdesk", "worker", "--loglevel", "INFO",
         "--concurrency", "2", "--hostname", f"prodcheck-{secrets.token_hex(3)}@%h"],
        env,
        logdir,
    )  # fmt: skip
    procs.append(worker)
    procs.append(
        Proc(
            "beat",
            [str(bin_ / "celery"), "--app", "helpdesk", "beat", "--loglevel", "INFO",
             "--schedule", str(tmp / "celerybeat-schedule")],
            env,
            logdir,
        )
    )  # fmt: skip

    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    def get(path: str) -> tuple[str, str]:
        with opener.open(site + path, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def post(path: str, fields: dict[str, str]) -> tuple[str, str]:
        request = urllib.request.Request(
            site + path,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Origin": site, "Referer": site + path},
        )
        with opener.open(request, timeout=30) as response:
            return response.geturl(), response.read().decode()

    def web_up() -> bool:
        try:
            return get("/healthz")[1].strip() == '{"status": "ok"}'
        except OSError:
            return False

    wait_until("gunicorn to answer /healthz", web_up, 60, procs)
    wait_until("the worker to be ready", lambda: " ready." in worker.text(), 90, procs)

    log(f"sign in as {AGENT} and open a case through the new-case form")
    url, page = get("/accounts/login/")
    url, page = post(
        "/accounts/login/",
        {"csrfmiddlewaretoken": csrf_token(page), "username": AGENT, "password": PASSWORD},
    )
    if url.endswith("/accounts/login/"):
        raise CheckFailed(f"signing in as {AGENT} failed")
    url, page = get("/cases/new/")
    url, page = post(
        "/cases/new/",
        {
            "csrfmiddlewaretoken": csrf_token(page),
            "subject": SUBJECT,
            "severity": "3",
            "description": "Since the firmware update, every handset loses registration hourly.",
        },
    )
    found = re.search(r"/cases/(CS-\d+)/$", url)
    if not found or f"Case {found.group(1)} is open" not in page:
        raise CheckFailed(f"the new-case form did not open a case (ended on {url})")
    reference = found.group(1)
    log(f"opened {reference}; waiting for its emails at the SMTP server")

    def about_case() -> list[tuple[list[str], email.message.EmailMessage]]:
        return [(to, m) for to, m in capture.snapshot() if f"[{reference}]" in m["Subject"]]

    def both_arrived() -> bool:
        got = about_case()
        return any(AGENT in to for to, _ in got) and any(
            r.endswith(STAFF_DOMAIN) for to, _ in got for r in to
        )

    wait_until(f"{reference}'s emails at the SMTP server", both_arrived, 90, procs)
    ack = next(message for to, message in about_case() if AGENT in to)
    expected = f"[{reference}] We received your request: {SUBJECT}"
    if ack["Subject"] != expected or ack["To"] != AGENT:
        raise CheckFailed(f"acknowledgement: To {ack['To']!r}, Subject {ack['Subject']!r}")
    body = ack.get_body(("plain",)).get_content()
    if f"{site}/cases/{reference}/" not in body:
        raise CheckFailed(f"the acknowledgement has no link to the case:\n{body}")
    log(f"delivered: {ack['Subject']!r} to {ack['To']}; the team's to {STAFF_DOMAIN} addresses")

    def beat_reached_worker() -> bool:
        text = worker.text()
        return all(
            re.search(rf"Task {name}\[[^\]]+\] succeeded", text)
            for name in ("sla.tasks.sla_sweep", "helpdesk.tasks.outbox_drain")
        )

    wait_until("beat's sweep and drain to run on the worker", beat_reached_worker, 30, procs)

    with psycopg.connect(database_url, connect_timeout=5) as conn:
        statuses = conn.execute(
            "SELECT o.status, count(*) FROM helpdesk_outboundemail o "
            "JOIN helpdesk_case c ON c.id = o.case_id WHERE c.reference = %s GROUP BY 1",
            [reference],
        ).fetchall()
        failures = conn.execute("SELECT count, last_error FROM ops_publishfailures").fetchall()
    if not statuses or {status for status, _ in statuses} != {"sent"}:
        raise CheckFailed(f"{reference}'s outbox rows are not all sent: {statuses}")
    if failures:
        raise CheckFailed(f"publishes to the broker failed: {failures}")
    for proc in procs:
        proc.check_alive()
    log("PASSED: requirements.txt alone runs gunicorn, the worker and beat, and sends mail")


def main() -> int:
    timeout = int(os.environ.get("PRODCHECK_TIMEOUT") or 600)
    tmp = Path(tempfile.mkdtemp(prefix="prodcheck-"))
    procs: list[Proc] = []
    cleanup: list[Callable[[], None]] = []

    def out_of_time(signum, frame) -> None:
        raise CheckFailed(f"the whole check took longer than {timeout} s")

    def stopped(signum, frame) -> None:
        raise CheckFailed(f"stopped by signal {signum}")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, stopped)
    signal.alarm(timeout)
    status = 0
    try:
        check(tmp, procs, cleanup)
    except (CheckFailed, subprocess.TimeoutExpired, OSError, psycopg.Error, redis.RedisError) as e:
        status = 1
        print(f"\nPRODUCTION INSTALL CHECK FAILED: {e}\n", file=sys.stderr, flush=True)
        for proc in procs:
            lines = proc.text().splitlines()[-80:]
            print(f"----- {proc.name} (last {len(lines)} lines) -----", file=sys.stderr)
            print("\n".join(lines), file=sys.stderr, flush=True)
    finally:
        signal.alarm(0)
        for proc in procs:
            proc.stop()
        for step in reversed(cleanup):
            try:
                step()
            except Exception as error:  # cleaning up must go on; say what was left behind
                print(f"cleanup step failed: {error!r}", file=sys.stderr)
        if os.environ.get("PRODCHECK_KEEP"):
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
