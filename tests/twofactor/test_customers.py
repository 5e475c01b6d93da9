"""Customers may turn two-factor sign-in on for themselves (issue 15, point 5)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from twofactor.devices import totp_config_url

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password"
_now = int(time.time())
T0 = datetime.fromtimestamp(_now - _now % 30 + 30, tz=UTC)


def password_sign_in(client, email: str):
    return client.post(reverse("login"), {"username": email, "password": PASSWORD})


def turn_on(client, email: str) -> tuple[TOTPDevice, list[str]]:
    password_sign_in(client, email)
    assert "Off." in client.get(reverse("two-factor")).content.decode()
    client.get(reverse("two-factor-setup"))
    device = TOTPDevice.objects.get(user__email=email, confirmed=False)
    with time_machine.travel(T0, tick=False):
        response = client.post(reverse("two-factor-setup"), {"code": f"{totp(device.bin_key):06d}"})
    return device, response.context["codes"]


def test_customers_need_no_second_factor_until_they_turn_it_on(client, demo) -> None:
    password_sign_in(client, "ann@acme.test")
    assert client.get(reverse("case-list")).status_code == 200


def test_a_customer_turns_it_on_and_is_asked_at_the_next_sign_in(client, demo) -> None:
    device, codes = turn_on(client, "ann@acme.test")
    assert len(codes) == 10
    assert "On." in client.get(reverse("two-factor")).content.decode()
    client.post(reverse("logout"))

    response = password_sign_in(client, "ann@acme.test")
    assert client.get(response["Location"])["Location"].startswith(reverse("two-factor-verify"))
    assert client.get(reverse("case-list"))["Location"].startswith(reverse("two-factor-verify"))
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        code = f"{totp(device.bin_key):06d}"
        response = client.post(reverse("two-factor-verify"), {"code": code})
    assert response["Location"] == reverse("home")
    assert client.get(reverse("case-list")).status_code == 200


def test_a_customer_turns_it_off_with_a_code(client, demo) -> None:
    _, codes = turn_on(client, "bob@acme.test")
    refused = client.post(reverse("two-factor-off"), {"code": "nope"})
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user__email="bob@acme.test").exists()
    time.sleep(1.1)  # the wrong code above makes the next try wait a second
    response = client.post(reverse("two-factor-off"), {"code": codes[0]}, follow=True)
    assert "Two-factor sign-in is off." in response.content.decode()
    assert not TOTPDevice.objects.filter(user__email="bob@acme.test").exists()
    client.post(reverse("logout"))
    password_sign_in(client, "bob@acme.test")
    assert client.get(reverse("case-list")).status_code == 200


def test_new_recovery_codes_replace_the_old_ones(client, demo) -> None:
    _, old = turn_on(client, "gina@globex.test")
    response = client.post(reverse("two-factor-recovery-codes"))
    new = response.context["codes"]
    assert set(new).isdisjoint(old)
    client.post(reverse("logout"))
    password_sign_in(client, "gina@globex.test")
    assert client.post(reverse("two-factor-verify"), {"code": old[0]}).status_code == 400
    time.sleep(1.1)
    assert client.post(reverse("two-factor-verify"), {"code": new[0]}).status_code == 302


def test_a_sub_customers_app_is_named_after_its_reseller(client, demo) -> None:
    password_sign_in(client, "ivan@initech.test")
    response = client.get(reverse("two-factor-setup"))
    assert "phonism" not in response.content.decode().lower()
    assert response.context["issuer"] == "VoiceHub support"
    device = TOTPDevice.objects.get(user__email="ivan@initech.test", confirmed=False)
    assert totp_config_url(device, issuer="VoiceHub support").startswith(
        "otpauth://totp/VoiceHub%20support%3Aivan%40initech.test?secret="
    )
