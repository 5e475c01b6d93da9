import re

import pytest
from django.core import mail
from django.urls import reverse

from tenants.models import Membership, User

pytestmark = pytest.mark.django_db

URL = reverse("team")


def invite(client, email: str = "carla@acme.test", **extra):
    return client.post(URL, {"email": email, "first_name": "Carla", "role": "agent", **extra})


def invitation_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", message.body).group(1)


def test_agents_cannot_manage_the_team(client, demo) -> None:
    client.force_login(demo["ann"])
    assert client.get(URL).status_code == 403
    assert invite(client).status_code == 403
    assert not User.objects.filter(email="carla@acme.test").exists()


def test_a_tenant_admin_lists_only_their_people(client, demo) -> None:
    client.force_login(demo["bob"])
    members = client.get(URL).context["members"]
    assert {m.user.email for m in members} == {"ann@acme.test", "bob@acme.test"}


def test_an_invitation_creates_the_agent_and_mails_a_one_time_link(
    client, demo, django_capture_on_commit_callbacks
) -> None:
    client.force_login(demo["bob"])
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(client).status_code == 302
    carla = User.objects.get(email="carla@acme.test")
    assert carla.membership.tenant.slug == "acme" and not carla.has_usable_password()
    message = mail.outbox[-1]
    assert message.to == ["carla@acme.test"] and "Acme Telecom" in message.subject
    link = invitation_link(message)

    visitor = client.__class__()
    page = visitor.get(link, follow=True)
    assert "Set your password" in page.content.decode()
    form_url = page.redirect_chain[-1][0]
    done = visitor.post(
        form_url, {"new_password1": "a-long-Passphrase-42", "new_password2": "a-long-Passphrase-42"}
    )
    assert done.status_code == 302
    carla.refresh_from_db()
    assert carla.check_password("a-long-Passphrase-42")
    again = client.__class__().get(link, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_an_existing_address_is_a_form_error(client, demo) -> None:
    client.force_login(demo["bob"])
    response = invite(client, "gina@globex.test")
    assert response.status_code == 400
    assert "already has an account" in response.content.decode()
    assert Membership.objects.get(user__email="gina@globex.test").tenant.slug == "globex"


def test_inviting_a_pending_person_again_resends_the_link(
    client, demo, django_capture_on_commit_callbacks
) -> None:
    client.force_login(demo["bob"])
    with django_capture_on_commit_callbacks(execute=True):
        invite(client)
        invite(client)
    assert User.objects.filter(email="carla@acme.test").count() == 1
    assert len(mail.outbox) == 2


def test_deactivate_and_reactivate_an_agent(client, demo) -> None:
    client.force_login(demo["bob"])
    url = reverse("team-member-active", args=[demo["ann"].pk])
    client.post(url, {"active": "0"})
    demo["ann"].refresh_from_db()
    assert not demo["ann"].is_active
    client.post(url, {"active": "1"})
    demo["ann"].refresh_from_db()
    assert demo["ann"].is_active
    # Anything but 0 or 1 is refused with the reason; it used to mean "deactivate".
    for value in ("yes", "", "\N{GRINNING FACE}"):
        response = client.post(url, {"active": value})
        assert response.status_code == 400
        assert "active=1 to reactivate or active=0" in response.content.decode()
    assert client.post(url).status_code == 400
    demo["ann"].refresh_from_db()
    assert demo["ann"].is_active


def test_admins_cannot_deactivate_themselves(client, demo) -> None:
    client.force_login(demo["bob"])
    response = client.post(
        reverse("team-member-active", args=[demo["bob"].pk]), {"active": "0"}, follow=True
    )
    assert "You cannot deactivate yourself" in response.content.decode()
    demo["bob"].refresh_from_db()
    assert demo["bob"].is_active


@pytest.mark.parametrize("victim", ["gina", "ivan", "alice"])
def test_people_of_other_organisations_are_not_found(client, demo, victim) -> None:
    client.force_login(demo["bob"])
    response = client.post(reverse("team-member-active", args=[demo[victim].pk]), {"active": "0"})
    assert response.status_code == 404
    demo[victim].refresh_from_db()
    assert demo[victim].is_active


def test_deactivation_asks_first_and_only_a_post_deactivates(client, demo) -> None:
    client.force_login(demo["bob"])
    response = client.get(reverse("team-member-active", args=[demo["ann"].pk]))
    assert response.status_code == 200
    assert "Deactivate ann@acme.test?" in response.content.decode()
    demo["ann"].refresh_from_db()
    assert demo["ann"].is_active
