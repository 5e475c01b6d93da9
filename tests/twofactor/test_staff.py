"""Staff need a second factor before any admin page (or any page) opens (issue 15, point 5)."""

from __future__ import annotations

import time
from base64 import b32decode
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib import admin
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpdesk.management.commands.seed_demo import DEMO_RECOVERY_CODES, DEMO_TOTP_KEY_BASE32
from tenants.models import User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password"
VERIFY = reverse("two-factor-verify")
SETUP = reverse("two-factor-setup")
# The start of the next 30-second TOTP step (so a test's codes stay valid for its whole run),
# close to now (a session saved while travelling far in time would have expired on return).
_now = int(time.time())
T0 = datetime.fromtimestamp(_now - _now % 30 + 30, tz=UTC)


def admin_urls() -> list[str]:
    """Every admin page: the index, each app, and each registered model's list, add, change,
    history and delete pages (for object 1: the check comes before the object is looked up)."""
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model in admin.site._registry:
        opts = model._meta
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        for page, args in [
            ("changelist", []),
            ("add", []),
            ("change", [1]),
            ("history", [1]),
            ("delete", [1]),
        ]:
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_{page}", args=args))
    return sorted(set(urls))


def password_sign_in(client, email: str) -> None:
    response = client.post(
        reverse("admin:login"),
        {"username": email, "password": PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 302


def code_now(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key):06d}"


def test_staff_without_a_second_factor_open_no_admin_page(client, demo) -> None:
    TOTPDevice.objects.filter(user=demo["alice"]).delete()
    password_sign_in(client, "alice@phonism.test")
    urls = admin_urls()
    assert len(urls) > 40
    for url in [*urls, reverse("case-list"), reverse("home")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{SETUP}?next="), url
    post = client.post(reverse("admin:helpdesk_case_add"), {"subject": "x"})
    assert post["Location"].startswith(SETUP)


def test_staff_with_an_app_are_asked_for_its_code_on_every_admin_page(client, demo) -> None:
    password_sign_in(client, "sam@phonism.test")
    for url in admin_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{VERIFY}?next="), url
    page = client.get(VERIFY)
    assert page.status_code == 200
    assert "Type the code your authenticator app shows" in page.content.decode()


def test_a_valid_code_opens_the_admin_and_returns_to_the_page_asked_for(client, demo) -> None:
    password_sign_in(client, "alice@phonism.test")
    cases = reverse("admin:helpdesk_case_changelist")
    assert client.get(cases)["Location"] == f"{VERIFY}?next={cases.replace('/', '%2F')}"
    device = TOTPDevice.objects.get(user=demo["alice"])
    with time_machine.travel(T0, tick=False):
        response = client.post(VERIFY, {"code": code_now(device), "next": cases})
    assert response.status_code == 302 and response["Location"] == cases
    assert client.get(cases).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_demo_key_gives_the_codes_the_readme_promises(client, demo) -> None:
    """A newcomer adds the README's key to an app: its codes are the demo staff's."""
    password_sign_in(client, "admin@phonism.test")
    key = b32decode(DEMO_TOTP_KEY_BASE32)
    with time_machine.travel(T0, tick=False):
        response = client.post(VERIFY, {"code": f"{totp(key):06d}"})
    assert response["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_recovery_code_works_once(client, demo) -> None:
    password_sign_in(client, "alice@phonism.test")
    response = client.post(VERIFY, {"code": DEMO_RECOVERY_CODES[3]}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assert "You signed in with a recovery code; 9 left." in response.content.decode()
    client.post(reverse("admin:logout"))

    password_sign_in(client, "alice@phonism.test")
    again = client.post(VERIFY, {"code": DEMO_RECOVERY_CODES[3]})
    assert again.status_code == 400
    assert "That recovery code is not right, or has been used already." in again.content.decode()
    assert client.get(reverse("admin:index"))["Location"].startswith(VERIFY)


def test_a_wrong_code_is_refused_with_a_message(client, demo) -> None:
    password_sign_in(client, "alice@phonism.test")
    for wrong in ["123456", "not-a-code", "", "9" * 40]:
        with time_machine.travel(T0 + timedelta(minutes=len(wrong)), tick=False):
            response = client.post(VERIFY, {"code": wrong})
        assert response.status_code == 400, wrong
        assert 'class="errorlist' in response.content.decode(), wrong
    assert client.get(reverse("admin:index"))["Location"].startswith(VERIFY)


def test_wrong_codes_slow_down_further_tries(client, demo) -> None:
    password_sign_in(client, "alice@phonism.test")
    device = TOTPDevice.objects.get(user=demo["alice"])
    with time_machine.travel(T0, tick=False) as clock:
        for _ in range(3):
            client.post(VERIFY, {"code": "000000"})
            clock.shift(timedelta(seconds=10))  # waited out each delay (1, 2, 4 s)
        right = code_now(device)
        # A fourth wrong code now: the next try, even the right code, waits 8 seconds.
        client.post(VERIFY, {"code": "000001"})
        refused = client.post(VERIFY, {"code": right})
        assert refused.status_code == 400
        assert "Too many wrong codes. Wait 8 seconds, then try again." in refused.content.decode()
        # A recovery code is no way around the wait.
        also = client.post(VERIFY, {"code": DEMO_RECOVERY_CODES[0]})
        assert "Too many wrong codes" in also.content.decode()
        assert StaticToken.objects.filter(token=DEMO_RECOVERY_CODES[0]).exists()
        clock.shift(timedelta(seconds=9))
        assert client.post(VERIFY, {"code": right}).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_new_staff_member_sets_up_an_app_and_gets_recovery_codes(client, demo) -> None:
    User.objects.create_user("nora@phonism.test", PASSWORD, is_staff=True)
    password_sign_in(client, "nora@phonism.test")
    response = client.get(reverse("admin:index"), follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(SETUP)
    assert "Staff accounts need a second factor before the admin opens." in page
    assert "<svg" in page and "otpauth" not in page  # the QR code, not a link to leak
    pending = TOTPDevice.objects.get(user__email="nora@phonism.test", confirmed=False)
    with time_machine.travel(T0, tick=False) as clock:
        wrong = client.post(SETUP, {"code": "000000"})
        assert wrong.status_code == 400
        assert "That code is not right." in wrong.content.decode()
        too_soon = client.post(SETUP, {"code": code_now(pending)})
        assert "Too many wrong codes. Wait 1 second, then try again." in too_soon.content.decode()
        clock.shift(timedelta(seconds=1))
        done = client.post(SETUP, {"code": code_now(pending)})
    codes = done.context["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "Your recovery codes" in done.content.decode()
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_password_alone_never_replaces_an_existing_second_factor(client, demo) -> None:
    """Someone with only the password cannot set up their own app over the real one."""
    password_sign_in(client, "alice@phonism.test")
    response = client.get(SETUP)
    assert response["Location"].startswith(VERIFY)
    assert client.post(SETUP, {"code": "123456"})["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=demo["alice"]).count() == 1


def test_staff_cannot_turn_it_off(client, demo) -> None:
    sign_in(client, demo["alice"])
    response = client.post(reverse("two-factor-off"), {"code": DEMO_RECOVERY_CODES[0]}, follow=True)
    assert "Staff accounts need two-factor sign-in" in response.content.decode()
    assert TOTPDevice.objects.filter(user=demo["alice"], confirmed=True).exists()


def test_the_next_address_never_leaves_the_site(client, demo) -> None:
    password_sign_in(client, "alice@phonism.test")
    response = client.post(
        VERIFY, {"code": DEMO_RECOVERY_CODES[1], "next": "https://evil.example/admin/"}
    )
    assert response["Location"] == reverse("admin:index")


def test_the_test_helper_signs_staff_in_verified(client, demo) -> None:
    sign_in(client, demo["sam"])
    assert client.get(reverse("admin:helpdesk_case_changelist")).status_code == 200
