"""The widget in a real browser that blocks third-party cookies (issue 13): the demo host
portal on one site (127.0.0.1) frames the helpdesk from another (localhost, or VoiceHub's
voicehub.localhost), and the agent works cases in it without any cookie."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from helpdesk.models import Case
from tenants.models import Tenant
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot, watch_csp
from tests.widget.conftest import footprint
from widget import services
from widget.demo import seed_widget_demo

pytestmark = pytest.mark.django_db(transaction=True)

# Chromium's own setting "Block third-party cookies" (chrome://settings/cookies), written into
# the profile before launch: what a person (or a browser default) chooses.
BLOCK_THIRD_PARTY = {"profile": {"cookie_controls_mode": 1, "block_third_party_cookies": True}}
ALLOW_THIRD_PARTY = {"profile": {"cookie_controls_mode": 0, "block_third_party_cookies": False}}
PROBE = "document.cookie = 'probe=1; SameSite=None; Secure; Path=/'; document.cookie"


def _context(browser, tmp_path: Path, preferences: dict):
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(json.dumps(preferences))
    context = browser.browser_type.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        headless=True,
        args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def port(live_server) -> str:
    return live_server.url.rsplit(":", 1)[1]


@pytest.fixture
def world(demo, port, settings):
    """The demo world, its host portals allowed on 127.0.0.1 at the live server's port."""
    settings.WIDGET_DEMO = True
    settings.SITE_URL = f"http://127.0.0.1:{port}"
    seed_widget_demo()
    return demo


@pytest.fixture
def blocking(browser, tmp_path, csp_violations):
    context = _context(browser, tmp_path, BLOCK_THIRD_PARTY)
    watch_csp(context, csp_violations)  # the host page and the widget break no policy
    yield context
    context.close()


def _open_widget(page, port: str, portal: str):
    page.goto(f"http://127.0.0.1:{port}/widget/demo/{portal}/")
    page.get_by_role("button", name="Help").click()
    expect(page.locator('iframe[title="Help"]')).to_be_visible()
    return page.frame_locator('iframe[title="Help"]')


def _widget_frame(page):
    return next(f for f in page.frames if "/widget/s/" in f.url)


def serious_violations(frame) -> list[str]:
    results = Axe().run(frame)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_the_cookie_probe_tells_blocked_from_allowed(world, port, browser, tmp_path) -> None:
    """The check below means something: in a profile that allows third-party cookies the same
    probe keeps its cookie inside the framed widget."""
    context = _context(browser, tmp_path, ALLOW_THIRD_PARTY)
    try:
        page = context.new_page()
        frame = _open_widget(page, port, "acme")
        expect(frame.get_by_role("heading", name="Acme Telecom: open cases")).to_be_visible()
        assert "probe=1" in _widget_frame(page).evaluate(PROBE)
    finally:
        context.close()


