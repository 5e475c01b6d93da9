"""What the load benches (``bench_new_case.py`` and ``peer/bench_peer.py``) share: waiting
for the server, and the CPU time its processes and the database's used. Imports nothing of
either project, so the peer's bench can use it beside its own ``helpdesk`` package."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process on this machine (Linux), None if gone or elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (gunicorn's workers)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def database_backends(connection) -> list[int]:
    """The PostgreSQL server processes serving this database (the web workers' connections),
    asked through a Django ``connection`` (closed afterwards); none on another database."""
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    connection.close()
    return pids


def wait_for_server(process: subprocess.Popen, url: str) -> None:
    """Until ``url`` answers (the server is up), or the server exits."""
    for _ in range(100):
        if process.poll() is not None:
            raise SystemExit("gunicorn exited; see its output above")
        try:
            urllib.request.urlopen(url).read()  # noqa: S310 - our own local server
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not answer")


@dataclass
class Load:
    """What ``wrk_load`` measured: wrk's report, the rows made, in how long, and the CPU per
    row of the server's workers and of the database's backends (milliseconds)."""

    report: str
    added: int
    seconds: float
    cpu_workers: float
    cpu_database: float


def wrk_load(
    server: subprocess.Popen,
    connection,
    script: str,
    url: str,
    count: Callable[[], int],
    *,
    connections: int,
    duration: int,
) -> Load:
    """``wrk -t2`` with the Lua ``script`` on ``url`` for ``duration`` seconds, the rows that
    ``count`` counts before and after. The workers connected to the database on the sign-in
    before this and keep their connections: the backends serving them are the ones measured
    (when the database runs on this machine)."""
    before = count()
    workers, backends = children(server.pid), database_backends(connection)
    cpu_before = cpu_of(workers), cpu_of(backends)
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - wrk, with our arguments
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    cpu_after = cpu_of(workers), cpu_of(backends)
    added = count() - before
    per_row = [
        (after - start) * 1000 / max(added, 1)
        for start, after in zip(cpu_before, cpu_after, strict=True)
    ]
    return Load(result.stdout, added, seconds, *per_row)
