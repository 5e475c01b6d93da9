"""What customers' agents do every day, in a real browser."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core import mail
from playwright.sync_api import expect

from helpdesk.models import Case
from tests.browser.conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def open_major_case(page, subject: str, tmp_path) -> str:
    page.goto("/cases/new/")
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Major").check()
    page.get_by_label("Description").fill(
        "All Yealink handsets at the Boston site show No service."
    )
    log = tmp_path / "sbc.log"
    log.write_text("REGISTER 403 Forbidden\n")
    page.get_by_label("Attachments").set_input_files(str(log))
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("status")).to_contain_text("is open")
    return re.search(r"CS-\d+", page.title()).group(0)


def test_agents_of_one_organisation_share_a_case_and_others_get_404(
    demo, new_page, sign_in, tmp_path
) -> None:
    ann = new_page()
    sign_in(ann, "ann@acme.test")
    reference = open_major_case(ann, "Boston handsets cannot register", tmp_path)
    expect(ann.get_by_role("link", name="sbc.log")).to_be_visible()
    ann.get_by_role("link", name="Cases", exact=True).click()
    row = ann.get_by_role("row").filter(has_text=reference)
    expect(row).to_contain_text("Boston handsets cannot register")
    expect(row).to_contain_text("Major")

    bob = new_page()
    sign_in(bob, "bob@acme.test")
    bob.get_by_role("link", name=reference).click()
    bob.get_by_role("textbox", name="Comment").fill("Same at our Denver office since 10:00.")
    bob.get_by_role("button", name="Add comment").click()
    expect(bob.get_by_role("status")).to_contain_text("Your comment was added")
    expect(bob.locator(".timeline")).to_contain_text("Same at our Denver office")

    gina = new_page()
    sign_in(gina, "gina@globex.test")
    response = gina.goto(f"/cases/{reference}/")
    assert response.status == 404
    expect(gina.get_by_role("heading", name="Not found")).to_be_visible()
    attachment = Case.objects.get(reference=reference).attachments.get()
    assert gina.goto(f"/attachments/{attachment.pk}/").status == 404


def test_a_customer_without_entitlement_cannot_open_an_emergency(demo, new_page, sign_in) -> None:
    ann = new_page()
    sign_in(ann, "ann@acme.test")
    ann.goto("/cases/new/")
    ann.get_by_label("Subject").fill("Everything is down")
    ann.get_by_label("Emergency").check()
    ann.get_by_label("Description").fill("No calls anywhere.")
    ann.get_by_role("button", name="Open case").click()
    expect(ann.get_by_role("alert")).to_contain_text("contact your account manager")
    expect(ann.get_by_label("Subject")).to_have_value("Everything is down")  # nothing is lost
    assert not Case.objects.filter(subject="Everything is down").exists()


def test_a_tenant_admin_invites_an_agent_who_sets_a_password(demo, new_page, sign_in) -> None:
    bob = new_page()
    sign_in(bob, "bob@acme.test")
    bob.get_by_role("link", name="Team").click()
    bob.get_by_label("Email").fill("carla@acme.test")
    bob.get_by_label("First name").fill("Carla")
    bob.get_by_role("button", name="Send invitation").click()
    expect(bob.get_by_role("status")).to_contain_text("Invitation sent to carla@acme.test")
    expect(bob.get_by_role("row").filter(has_text="carla@acme.test")).to_contain_text("Invited")

    # The email links to the configured site (SITE_URL); the same path on the test server.
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", mail.outbox[-1].body).group(1)
    carla = new_page()
    carla.goto(link)
    carla.get_by_label(re.compile(r"^New password:?$")).fill("a-long-Passphrase-42")
    carla.get_by_label(re.compile(r"^New password confirmation")).fill("a-long-Passphrase-42")
    carla.get_by_role("button", name="Set password and sign in").click()
    carla.wait_for_url("**/cases/")
    expect(carla.get_by_role("banner")).to_contain_text("carla@acme.test")

    # Bob deactivates her; she is signed out and cannot sign in again.
    bob.reload()
    bob.get_by_role("row").filter(has_text="carla@acme.test").get_by_role(
        "link", name="Deactivate"
    ).click()
    bob.get_by_role("button", name="Yes, deactivate carla@acme.test").click()
    expect(bob.get_by_role("status")).to_contain_text("carla@acme.test is deactivated")
    carla.goto("/cases/")
    assert "/accounts/login/" in carla.url


@pytest.mark.parametrize("path", ["/accounts/login/", "/cases/", "/cases/new/", "CASE"])
def test_pages_have_no_serious_accessibility_violations(demo, new_page, sign_in, path) -> None:
    page = new_page()
    if path != "/accounts/login/":
        sign_in(page, "ann@acme.test")
    if path == "CASE":
        path = Case.objects.filter(tenant__slug="acme", updates__isnull=False).first()
        path = path.get_absolute_url()
    page.goto(path)
    results = Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in {"serious", "critical"}
    ]
    assert serious == []


def test_screenshots_of_the_main_pages(demo, new_page, sign_in) -> None:
    page = new_page(1280, 900)
    sign_in(page, "rob@voicehub.test")
    expect(page.get_by_role("table")).to_be_visible()
    screenshot(page, "case-list")
    case = Case.objects.filter(tenant__slug="initech", updates__visibility="reseller_note").first()
    page.goto(case.get_absolute_url())
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    screenshot(page, "case")
    page = new_page(1280, 900)
    sign_in(page, "ann@acme.test")
    page.goto("/cases/new/")
    expect(page.get_by_role("group", name=re.compile("Severity"))).to_be_visible()
    screenshot(page, "new-case")
    phone = new_page(390, 844)
    sign_in(phone, "ann@acme.test")
    expect(phone.get_by_role("table")).to_be_visible()
    screenshot(phone, "case-list-phone")
