import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password"


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": email, "password": password})


def test_people_sign_in_with_their_email_in_any_case(client, demo) -> None:
    response = sign_in(client, "Ann@Acme.test")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    home = client.get(reverse("home"), follow=True)
    assert home.redirect_chain == [(reverse("case-list"), 302)]
    assert b"Acme Telecom" in home.content


def test_a_wrong_password_is_a_clear_form_error(client, demo) -> None:
    response = sign_in(client, "ann@acme.test", "nope")
    assert response.status_code == 200
    assert "Please enter a correct email address and password." in response.content.decode()


def test_deactivated_people_cannot_sign_in(client, demo) -> None:
    demo["ann"].is_active = False
    demo["ann"].save()
    assert sign_in(client, "ann@acme.test").status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_deactivated_tenant_blocks_sign_in_and_ends_sessions(client, demo) -> None:
    assert sign_in(client, "ivan@initech.test").status_code == 302
    assert client.get(reverse("case-list")).status_code == 200
    voicehub = demo["rob"].membership.tenant
    voicehub.is_active = False  # the reseller: its sub-customers go dark too
    voicehub.save()
    response = client.get(reverse("case-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert sign_in(client, "ivan@initech.test").status_code == 200
    assert sign_in(client, "rob@voicehub.test").status_code == 200


def test_sign_out_is_a_post(client, demo) -> None:
    sign_in(client, "ann@acme.test")
    assert client.get(reverse("logout")).status_code == 405
    assert client.post(reverse("logout")).status_code == 302
    assert client.get(reverse("case-list"))["Location"].startswith(reverse("login"))


def test_staff_sign_in_to_the_admin(client, demo) -> None:
    response = client.post(
        reverse("admin:login"),
        {"username": "alice@phonism.test", "password": PASSWORD, "next": reverse("admin:index")},
    )
    assert response.status_code == 302
    # The password alone opens no admin page: the demo's recovery code is the second factor.
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("two-factor-verify"))
    client.post(reverse("two-factor-verify"), {"code": "demo-recovery-01"})
    assert client.get(reverse("admin:helpdesk_case_changelist")).status_code == 200
