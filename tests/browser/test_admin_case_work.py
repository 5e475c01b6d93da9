"""Staff answer a case in the admin and a reseller's agent answers a customer, with canned
replies inserted and edited, files attached, and a status set in the same save (issue 16): on a
laptop (1366×900) and a phone (390×844), no page scrolls sideways, axe finds nothing serious,
and the Content-Security-Policy sees no violation (static files only)."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from helpdesk.models import Case, Status
from tests.browser.conftest import screenshot
from tests.browser.test_daily_work import LAPTOP, PHONE, fits_the_screen, serious_violations

pytestmark = pytest.mark.django_db(transaction=True)


def admin_violations(page) -> list[str]:
    """axe on an admin change page, without axe's "preload": to read the admin's forms.css
    ``@import`` it fetches the file and inserts it as a <style> element, which the strict CSP
    blocks (a violation of axe's making, reported by the journey's CSP watch). Every rule
    still runs on the rendered page; only css-orientation-lock reads the preloaded sheets."""
    results = Axe().run(page, options={"resultTypes": ["violations"], "preload": False})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_staff_reply_with_a_canned_text_a_file_and_a_status_in_one_save(
    demo, new_page, sign_in_staff, size, tmp_path
) -> None:
    case = Case.objects.filter(tenant__slug="acme", status=Status.NEW).order_by("id").first()
    ann = case.requester.get_full_name()
    alice = new_page(*size)
    sign_in_staff(alice, "alice@phonism.test")
    alice.goto(f"/admin/helpdesk/case/{case.pk}/change/")
    fits_the_screen(alice)
    assert admin_violations(alice) == []

    box = alice.locator("#id_updates-2-0-body")
    box.fill("Thanks for the report.\n\nBest regards")
    # The cursor on the blank line after the first paragraph: the canned reply goes there, as
    # a paragraph of its own, not at the end.
    box.evaluate("b => { b.focus(); b.setSelectionRange(24, 24); }")
    reply_form = alice.locator("#reply")
    reply_form.get_by_label("Canned reply").select_option(label="Acknowledge")
    reply_form.get_by_role("button", name="Insert").click()
    value = box.input_value()
    assert value.startswith(f"Thanks for the report.\n\nHello {ann},")
    assert case.reference in value and value.endswith("Alice Agent\n\nBest regards")
    expect(reply_form.get_by_label("Canned reply")).to_have_value("")  # inserted, not chosen
    box.fill(value.replace("within the hour", "within 30 minutes"))  # edited before sending

    log = tmp_path / "sip trace.txt"
    log.write_bytes(b"REGISTER sip:acme.test SIP/2.0\n" * 40_000)  # 1.2 MB
    alice.locator("#id_updates-2-0-attachments").set_input_files(str(log))
    alice.get_by_label("Status").select_option(label="Waiting on customer")
    alice.locator("input[name=_continue]").click()
    expect(alice.locator(".messagelist")).to_contain_text("was changed successfully")

    case.refresh_from_db()
    assert case.status == Status.WAITING
    reply = case.updates.get()
    assert "within 30 minutes" in reply.body
    conversation = alice.locator("#updates-group")
    expect(conversation.locator(".entry-kind-public")).to_have_text("Public reply")
    expect(conversation.get_by_role("link", name="sip trace.txt")).to_be_visible()
    expect(alice.locator("#attachments-group")).to_contain_text("1.2\u00a0MB")
    fits_the_screen(alice)
    assert admin_violations(alice) == []
    if size == LAPTOP:
        alice.locator("#updates-group").scroll_into_view_if_needed()
        screenshot(alice, "admin-case")


def test_staff_without_script_insert_on_the_server(
    demo, browser, live_server, sign_in_staff, csp_violations
) -> None:
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": LAPTOP[0], "height": LAPTOP[1]},
        java_script_enabled=False,
    )
    try:
        alice = context.new_page()
        sign_in_staff(alice, "alice@phonism.test")
        case = Case.objects.filter(tenant__slug="acme", status=Status.NEW).first()
        alice.goto(f"/admin/helpdesk/case/{case.pk}/change/")
        alice.locator("#id_updates-2-0-body").fill("Noted.")
        reply_form = alice.locator("#reply")
        reply_form.get_by_label("Canned reply").select_option(label="Ask for a capture")
        reply_form.get_by_role("button", name="Insert").click()
        expect(alice.locator(".messagelist")).to_contain_text("is inserted in your reply")
        value = alice.locator("#id_updates-2-0-body").input_value()
        assert value.startswith("Noted.\n\nCould you send a packet capture")
        assert not case.updates.exists()
    finally:
        context.close()


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_a_resellers_agent_inserts_the_teams_canned_reply_and_edits_it(
    demo, new_page, sign_in, size
) -> None:
    case = Case.objects.filter(tenant__slug="initech", status=Status.NEW).order_by("id").first()
    rob = new_page(*size)
    sign_in(rob, "rob@voicehub.test")
    rob.goto(case.get_absolute_url())
    picker = rob.get_by_label("Canned reply")
    # The team's replies only: never the provider's.
    assert picker.locator("option").all_inner_texts() == [
        "Choose a canned reply…",
        "Fixed, please confirm",
        "Passed to our provider",
    ]
    box = rob.get_by_role("textbox", name="Comment")
    box.fill("Good news!")
    picker.select_option(label="Fixed, please confirm")
    rob.get_by_role("button", name="Insert").click()
    value = box.input_value()
    assert value.startswith("Good news!\n\nHello Ivan Initech,")
    assert "fixed for Initech" in value and case.reference in value
    box.fill(value.replace("in three days", "on Friday"))
    fits_the_screen(rob)
    assert serious_violations(rob) == []
    rob.get_by_role("button", name="Add comment").click()
    expect(rob.get_by_role("status")).to_contain_text("Your comment was added")
    assert "on Friday" in case.updates.get().body
    fits_the_screen(rob)


@pytest.mark.parametrize("size", [LAPTOP, PHONE], ids=["1366", "390"])
def test_a_reseller_admin_manages_the_teams_canned_replies(demo, new_page, sign_in, size) -> None:
    rita = new_page(*size)
    sign_in(rita, "rita@voicehub.test")
    rita.goto("/team/")
    rita.get_by_role("link", name="Canned replies").click()
    fits_the_screen(rita)
    assert serious_violations(rita) == []
    rita.get_by_label("Title").fill("Weekend")
    rita.get_by_label("Body").fill("Hello {requester_name}, we are back on Monday.")
    rita.get_by_role("button", name="Add canned reply").click()
    expect(rita.get_by_role("status")).to_contain_text("“Weekend” is ready")
    row = rita.get_by_role("row").filter(has_text="Weekend")
    row.get_by_role("link", name=re.compile("^Edit")).click()
    rita.get_by_label("Body").fill("Back on Monday, {requester_name}.")
    rita.get_by_role("button", name="Save").click()
    expect(rita.get_by_role("row").filter(has_text="Weekend")).to_contain_text("Back on Monday")
    fits_the_screen(rita)
    assert serious_violations(rita) == []
