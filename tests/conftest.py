"""Shared fixtures: the demo world, and the rule that a test needing PostgreSQL fails in CI
rather than quietly skipping."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command

from tenants.models import User

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


@pytest.fixture
def demo(db) -> dict[str, User]:
    """The README's demo world; people by the local part of their email (``demo["ann"]``)."""
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {user.email.split("@")[0]: user for user in User.objects.all()}


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Sign-in throttling counts failures in the cache; one test's failures are not another's."""
    cache.clear()


@pytest.fixture(autouse=True)
def _private_attachments(tmp_path, settings) -> None:
    """Attachments of a test run go to a temporary folder, never into var/."""
    settings.ATTACHMENTS_ROOT = tmp_path / "attachments"
    # Production serves collected, hashed files; tests render pages without collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Hashing demo passwords with the real (slow on purpose) hasher would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
