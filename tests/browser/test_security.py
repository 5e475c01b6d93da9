"""The Content-Security-Policy and two-factor sign-in in a real browser: staff walk the admin's
pages (its scripts and styles must all load under the enforced policy) and a customer turns
two-factor sign-in on. The `csp_violations` fixture fails any test whose pages broke the policy."""

import re
from base64 import b32decode

import pytest
from django.urls import reverse
from django_otp.oath import totp
from playwright.sync_api import expect

from helpdesk.models import Case
from sla.models import Calendar

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_policy_is_enforced_on_the_pages_the_browser_gets(demo, new_page) -> None:
    page = new_page()
    response = page.goto("/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # The brand's colours (the only inline style) apply under the policy: the header is the
    # provider brand's primary colour, not the stylesheet's fallback.
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert page.locator(f"style[nonce='{nonce}']").count() == 0  # browsers hide the nonce...
    assert page.locator("style").count() == 1  # ...but the one inline style is there and applied
    background = page.get_by_role("banner").evaluate("h => getComputedStyle(h).backgroundColor")
    assert background == "rgb(11, 92, 173)"


def test_staff_walk_the_admin_without_a_policy_violation(demo, new_page, sign_in_staff) -> None:
    alice = new_page()
    sign_in_staff(alice, "alice@phonism.test")
    expect(alice.locator("#site-name")).to_contain_text("Phonism helpdesk")
    case = Case.objects.filter(tenant__slug="acme").first()
    calendar = Calendar.objects.first()
    for url in [
        reverse("admin:helpdesk_case_changelist"),
        reverse("admin:helpdesk_case_changelist") + "?severity__exact=5&q=CS",
        reverse("admin:helpdesk_case_change", args=[case.pk]),
        reverse("admin:sla_calendar_change", args=[calendar.pk]),
        reverse("admin:sla_plan_changelist"),
        reverse("admin:sla_slawatch_changelist"),
        reverse("admin:tenants_tenant_changelist"),
    ]:
        response = alice.goto(url)
        assert response.status == 200, url
        # The admin's own scripts ran (they would be blocked by a broken policy): jQuery
        # set up by jquery.init.js, and on pages with the navigation sidebar its toggle,
        # added by nav_sidebar.js (the case page has no sidebar: it is lighter without).
        scripts_ran = "typeof django === 'object' && typeof django.jQuery === 'function'"
        assert alice.evaluate(scripts_ran), url
        if "/helpdesk/case/" not in url or url.endswith("/case/") or "?" in url:
            expect(alice.locator("#toggle-nav-sidebar")).to_be_visible()
    # A JavaScript widget at work: the case list's "select all" checkbox (actions.js).
    alice.goto(reverse("admin:helpdesk_case_changelist"))
    alice.locator("#action-toggle").check()
    expect(alice.locator(".action-counter")).to_contain_text("selected")


def test_a_customer_turns_on_two_factor_sign_in(demo, new_page, sign_in) -> None:
    ann = new_page()
    sign_in(ann, "ann@acme.test")
    ann.get_by_role("link", name="Two-factor").click()
    expect(ann.get_by_role("main")).to_contain_text("Off.")
    ann.get_by_role("link", name="Turn on two-factor sign-in").click()
    expect(ann.get_by_role("img", name="QR code for your app")).to_be_visible()
    secret = ann.locator("code.secret").inner_text()
    key = b32decode(secret + "=" * (-len(secret) % 8))
    ann.get_by_label("Code from the app").fill(f"{totp(key):06d}")
    ann.get_by_role("button", name="Turn on").click()
    expect(ann.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    recovery = ann.locator("ul.recovery-codes code").first.inner_text()

    ann.get_by_role("button", name="Sign out").click()
    sign_in_page = ann
    sign_in_page.goto("/accounts/login/")
    sign_in_page.get_by_label("Email address").fill("ann@acme.test")
    sign_in_page.get_by_label("Password").fill("demo-password")
    sign_in_page.get_by_role("button", name="Sign in").click()
    expect(ann.get_by_role("heading", name="Two-factor sign-in")).to_be_visible()
    ann.get_by_label("Code").fill("000000")
    ann.get_by_role("button", name="Verify").click()
    expect(ann.locator(".errorlist")).to_contain_text("That code is not right")
    ann.get_by_label("Code").fill(recovery)
    ann.get_by_role("button", name="Verify").click()
    expect(ann.locator(".errorlist")).to_contain_text("Too many wrong codes. Wait 1 second,")
    ann.wait_for_timeout(1100)  # after one wrong code the next try waits a second
    ann.get_by_label("Code").fill(recovery)
    ann.get_by_role("button", name="Verify").click()
    expect(ann.get_by_role("status")).to_contain_text("recovery code; 9 left")
