"""Shared fixtures: the demo world, and the rule that a test needing PostgreSQL fails in CI
rather than quietly skipping."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

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
