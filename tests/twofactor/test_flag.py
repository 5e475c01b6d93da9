"""Whether a person has turned two-factor sign-in on is kept in their row (issue 10: no device
query on every request), in step with their authenticator app however it is written."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.models import User
from tests.conftest import sign_in
from tests.twofactor.test_customers import password_sign_in, turn_on


def flag(email: str) -> bool:
    return User.objects.get(email=email).second_factor_on


def asked_for_a_code(client) -> bool:
    response = client.get(reverse("case-list"))
    return response.status_code == 302 and response["Location"].startswith(
        reverse("two-factor-verify")
    )


def test_turning_it_on_and_off_on_the_pages_sets_and_clears_it(client, demo) -> None:
    assert not flag("bob@acme.test")
    _, codes = turn_on(client, "bob@acme.test")
    assert flag("bob@acme.test")
    client.post(reverse("two-factor-off"), {"code": codes[0]})
    assert not flag("bob@acme.test")
    client.post(reverse("logout"))
    password_sign_in(client, "bob@acme.test")
    assert not asked_for_a_code(client)


def test_an_app_set_up_but_not_confirmed_is_not_on(client, demo) -> None:
    password_sign_in(client, "ann@acme.test")
    client.get(reverse("two-factor-setup"))
    assert TOTPDevice.objects.filter(user__email="ann@acme.test", confirmed=False).exists()
    assert not flag("ann@acme.test")
    assert not asked_for_a_code(client)


def test_an_app_added_another_way_is_asked_for_at_the_next_request(client, demo) -> None:
    password_sign_in(client, "ann@acme.test")
    assert not asked_for_a_code(client)
    TOTPDevice.objects.create(user=demo["ann"], name="Added by a script", confirmed=True)
    assert asked_for_a_code(client)  # the session already open must give a code now


def test_staff_deleting_a_customers_app_in_the_admin_turns_it_off(client, demo) -> None:
    device, _ = turn_on(client, "ann@acme.test")
    client.post(reverse("logout"))
    staff = sign_in(client, demo["admin"])  # the superuser: devices are not in any group
    url = reverse("admin:otp_totp_totpdevice_delete", args=[device.pk])
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not flag("ann@acme.test")
    client.post(reverse("logout"))
    password_sign_in(client, "ann@acme.test")
    assert not asked_for_a_code(client)


def test_an_app_given_to_someone_else_moves_the_flag(demo) -> None:
    device = TOTPDevice.objects.create(user=demo["ann"], name="App", confirmed=True)
    assert flag("ann@acme.test") and not flag("bob@acme.test")
    device.user = demo["bob"]
    device.save()
    assert not flag("ann@acme.test") and flag("bob@acme.test")


def test_a_customers_page_asks_nothing_of_the_devices(client, demo) -> None:
    password_sign_in(client, "ann@acme.test")
    client.get(reverse("case-list"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("case-list")).status_code == 200
    assert not [q for q in queries if "otp_totp" in q["sql"]]
