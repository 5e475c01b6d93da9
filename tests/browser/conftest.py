"""Browser tests: Playwright driving the system's Chromium against pytest-django's live server.

Browsers are never downloaded: the executable comes from CHROMIUM_PATH or the Debian package
(/usr/bin/chromium). Without one, the tests are skipped with a loud warning on a developer's
machine and fail in CI.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import sync_playwright

from tests.conftest import IN_CI

# Playwright's sync API runs an event loop in the test thread; the ORM calls the tests make
# around it are ordinary synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not HAVE_CHROMIUM:
        if IN_CI:
            pytest.fail(f"Chromium not found at {CHROMIUM}: CI must install it (apt chromium).")
        pytest.skip("Chromium not installed (apt install chromium, or set CHROMIUM_PATH)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


# Every CSP violation of every page is reported back here, whether the policy is enforced or
# report-only (the browser fires `securitypolicyviolation` for both).
CSP_LISTENER = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} `
    + `on ${e.documentURI} (${e.sourceFile || ''}:${e.lineNumber || ''}) ${e.sample || ''}`);
});
"""


def watch_csp(context, violations: list[str]) -> None:
    """Collect the Content-Security-Policy violations of every page the context opens: the
    DOM event and, as a second witness, Chromium's console error for it."""
    context.expose_function("__cspViolation", lambda text: violations.append(text))
    context.add_init_script(CSP_LISTENER)

    def on_console(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            violations.append(f"console: {message.text}")

    context.on("console", on_console)


@pytest.fixture
def csp_violations(settings) -> Iterator[list[str]]:
    """The journeys run under the enforced policy (production's) and must cause no violation."""
    settings.CONTENT_SECURITY_POLICY = settings.SECURITY_POLICY
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = None
    violations: list[str] = []
    yield violations
    assert violations == [], "Content-Security-Policy violations:\n" + "\n".join(violations)


@pytest.fixture
def new_page(browser, live_server, csp_violations):
    """Open a fresh browser context (own cookies) as often as a journey needs people."""
    contexts = []

    def make(width: int = 1280, height: int = 900):
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(10_000)
        watch_csp(context, csp_violations)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in():
    def do(page, email: str, password: str = "demo-password") -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/cases/")

    return do


@pytest.fixture
def sign_in_staff():
    """Staff sign in to the admin with the password, then the second factor: the current code
    of their authenticator app (the demo's seed_demo gives them one)."""

    def do(page, email: str, password: str = "demo-password") -> None:
        page.goto("/admin/login/")
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/accounts/two-factor/verify/**")
        device = TOTPDevice.objects.get(user__email=email, confirmed=True)
        page.get_by_label("Code").fill(f"{totp(device.bin_key):06d}")
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url("**/admin/")

    return do


def screenshot(page, name: str) -> None:
    """Screenshots for the README, refreshed with UPDATE_SCREENSHOTS=1."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
