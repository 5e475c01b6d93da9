"""Throw-away PostgreSQL and Redis servers, and the app running against them in other
processes, for the fault tests (issue 15, point 7). Never the machine's shared servers: these
tests stop and kill what they start.

PostgreSQL comes from its Debian binaries (/usr/lib/postgresql/*/bin: initdb, pg_ctl), run as
the `postgres` OS user when the tests run as root (CI does); Redis is `redis-server`. Ports come
from FAULT_TEST_PORTS (default 8450-8499). Without the binaries the tests are skipped with a loud
warning on a developer's machine and fail in CI.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), "")
REDIS_SERVER = shutil.which("redis-server") or ""
SKIP_REASON = "FAULT TESTS need PostgreSQL's initdb/pg_ctl and redis-server"


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath):
            item.add_marker(pytest.mark.faults)


def pytest_runtest_setup(item) -> None:
    if "tests/faults/" not in str(item.fspath):
        return
    if PG_BIN and REDIS_SERVER:
        return
    if IN_CI:
        pytest.fail(f"{SKIP_REASON}: CI must install postgresql and redis-server.")
    pytest.skip(f"{SKIP_REASON} (apt install postgresql redis-server)")


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [str(r.longrepr) for r in terminalreporter.stats.get("skipped", [])]
    count = sum("FAULT TESTS" in reason for reason in skipped)
    if count:
        terminalreporter.write_line(
            f"WARNING: {count} FAULT TESTS were SKIPPED: no PostgreSQL binaries or redis-server.",
            red=True,
            bold=True,
        )


def free_port() -> int:
    low, high = (int(p) for p in os.environ.get("FAULT_TEST_PORTS", "8450-8499").split("-"))
    ports = list(range(low, high + 1))
    random.shuffle(ports)  # two test runs at once rarely pick the same one
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: CI runs as root, so run it as the postgres user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PortGuard:
    """Holds a stopped server's port until it starts again: listens and closes whatever
    connects, as a server going down does. Without it another test's throw-away server (a
    parallel test process, another run on the machine) could start on the freed port with the
    same demo database, and the app would carry on against it as if nothing were down."""

    def __init__(self, port: int) -> None:
        self.socket = socket.socket()
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", port))
        self.socket.listen(64)
        self.socket.settimeout(0.2)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._refuse, daemon=True)
        self.thread.start()

    def _refuse(self) -> None:
        while not self.done.is_set():
            try:
                connection, _ = self.socket.accept()
            except OSError:  # (the timeout included)
                continue
            connection.close()

    def release(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.socket.close()


@dataclass
class Postgres:
    """A throw-away PostgreSQL cluster, configured as PostgreSQL's defaults (durable)."""

    directory: Path
    port: int
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.directory / "server.log"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c max_connections=50"
        )
        command = [f"{PG_BIN}/pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options]
        subprocess.run(as_postgres([*command, *args]), check=True, capture_output=True)

    def start(self) -> None:
        guard, self._guard = getattr(self, "_guard", None), None
        if guard is not None:
            guard.release()
        self._ctl("start", "-w", "-t", "60")

    def stop(self) -> None:
        """Like a crash or a failover: every connection is cut at once. Its port stays held
        while it is away (``PortGuard``)."""
        self._ctl("stop", "-m", "immediate", "-w")
        self._guard = PortGuard(self.port)

    def execute(self, sql: str, database: str = "postgres") -> None:
        with psycopg.connect(self.url(database), autocommit=True) as connection:
            connection.execute(sql)

    def query(self, sql: str, database: str, *params) -> list[tuple]:
        with psycopg.connect(self.url(database)) as connection:
            return connection.execute(sql, params).fetchall()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-faults-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    server = Postgres(directory, free_port())
    subprocess.run(
        as_postgres(
            [
                f"{PG_BIN}/initdb",
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    server.start()
    try:
        yield server
    finally:
        subprocess.run(
            as_postgres(
                [f"{PG_BIN}/pg_ctl", "-D", str(server.data), "stop", "-m", "immediate", "-w"]
            ),
            capture_output=True,
        )
        shutil.rmtree(directory, ignore_errors=True)


@dataclass
class Redis:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    port = free_port()
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_port(port)
    try:
        yield Redis(port, process)
    finally:
        process.terminate()
        process.wait(10)


def app_environment(**settings: str) -> dict[str, str]:
    """The environment of an app process: production-like settings, none of pytest's (under
    pytest the settings choose an in-memory broker and eager tasks)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_", "CELERY_", "CSP_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "EMAIL_URL", "DEBUG", "CI"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="helpdesk.settings",
        DEBUG="false",
        SECRET_KEY="fault-tests-secret-key-that-is-long-enough-for-django-checks",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # The fault tests open cases in a stream as one person: the per-hour limits (their own
        # tests: tests/portal/test_rate_limits.py) would answer 429 long before a fault.
        RATE_CASES_PER_PERSON_HOUR="0",
        RATE_CASES_PER_TENANT_HOUR="0",
        RATE_UPLOADS_PER_PERSON_HOUR="0",
        RATE_UPLOADS_PER_TENANT_HOUR="0",
    )
    env.update(settings)
    return env


def manage(*args: str, env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"manage.py {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def demo_template(postgres: Postgres) -> str:
    """A database with the migrations and the demo world, copied for each test."""
    postgres.execute("CREATE DATABASE helpdesk_template")
    env = app_environment(DATABASE_URL=postgres.url("helpdesk_template"))
    manage("migrate", "--noinput", env=env)
    manage("seed_demo", env=env)
    return "helpdesk_template"


@pytest.fixture
def database(postgres: Postgres, demo_template: str, request) -> str:
    name = f"helpdesk_{request.node.name[:40].lower()}"
    postgres.execute(f'DROP DATABASE IF EXISTS "{name}"')
    # FILE_COPY: PostgreSQL 15's default WAL_LOG copy, crashed before its next checkpoint,
    # recovers the copy's sequences to the template's values (ids then collide). Seen here,
    # not an app fault: a production database is not copied from a template seconds before.
    postgres.execute(f'CREATE DATABASE "{name}" TEMPLATE {demo_template} STRATEGY FILE_COPY')
    return name


@pytest.fixture(scope="session")
def static_root() -> Iterator[Path]:
    """Production serves collected, hashed static files (DEBUG off): collect them once."""
    directory = Path(tempfile.mkdtemp(prefix="helpdesk-faults-static-"))
    manage("collectstatic", "--noinput", env=app_environment(STATIC_ROOT=str(directory)))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


class Process:
    """A child process (its own process group) that is stopped, or killed, by the test."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.popen = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL to the whole group: no clean-up, no acknowledgements, as a crash."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def processes(tmp_path) -> Iterator:
    started: list[Process] = []

    def start(name: str, command: list[str], env: dict[str, str]) -> Process:
        process = Process(command, env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()
