"""A sub-customer's case through tier one and tier two, in a real browser (issue 6)."""

import re

import pytest
from playwright.sync_api import expect

from helpdesk.models import Case

pytestmark = pytest.mark.django_db(transaction=True)


def test_ivan_rob_and_alice_work_an_escalated_case(demo, new_page, sign_in, sign_in_staff) -> None:
    ivan = new_page()
    sign_in(ivan, "ivan@initech.test")
    ivan.goto("/cases/new/")
    ivan.get_by_label("Subject").fill("Voicemail greetings reset every night")
    ivan.get_by_label("Moderate").check()
    ivan.get_by_label("Description").fill("All Initech mailboxes lose their greeting at 02:00.")
    ivan.get_by_role("button", name="Open case").click()
    reference = re.search(r"CS-\d+", ivan.title()).group(0)

    rob = new_page()
    sign_in(rob, "rob@voicehub.test")
    rob.goto(f"/cases/{reference}/")
    rob.get_by_role("textbox", name="Comment").fill("Thanks Ivan, we are checking.")
    rob.get_by_role("button", name="Add comment").click()
    expect(rob.get_by_role("status")).to_contain_text("Your comment was added")
    rob.get_by_label("Message to the provider").fill("Greeting files deleted by a nightly job?")
    rob.get_by_role("button", name="Escalate").click()
    expect(rob.get_by_role("status")).to_contain_text("Escalated")

    alice = new_page()
    sign_in_staff(alice, "alice@phonism.test")
    case = Case.objects.get(reference=reference)
    alice.goto(f"/admin/helpdesk/case/{case.pk}/change/")
    expect(alice.locator("body")).to_contain_text("Greeting files deleted by a nightly job?")
    alice.locator("#id_updates-2-0-body").fill("Yes: a cleanup job bug. Fixed for Initech now.")
    alice.locator("#id_updates-2-0-kind").select_option("escalation")
    alice.get_by_role("button", name="Save", exact=True).click()
    expect(alice.locator(".messagelist")).to_contain_text("was changed successfully")

    rob.reload()
    expect(rob.locator(".timeline")).to_contain_text("Yes: a cleanup job bug")
    rob.get_by_role("textbox", name="Comment").fill("Fixed on our platform, Ivan: please check.")
    rob.get_by_role("radio", name=re.compile("Reply to Initech")).check()
    rob.get_by_role("button", name="Add comment").click()

    ivan.reload()
    timeline = ivan.locator(".timeline")
    expect(timeline).to_contain_text("Thanks Ivan, we are checking.")
    expect(timeline).to_contain_text("Fixed on our platform, Ivan")
    expect(timeline).not_to_contain_text("Greeting files deleted")
    expect(timeline).not_to_contain_text("cleanup job bug")
    body = ivan.locator("body").inner_text()
    assert "phonism" not in body.lower()
    assert "phonism" not in ivan.title().lower()
    expect(ivan.get_by_role("banner")).to_contain_text("VoiceHub")
