"""The SLA report pages in Chromium: Sam's dashboard in the admin and Rita's report in
VoiceHub's brand draw their charts, each with its table, and pass axe."""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.browser.conftest import screenshot


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def test_ritas_report_draws_its_charts_in_her_brand(demo, new_page, sign_in) -> None:
    page = new_page(1366, 900)
    sign_in(page, "rita@voicehub.test")
    page.get_by_role("link", name="SLA report").click()
    expect(page.get_by_role("heading", name="SLA report")).to_be_visible()
    charts = page.locator("figure.chart svg[role=img]")
    expect(charts).to_have_count(3)
    assert page.locator("figure.chart svg rect").count() > 5  # bars and cells were drawn
    expect(page.get_by_role("table", name="Summary")).to_be_visible()
    assert "VoiceHub (your tier one)" in page.content()
    page.get_by_label("Period").select_option("this_year")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", name="By month and severity")).to_be_visible()
    assert serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    screenshot(page, "sla-report")


def test_sams_dashboard_draws_its_charts_with_tables(demo, new_page, sign_in_staff) -> None:
    page = new_page(1366, 900)
    sign_in_staff(page, "sam@phonism.test")
    page.get_by_role("link", name="SLA dashboard").click()
    expect(page.get_by_role("heading", name="Right now")).to_be_visible()
    expect(page.locator("figure.chart svg[role=img]")).to_have_count(2)
    for caption in ("Running clocks at risk or breached, by tier", "Open cases per assignee"):
        expect(page.get_by_role("table", name=caption)).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "sla-dashboard")
