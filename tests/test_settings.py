"""Settings come from the environment, and production values pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3J9vQ2xL8mN4pR7tW1yZ5aB6cD0eF2gH8iJ4kL9mN3oP7qR1sT5uV8wX2yZ6aB",
    "ALLOWED_HOSTS": "helpdesk.example.com",
    "HTTPS": "true",
    "DATABASE_URL": "sqlite:////tmp/not-used.sqlite3",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE must not leak into a production check.
    ignored = {*PRODUCTION, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in ignored}
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_settings_pass_the_deploy_checks() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_development_defaults_are_flagged_by_the_deploy_checks() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true"})
    assert result.returncode != 0
    assert "security.W018" in result.stderr  # DEBUG on
    assert "security.W009" in result.stderr  # the development secret key


def test_the_embedded_sqlite_file_logs_ahead_and_syncs_at_checkpoints(tmp_path) -> None:
    """`make run`'s database: a write-ahead log (web, worker and beat share the file), synced at
    checkpoints, not at every commit (a disk sync per email taken in and per form sent)."""
    database = tmp_path / "helpdesk.sqlite3"
    result = manage(
        "shell",
        "-c",
        "from django.db import connection\n"
        "cursor = connection.cursor()\n"
        "print(cursor.execute('PRAGMA journal_mode').fetchone()[0],"
        " cursor.execute('PRAGMA synchronous').fetchone()[0])",
        env={"DATABASE_URL": f"sqlite:///{database}", "REDIS_URL": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["wal", "1"]  # 1: NORMAL (2 would be FULL)


def _web_process_gc(env: dict[str, str]) -> list[str]:
    """The garbage collector of a process that loaded the WSGI application, as gunicorn's
    workers do: its youngest generation's threshold, and whether anything was frozen."""
    code = "import gc, helpdesk.wsgi; print(gc.get_threshold()[0], gc.get_freeze_count() > 0)"
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION}
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **PRODUCTION, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_a_web_process_collects_garbage_less_often_and_only_what_it_made() -> None:
    assert _web_process_gc({}) == ["10000", "True"]
    assert _web_process_gc({"GC_GEN0_THRESHOLD": "50000"}) == ["50000", "True"]
    assert _web_process_gc({"GC_GEN0_THRESHOLD": "0"}) == ["700", "True"]  # Python's own
