"""A day's work for a customer's agent and a reseller (issue 16), on a laptop (1366×900) and a
phone (390×844): no page scrolls sideways, axe finds nothing serious, and the new everyday
actions work end to end."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from PIL import Image
from playwright.sync_api import expect

from helpdesk import services
from helpdesk.models import Case
from tenants.models import User
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)

LAPTOP, PHONE = (1366, 900), (390, 844)


def fits_the_screen(page) -> None:
    """The document is no wider than the viewport: nothing to scroll sideways."""
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{page.url} is {width}px wide in a {viewport}px window"


def serious_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def check(page, path: str) -> None:
    page.goto(path)
    fits_the_screen(page)
    assert serious_violations(page) == []


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_a_customers_agent_pages_fit_and_are_accessible(demo, new_page, sign_in, size) -> None:
    page = new_page(*size)
    sign_in(page, "bob@acme.test")
    case = Case.objects.filter(tenant__slug="acme", updates__isnull=False).first()
    for path in ("/cases/", "/team/", case.get_absolute_url(), "/cases/new/"):
        check(page, path)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_a_resellers_pages_fit_and_are_accessible(demo, new_page, sign_in, size) -> None:
    page = new_page(*size)
    sign_in(page, "rita@voicehub.test")
    case = Case.objects.filter(tenant__slug="initech").first()
    for path in ("/cases/", "/queue/", "/customers/", "/team/", case.get_absolute_url()):
        check(page, path)
    page.goto("/customers/")
    page.get_by_role("link", name="Initech").click()
    fits_the_screen(page)
    assert serious_violations(page) == []


def test_on_a_phone_the_list_is_cards_and_filters_fold_away(demo, new_page, sign_in) -> None:
    page = new_page(*PHONE)
    sign_in(page, "ann@acme.test")
    filters = page.locator("details.filter-toggle")
    expect(filters).not_to_have_attribute("open", "")
    expect(page.locator("form.filters")).to_be_hidden()
    first_case = page.locator("table.cases tbody tr").first
    # The first case is on the first screen, not below ~700px of filters.
    assert first_case.bounding_box()["y"] < 400
    # Each row is a card: its cells stack, each with a label.
    cells = first_case.locator("td")
    assert cells.nth(0).bounding_box()["y"] < cells.nth(1).bounding_box()["y"]
    page.get_by_text("Filters", exact=True).click()
    expect(page.locator("form.filters")).to_be_visible()
    expect(page.get_by_role("button", name="Apply")).to_be_visible()
    screenshot(page, "case-list-phone-filters")

    laptop = new_page(*LAPTOP)
    sign_in(laptop, "ann@acme.test")
    expect(laptop.locator("details.filter-toggle")).to_have_attribute("open", "")


def test_a_customer_writes_markdown_and_reads_each_message_once(
    demo, new_page, sign_in, tmp_path
) -> None:
    ann = new_page(*LAPTOP)
    sign_in(ann, "ann@acme.test")
    ann.goto("/cases/new/")
    limits = re.compile(r"Up to 10\.0\s+MB per file; allowed types:")
    expect(ann.get_by_text(limits)).to_be_visible()
    ann.get_by_label("Subject").fill("Boston handsets cannot register")
    ann.get_by_label("Major").check()
    ann.get_by_label("Description").fill(
        "**All** Yealink handsets, see https://status.example.com\n\n<script>alert(1)</script>"
    )
    image = tmp_path / "screen.png"
    Image.new("RGB", (640, 480), (30, 90, 200)).save(image, format="PNG")
    ann.get_by_label("Attachments").set_input_files(str(image))
    ann.get_by_role("button", name="Open case").click()
    expect(ann.get_by_role("status")).to_contain_text("is open")
    request = ann.locator("section", has=ann.get_by_role("heading", name="Request"))
    expect(request.locator("strong", has_text="All")).to_be_visible()
    link = request.get_by_role("link", name="https://status.example.com")
    expect(link).to_have_attribute("rel", "noopener nofollow")
    expect(request).to_contain_text("<script>alert(1)</script>")  # shown as text, not run
    preview = ann.get_by_role("img", name="Preview of screen.png")
    expect(preview).to_be_visible()
    preview.scroll_into_view_if_needed()
    ann.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=preview.element_handle()
    )
    assert preview.evaluate("img => img.naturalWidth") == 320  # the re-encoded thumbnail

    ann.get_by_role("textbox", name="Comment").fill("Also *Denver* since 10:00.")
    ann.get_by_role("button", name="Add comment").click()
    timeline = ann.locator(".timeline")
    expect(timeline.locator("em", has_text="Denver")).to_be_visible()
    expect(timeline).not_to_contain_text("Update added")
    expect(timeline.locator(".byline").last).to_contain_text("Acme Telecom")


def test_a_reseller_escalates_then_passes_the_answer_on(demo, new_page, sign_in) -> None:
    case = Case.objects.filter(tenant__slug="initech", tier=1, status="new").first()
    rob = new_page(*LAPTOP)
    sign_in(rob, "rob@voicehub.test")
    rob.goto(case.get_absolute_url())
    expect(rob.get_by_role("radio", name=re.compile("Reply to Initech"))).to_be_checked()
    rob.get_by_label("Message to the provider").fill("Greeting files deleted nightly?")
    rob.get_by_role("button", name="Escalate").click()
    expect(rob.get_by_role("status")).to_contain_text("Escalated")
    # After escalating, Rob is talking to the provider: that is the default now.
    expect(rob.get_by_role("radio", name=re.compile("escalation thread"))).to_be_checked()
    thread = rob.locator(".entry-escalation").last
    expect(thread.locator(".kind")).to_have_text("Escalation thread")

    case.refresh_from_db()
    services.update_add(
        case=case,
        author=User.objects.get(email="alice@phonism.test"),
        body="A cleanup job bug.\nFixed for Initech now.",
        escalation=True,
    )
    rob.reload()
    rob.get_by_role("link", name="Pass on to Initech").last.click()
    expect(rob.get_by_role("textbox", name="Comment")).to_have_value(
        "> A cleanup job bug.\n> Fixed for Initech now.\n\n"
    )
    expect(rob.get_by_role("radio", name=re.compile("Reply to Initech"))).to_be_checked()
    rob.get_by_role("textbox", name="Comment").fill("Fixed for you now, Ivan.")
    rob.get_by_role("button", name="Add comment").click()
    expect(rob.get_by_role("status")).to_contain_text("Your comment was added")
    screenshot(rob, "case-escalation")

    ivan = new_page(*PHONE)
    sign_in(ivan, "ivan@initech.test")
    ivan.goto(case.get_absolute_url())
    expect(ivan.locator(".timeline")).to_contain_text("Fixed for you now, Ivan.")
    expect(ivan.locator(".timeline")).not_to_contain_text("cleanup job bug")
    fits_the_screen(ivan)


def test_a_reseller_assigns_from_the_queue_and_asks_before_deactivating(
    demo, new_page, sign_in
) -> None:
    rita = new_page(*LAPTOP)
    sign_in(rita, "rita@voicehub.test")
    rita.goto("/queue/")
    reference = rita.locator("table.cases tbody tr td a").first.inner_text()
    rita.get_by_label(f"Select {reference}").check()
    rob = User.objects.get(email="rob@voicehub.test")
    rita.get_by_label("Assign selected cases to").select_option(value=str(rob.pk))
    rita.get_by_role("button", name="Assign", exact=True).click()
    expect(rita.get_by_role("status")).to_contain_text("1 case assigned to")
    row = rita.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text(rob.get_full_name() or rob.email)
    screenshot(rita, "queue-assign")

    rita.goto("/customers/")
    expect(rita.get_by_label("Response targets for your customers")).to_contain_text(
        "Emergency 10 min"
    )
    screenshot(rita, "customers-plans")
    rita.get_by_role("link", name="Umbrella").click()
    rita.get_by_role("link", name="Deactivate Umbrella").click()
    expect(rita.get_by_role("heading", name="Deactivate Umbrella?")).to_be_visible()
    rita.get_by_role("link", name="Cancel").click()
    expect(rita.get_by_role("link", name="Deactivate Umbrella")).to_be_visible()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_staff_work_the_admin_list_by_saved_views_and_number(
    demo, new_page, sign_in_staff, size
) -> None:
    alice = new_page(*size)
    sign_in_staff(alice, "alice@phonism.test")
    alice.goto("/admin/helpdesk/case/")
    fits_the_screen(alice)
    assert serious_violations(alice) == []
    case = Case.objects.order_by("id").first()
    alice.locator("#searchbar").fill(case.reference.split("-")[1])
    alice.locator("#searchbar").press("Enter")
    expect(alice.locator("#result_list tbody tr")).to_have_count(1)
    expect(alice.locator("#result_list")).to_contain_text(case.reference)
    fits_the_screen(alice)
    alice.goto("/admin/helpdesk/case/?view=escalated")
    expect(alice.get_by_role("link", name="Escalated to us")).to_be_visible()
    alice.goto(f"/admin/helpdesk/case/{case.pk}/change/")
    fits_the_screen(alice)
    expect(alice.locator("input[name=_addanother]")).to_have_count(0)
