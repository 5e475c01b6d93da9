"""What the load benches (``bench_new_case.py`` and ``peer/bench_peer.py``) share: waiting
for the server, and the CPU time its processes and the database's used. Imports nothing of
either project, so the peer's bench can use it beside its own ``helpdesk`` package."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import urllib.request
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