def test_an_agent_works_a_case_in_the_widget_with_third_party_cookies_blocked(
    world, port, blocking
) -> None:
    page = blocking.new_page()
    frame = _open_widget(page, port, "acme")
    expect(frame.get_by_role("heading", name="Acme Telecom: open cases")).to_be_visible()
    widget = _widget_frame(page)
    # Another site frames the helpdesk, and the browser really refuses it cookies there.
    assert page.url.startswith(f"http://127.0.0.1:{port}/")
    assert widget.url.startswith(f"http://localhost:{port}/widget/s/")
    assert widget.evaluate(PROBE) == ""
    # The iframe told the host page its height (postMessage to the named origin).
    iframe = page.locator('iframe[title="Help"]')
    expect(iframe).not_to_have_attribute("style", "")
    page.wait_for_function(
        "() => document.querySelector('iframe[title=\"Help\"]').style.height !== '480px'"
    )

    frame.get_by_role("link", name="Open a case").click()
    frame.get_by_label("Subject").fill("Handsets reboot every night")
    frame.get_by_role("radio", name="Moderate").check()
    frame.get_by_label("Description").fill("Since Monday, at 2am, every Yealink handset.")
    frame.get_by_label("Attachments").set_input_files(
        files=[{"name": "boot.log", "mimeType": "text/plain", "buffer": b"watchdog reset"}]
    )
    frame.get_by_role("button", name="Open case").click()
    expect(frame.get_by_role("status")).to_contain_text("is open")
    expect(frame.get_by_role("link", name="boot.log")).to_be_visible()
    case = Case.objects.get(subject="Handsets reboot every night")
    assert case.channel == "widget" and case.requester.email == "ann@acme.test"
    assert case.attachments.get().filename == "boot.log"

    frame.get_by_role("link", name="← All cases").click()
    row = frame.get_by_role("row").filter(has_text="Handsets reboot every night")
    expect(row).to_contain_text(case.reference)
    row.get_by_role("link", name=case.reference).click()
    frame.get_by_label("Comment").fill("It happened again tonight.")
    frame.get_by_role("button", name="Send reply").click()
    expect(frame.get_by_role("status")).to_contain_text("Your reply was added")
    expect(frame.get_by_role("list").filter(has_text="It happened again tonight.")).to_be_visible()
    assert case.updates.get().body == "It happened again tonight."
    assert blocking.cookies(f"http://localhost:{port}") == []
    screenshot(page, "widget")


def test_a_page_on_an_origin_not_allowed_cannot_frame_the_widget(
    world, port, blocking, csp_violations
) -> None:
    acme = Tenant.objects.get(slug="acme")
    elsewhere = ["https://portal.acme.example"]
    host = f"http://127.0.0.1:{port}"
    page = blocking.new_page()

    # The host page's origin is not (yet) allowed: its good token opens nothing.
    services.settings_update(tenant=acme, actor=None, origins=elsewhere, create_agents=False)
    before = footprint()
    frame = _open_widget(page, port, "acme")
    expect(frame.get_by_role("alert")).to_contain_text(f"{host} is not allowed to show")
    assert footprint() == before

    # Allowed: the same page shows the widget.
    services.settings_update(tenant=acme, actor=None, origins=[host], create_agents=False)
    frame = _open_widget(page, port, "acme")
    expect(frame.get_by_role("heading", name="Acme Telecom: open cases")).to_be_visible()
    url = _widget_frame(page).url

    # The admin takes the origin off the list: the same live session no longer shows there.
    services.settings_update(tenant=acme, actor=None, origins=elsewhere, create_agents=False)
    with page.expect_event("console", lambda m: "frame-ancestors" in m.text):
        page.locator('iframe[title="Help"]').evaluate("(f, url) => { f.src = url; }", url)
    page.wait_for_timeout(300)
    assert all("Acme Telecom" not in f.content() for f in page.frames[1:])
    assert blocking.new_page().goto(url).status == 200  # the page itself is alive
    # The refusal is the policy at work: the one violation this test expects.
    csp_violations[:] = [v for v in csp_violations if "frame-ancestors" not in v]


def test_ivans_widget_wears_voicehubs_brand_and_passes_axe(world, port, blocking) -> None:
    page = blocking.new_page()
    frame = _open_widget(page, port, "initech")
    expect(frame.get_by_role("heading", name="Initech: open cases")).to_be_visible()
    widget = _widget_frame(page)
    assert widget.url.startswith(f"http://voicehub.localhost:{port}/widget/s/")
    expect(frame.get_by_role("banner")).to_contain_text("VoiceHub support")
    assert "phonism" not in widget.content().lower()
    assert "phonism" not in page.content().lower()
    assert serious_violations(widget) == []
    frame.get_by_role("link", name="New case").click()
    expect(frame.get_by_role("heading", name="Open a case for Initech")).to_be_visible()
    assert "phonism" not in _widget_frame(page).content().lower()
    assert serious_violations(_widget_frame(page)) == []
    frame.get_by_role("button", name="Open case").click()  # errors, in VoiceHub's brand
    expect(frame.get_by_role("alert").first).to_be_visible()
    assert serious_violations(_widget_frame(page)) == []
    screenshot(page, "widget-voicehub")
