"""A reseller's canned replies (issue 16): its agents insert their team's replies into the comment
box of a case, its admins manage them, and nobody else's are ever seen (the provider's, another
reseller's: tried by id)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from helpdesk import access
from helpdesk.forms import CannedReplyForm
from helpdesk.models import CannedReply, Case, Status
from tenants.models import Role, TenantKind
from tests.conftest import sign_in
from tests.factories import TenantFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def initech_case(demo) -> Case:
    return Case.objects.filter(tenant__slug="initech", status=Status.NEW).order_by("id").first()


@pytest.fixture
def fixed(demo) -> CannedReply:
    return CannedReply.objects.get(team__slug="voicehub", title="Fixed, please confirm")


@pytest.fixture
def phonism_reply(demo) -> CannedReply:
    return CannedReply.objects.filter(team__kind=TenantKind.PROVIDER).first()


@pytest.fixture
def other_reseller_reply(demo) -> CannedReply:
    other = TenantFactory(kind=TenantKind.RESELLER, name="CallCo", slug="callco")
    return CannedReply.objects.create(team=other, title="CallCo hello", body="CALLCO-ONLY text")


def comment_box(page: str) -> str:
    box = re.search(r'<textarea name="body"[^>]*>\n?(.*?)</textarea>', page, re.S)
    assert box is not None
    return box.group(1)


def test_policy_each_team_sees_only_its_own(demo, fixed, phonism_reply, other_reseller_reply):
    assert set(access.canned_replies_visible_to(demo["rob"])) == set(
        CannedReply.objects.filter(team__slug="voicehub")
    )
    assert fixed not in access.canned_replies_visible_to(demo["alice"])
    assert phonism_reply in access.canned_replies_visible_to(demo["alice"])
    for customer in ("ann", "ivan", "uma"):
        assert not access.canned_replies_visible_to(demo[customer]).exists()
    assert list(access.canned_replies_managed_by(demo["rob"])) == []  # an agent, not an admin
    assert fixed in access.canned_replies_managed_by(demo["rita"])
    assert other_reseller_reply not in access.canned_replies_managed_by(demo["rita"])


def test_a_resellers_agent_is_offered_the_teams_replies_filled_in(
    client, demo, initech_case, fixed, phonism_reply, other_reseller_reply
) -> None:
    sign_in(client, demo["rob"])
    page = client.get(initech_case.get_absolute_url()).content.decode()
    option = re.search(rf'<option value="{fixed.pk}" data-text="([^"]*)"', page)
    assert option is not None
    ivan = demo["ivan"].get_full_name()
    assert f"Hello {ivan}," in option.group(1)
    assert "fixed for Initech" in option.group(1) and initech_case.reference in option.group(1)
    assert "Rob VoiceHub" in option.group(1)
    assert phonism_reply.title not in page and "CallCo" not in page
    assert "js/canned.js" in page


def test_the_requesting_side_is_offered_none(client, demo, initech_case) -> None:
    sign_in(client, demo["ivan"])
    page = client.get(initech_case.get_absolute_url()).content.decode()
    assert 'name="canned"' not in page and "js/canned.js" not in page


def test_insert_without_script_appends_and_sends_nothing(client, demo, initech_case, fixed) -> None:
    sign_in(client, demo["rob"])
    url = reverse("case-comment", args=[initech_case.reference])
    data = {"body": "Good news.", "kind": "public", "canned": fixed.pk, "_insert_canned": "1"}
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 200
    ivan = demo["ivan"].get_full_name()
    assert comment_box(page).startswith(f"Good news.\n\nHello {ivan},")
    assert "“Fixed, please confirm” is inserted: edit it, then add your comment." in page
    assert not initech_case.updates.exists()
    # Edited, then sent.
    edited = comment_box(page).replace("Could you confirm", "Can you confirm")
    response = client.post(url, {"body": edited, "kind": "public", "canned": ""})
    assert response.status_code == 302
    assert initech_case.updates.get().body.startswith("Good news.")


def test_another_teams_reply_is_never_inserted(
    client, demo, initech_case, phonism_reply, other_reseller_reply
) -> None:
    sign_in(client, demo["rob"])
    url = reverse("case-comment", args=[initech_case.reference])
    for reply in (phonism_reply, other_reseller_reply):
        data = {"body": "Mine", "kind": "public", "canned": reply.pk, "_insert_canned": "1"}
        page = client.post(url, data).content.decode()
        assert "Choose a canned reply first" in page
        assert comment_box(page) == "Mine"
        assert reply.body[:20] not in page
    for bad in ("", "abc", "99999999999999999999", "²", "١٢"):
        data = {"body": "Mine", "canned": bad, "_insert_canned": "1"}
        assert client.post(url, data).status_code == 200
    # A customer's agent cannot insert anything, not even their reseller's.
    sign_in(client, demo["ivan"])
    data = {"body": "Mine", "canned": CannedReply.objects.filter(team__slug="voicehub")[0].pk}
    page = client.post(url, {**data, "_insert_canned": "1"}).content.decode()
    assert "Choose a canned reply first" in page and comment_box(page) == "Mine"


def test_sending_with_a_reply_chosen_but_not_inserted_asks_to_insert(
    client, demo, initech_case, fixed
) -> None:
    sign_in(client, demo["rob"])
    url = reverse("case-comment", args=[initech_case.reference])
    response = client.post(url, {"body": "Hello", "kind": "public", "canned": fixed.pk})
    assert response.status_code == 400
    assert "Press “Insert”" in response.content.decode()
    assert not initech_case.updates.exists()


# --- managing them ----------------------------------------------------------------------------

LIST = reverse("canned-replies")


def test_a_reseller_admin_adds_edits_and_deletes_the_teams_replies(client, demo, fixed) -> None:
    sign_in(client, demo["rita"])
    page = client.get(LIST).content.decode()
    assert "Fixed, please confirm" in page and "{requester_name}" in page
    response = client.post(LIST, {"title": "Weekend", "body": "Hi {requester_name}, Monday."})
    assert response.status_code == 302
    added = CannedReply.objects.get(title="Weekend")
    assert added.team.slug == "voicehub"
    edit = reverse("canned-reply-edit", args=[added.pk])
    assert client.post(edit, {"title": "Weekend", "body": "Back on Monday."}).status_code == 302
    added.refresh_from_db()
    assert added.body == "Back on Monday."
    # Titles are unique per team: a clear error, not a crash.
    response = client.post(LIST, {"title": "weekend", "body": "x"})
    assert response.status_code == 400
    assert "already has a canned reply with this title" in response.content.decode()
    response = client.post(edit, {"title": "Fixed, please confirm", "body": "x"})
    assert response.status_code == 400
    assert client.post(LIST, {"title": "", "body": ""}).status_code == 400
    assert client.post(LIST, {"title": "Long", "body": "x" * 5001}).status_code == 400
    delete = reverse("canned-reply-delete", args=[added.pk])
    assert client.post(delete).status_code == 302
    assert not CannedReply.objects.filter(pk=added.pk).exists()
    assert client.get(delete).status_code == 405


def test_nobody_manages_another_teams_replies(
    client, demo, fixed, phonism_reply, other_reseller_reply
) -> None:
    sign_in(client, demo["rita"])
    page = client.get(LIST).content.decode()
    assert phonism_reply.title not in page and "CallCo" not in page
    for reply in (phonism_reply, other_reseller_reply):
        assert client.get(reverse("canned-reply-edit", args=[reply.pk])).status_code == 404
        data = {"title": "Taken over", "body": "x"}
        assert client.post(reverse("canned-reply-edit", args=[reply.pk]), data).status_code == 404
        assert client.post(reverse("canned-reply-delete", args=[reply.pk])).status_code == 404
        reply.refresh_from_db()
        assert reply.title != "Taken over"
    # The other reseller's admin does not reach VoiceHub's either.
    callco_admin = member(other_reseller_reply.team, role=Role.ADMIN)
    sign_in(client, callco_admin)
    assert client.get(reverse("canned-reply-edit", args=[fixed.pk])).status_code == 404
    assert client.post(reverse("canned-reply-delete", args=[fixed.pk])).status_code == 404
    assert "Fixed, please confirm" not in client.get(LIST).content.decode()


@pytest.mark.parametrize("person", ["rob", "ann", "bob", "ivan"])
def test_only_a_resellers_admins_manage_canned_replies(client, demo, fixed, person) -> None:
    sign_in(client, demo[person])
    assert client.get(LIST).status_code == 403
    assert client.post(LIST, {"title": "x", "body": "y"}).status_code == 403
    assert client.post(reverse("canned-reply-delete", args=[fixed.pk])).status_code == 403
    assert CannedReply.objects.filter(pk=fixed.pk).exists()


def test_two_admins_adding_one_title_at_once_get_the_forms_message(
    client, demo, fixed, monkeypatch
) -> None:
    """Both pass the form's check before either saves; the database's constraint refuses the
    second, which gets the same message as a form error, not an error page."""
    sign_in(client, demo["rita"])
    monkeypatch.setattr(CannedReplyForm, "clean_title", lambda form: form.cleaned_data["title"])
    response = client.post(LIST, {"title": "Fixed, please confirm", "body": "Again"})
    assert response.status_code == 400
    assert "already has a canned reply with this title" in response.content.decode()
    assert CannedReply.objects.filter(team__slug="voicehub", title=fixed.title).count() == 1
