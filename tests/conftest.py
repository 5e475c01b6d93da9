"""Shared fixtures: the demo world, and the rule that a test needing PostgreSQL fails in CI
rather than quietly skipping."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from sla.models import Calendar, clear_calendar_cache
from tenants.branding import brand_for_tenant, provider_brand
from tenants.models import Tenant, User
from tests.snapshot import Snapshot, snapshot_restore, snapshot_take

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_runtest_setup(item) -> None:
    if ON_POSTGRES or not item.get_closest_marker("postgres"):
        return
    if IN_CI:
        pytest.fail("This test needs PostgreSQL: CI must run with DATABASE_URL=postgres://...")
    pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...)")


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [str(r.longrepr) for r in terminalreporter.stats.get("skipped", [])]
    postgres = sum("PostgreSQL" in reason for reason in skipped)
    chromium = sum("Chromium not installed" in reason for reason in skipped)
    dovecot = sum("Dovecot not installed" in reason for reason in skipped)
    if dovecot:
        terminalreporter.write_line(
            f"WARNING: {dovecot} IMAP TESTS were SKIPPED: Dovecot is not installed "
            "(apt install dovecot-imapd). `.ci/run` installs it and runs them.",
            red=True,
            bold=True,
        )
    if postgres:
        terminalreporter.write_line(
            f"WARNING: {postgres} PostgreSQL-only tests were SKIPPED (running on SQLite). "
            "`.ci/run` runs them on PostgreSQL.",
            yellow=True,
            bold=True,
        )
    if chromium:
        terminalreporter.write_line(
            f"WARNING: {chromium} BROWSER TESTS were SKIPPED: Chromium is not installed "
            "(apt install chromium, or set CHROMIUM_PATH). `.ci/run` installs it and runs them.",
            red=True,
            bold=True,
        )


# Hashing demo passwords with the real (slow on purpose) hasher would dominate the run.
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A person of the demo world: if they are missing, a transactional test flushed the world.
DEMO_SENTINEL = "ann@acme.test"


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return (
        "transactional_db" in item.fixturenames
        or "live_server" in item.fixturenames
        or bool(marker and marker.kwargs.get("transaction"))
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The demo world is seeded once per session and committed (``_demo_world``), so tests
    without it run first, on the migrated database as before; then the demo tests, each in a
    transaction rolled back after it; last the demo tests that commit (browsers, workers), whose
    flush removes the world, so each of them puts its rows back (``demo``). Stable: the order
    within each group (module by module) is kept."""

    def group(item: pytest.Item) -> int:
        if "demo" not in item.fixturenames:
            return 0
        return 2 if _transactional(item) else 1

    items.sort(key=group)


@dataclass(frozen=True)
class DemoWorld:
    files: Path  # its files (brand logos), copied into each test's ATTACHMENTS_ROOT
    rows: Snapshot  # every table's rows, put back after a transactional test's flush


@pytest.fixture(scope="session")
def _demo_world(django_db_setup, django_db_blocker, tmp_path_factory) -> DemoWorld:
    """Seed the README's demo world once, committed, before the first test that uses it; its
    files (brand logos) go to a session folder that ``demo`` copies into each test's own, and
    its rows are kept for ``demo`` to put back once a transactional test has flushed them."""
    files = tmp_path_factory.mktemp("demo-files")
    with (
        django_db_blocker.unblock(),
        override_settings(ATTACHMENTS_ROOT=files, PASSWORD_HASHERS=FAST_HASHERS),
    ):
        call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
        cache.clear()
        rows = snapshot_take(connection)
    clear_calendar_cache()
    return DemoWorld(files, rows)


@pytest.fixture
def demo(_demo_world, _private_attachments, db, settings) -> dict[str, User]:
    """The README's demo world; people by the local part of their email (``demo["ann"]``).

    Built once per session (``_demo_world``); each test's changes roll back with its
    transaction. A transactional test (browser, worker) finds it flushed by the one before:
    its rows are put back as seeded, committed (the flush after the test removes them)."""
    if not User.objects.filter(email=DEMO_SENTINEL).exists():
        snapshot_restore(connection, _demo_world.rows)
    shutil.copytree(_demo_world.files, settings.ATTACHMENTS_ROOT, dirs_exist_ok=True)
    # Warm, as seeding within the test used to leave them: built calendars, cached brands.
    for calendar in Calendar.objects.all():
        calendar.as_clock()
    provider_brand()
    for tenant in Tenant.objects.all():
        brand_for_tenant(tenant)
    return {user.email.split("@")[0]: user for user in User.objects.all()}


def sign_in(client: Client, user: User) -> Client:
    """Sign someone in as the pages would after password and second factor: staff (who need the
    second factor for the admin and every page) get an authenticator app if they have none, and
    the session counts as verified with it. Use this, not ``client.force_login``, for staff."""
    client.force_login(user)
    if user.is_staff or TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="Test app", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Sign-in throttling counts failures in the cache; one test's failures are not another's.
    Brands are cached there too, and built calendars per process (keyed by id and updated_at,
    which repeat across rollbacks): nothing a test cached reaches the next."""
    cache.clear()
    clear_calendar_cache()


@pytest.fixture(autouse=True)
def _private_attachments(tmp_path, settings) -> None:
    """Attachments of a test run go to a temporary folder, never into var/."""
    settings.ATTACHMENTS_ROOT = tmp_path / "attachments"
    # Production serves collected, hashed files; tests render pages without collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = FAST_HASHERS


MANAGE = Path(__file__).resolve().parent.parent / "manage.py"


@pytest.fixture(scope="session")
def _demo_database_template(tmp_path_factory) -> Path:
    """A SQLite file with the demo world, as `make run` leaves it, made once per run by the
    commands themselves (``migrate`` and ``seed_demo``, each a process); its files beside it.
    Parallel workers share it: the first to need it makes it under a lock in the run's common
    temporary folder, the others wait for it and read it (each module copies it anyway)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _make_demo_database(tmp_path_factory.mktemp("demo-database"))
    common = tmp_path_factory.getbasetemp().parent
    with (common / "demo-database.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        folder = common / "demo-database"
        if not (folder / "made").exists():
            shutil.rmtree(folder, ignore_errors=True)  # (a maker that failed halfway)
            _make_demo_database(folder)
            (folder / "made").touch()
    return folder


def _make_demo_database(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{folder / 'helpdesk.sqlite3'}",
        "REDIS_URL": "",
        "ATTACHMENTS_ROOT": str(folder / "files"),
    }
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        done = subprocess.run(  # noqa: S603 - our own manage.py
            [sys.executable, str(MANAGE), *command], env=env, capture_output=True, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
    return folder


@pytest.fixture(scope="module")
def demo_database(_demo_database_template, tmp_path_factory) -> tuple[str, Path]:
    """A module's own copy of that file, for commands run from the shell: its DATABASE_URL and
    the folder of its files (ATTACHMENTS_ROOT)."""
    folder = tmp_path_factory.mktemp("shell")
    shutil.copy(_demo_database_template / "helpdesk.sqlite3", folder / "helpdesk.sqlite3")
    shutil.copytree(_demo_database_template / "files", folder / "files")
    return f"sqlite:///{folder / 'helpdesk.sqlite3'}", folder / "files"
