"""White label in a real browser: VoiceHub's host name and brand, and its admin running its
customers (issue 6). Chromium resolves any *.localhost name to this machine."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, watch_csp

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def voicehub_page(browser, live_server, settings, csp_violations):
    """A page whose base URL is VoiceHub's host name on the live server's port."""
    settings.SITE_URL = live_server.url  # emails link to the brand's host on SITE_URL's port
    port = live_server.url.rsplit(":", 1)[1]
    context = browser.new_context(
        base_url=f"http://voicehub.localhost:{port}", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    watch_csp(context, csp_violations)
    yield context.new_page()
    context.close()


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_voicehubs_host_shows_its_brand_and_logo_before_sign_in(demo, voicehub_page) -> None:
    page = voicehub_page
    page.goto("/accounts/login/")
    expect(page).to_have_title("Sign in · VoiceHub support")
    logo = page.get_by_role("img", name="VoiceHub logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("img => img.naturalWidth") > 0  # the logo view really served it
    header = page.get_by_role("banner")
    assert header.evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(91, 33, 182)"
    assert "phonism" not in page.content().lower()
    screenshot(page, "sign-in-voicehub")
    assert serious_violations(page) == []


def test_rita_adds_a_customer_and_invites_its_first_agent(demo, voicehub_page, sign_in) -> None:
    page = voicehub_page
    sign_in(page, "rita@voicehub.test")
    page.get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="VoiceHub: customers")).to_be_visible()
    page.get_by_role("link", name="Add a customer").click()
    page.get_by_label("Name", exact=True).fill("Massive Dynamic")
    page.get_by_role("button", name="Add customer").click()
    expect(page.get_by_role("status")).to_contain_text("Massive Dynamic is added")
    page.get_by_label("Email").fill("nina@massive.test")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text("Invitation sent to nina@massive.test")
    expect(page.get_by_role("row").filter(has_text="nina@massive.test")).to_contain_text("Invited")
    assert serious_violations(page) == []

    link = re.search(r"https?://\S+/accounts/invitation/\S+/", mail.outbox[-1].body).group(0)
    assert link.startswith("http://voicehub.localhost:")
    page.get_by_role("button", name="Sign out").click()
    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome! Set your password")).to_be_visible()
    expect(page.get_by_role("banner")).to_contain_text("VoiceHub support")


def test_screenshots_of_the_reseller_pages(demo, voicehub_page, sign_in) -> None:
    page = voicehub_page
    sign_in(page, "rita@voicehub.test")
    page.goto("/customers/")
    expect(page.get_by_role("table")).to_be_visible()
    screenshot(page, "customers")
    assert serious_violations(page) == []
    page.get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", name="Tier-one queue")).to_be_visible()
    screenshot(page, "queue")
    assert serious_violations(page) == []
