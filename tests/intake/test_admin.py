"""Staff work the triage list in the admin: open a case, add to a case, dismiss (kept)."""

import pytest
from django.urls import reverse

from helpdesk.models import Case, Visibility
from intake.models import InboundMessage, Mailbox, Outcome
from tests.conftest import sign_in
from tests.intake.helpers import ingest, mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger(demo) -> InboundMessage:
    raw = mail(sender="carol@acme-newhire.example", subject="Headset echo", body="Echo on calls.")
    row = ingest(raw)
    assert row.outcome == Outcome.TRIAGE
    return row


def test_the_triage_list_shows_waiting_messages_with_their_reason(client, demo, stranger):
    ingest(mail(subject="fine"))  # opens a case: not on the list
    sign_in(client, demo["alice"])
    page = client.get(reverse("admin:intake_triage_changelist")).content.decode()
    assert "carol@acme-newhire.example" in page and "Unknown sender" in page
    assert "fine" not in page
    assert "Open a case" in page and "Add to a case" in page


def test_all_inbound_mail_is_searchable(client, demo, stranger):
    sign_in(client, demo["alice"])
    url = reverse("admin:intake_inboundmessage_changelist")
    assert "Headset echo" in client.get(url, {"q": "carol"}).content.decode()
    assert "Headset echo" not in client.get(url, {"q": "nobody-else"}).content.decode()


def test_staff_open_a_case_for_a_chosen_tenant_and_requester(client, demo, stranger):
    sign_in(client, demo["alice"])
    acme, bob = demo["bob"].membership.tenant, demo["bob"]
    url = reverse("admin:intake_triage_open", args=[stranger.pk])
    response = client.post(url, {"tenant": acme.pk, "requester": bob.pk})
    assert response.status_code == 302
    stranger.refresh_from_db()
    assert stranger.outcome == Outcome.CASE_OPENED and stranger.handled_by == demo["alice"]
    case = stranger.case
    assert case.tenant == acme and case.requester == bob and case.subject == "Headset echo"
    assert "Unknown sender" in stranger.reason  # why it waited stays on record


def test_a_requester_of_another_tenant_is_a_form_error(client, demo, stranger):
    sign_in(client, demo["alice"])
    url = reverse("admin:intake_triage_open", args=[stranger.pk])
    response = client.post(
        url, {"tenant": demo["bob"].membership.tenant.pk, "requester": demo["gina"].pk}
    )
    assert response.status_code == 200
    assert "is not an agent of" in response.content.decode()
    stranger.refresh_from_db()
    assert stranger.outcome == Outcome.TRIAGE


def test_staff_add_a_strangers_message_to_a_case_as_an_internal_note(
    client, demo, acme_case, stranger
):
    sign_in(client, demo["alice"])
    url = reverse("admin:intake_triage_add", args=[stranger.pk])
    response = client.post(url, {"reference": acme_case.reference.lower()})
    assert response.status_code == 302
    stranger.refresh_from_db()
    assert stranger.outcome == Outcome.UPDATE_ADDED and stranger.case == acme_case
    update = acme_case.updates.get()
    assert update.visibility == Visibility.PROVIDER_NOTE
    assert "carol@acme-newhire.example" in update.body and "Echo on calls." in update.body


def test_an_unknown_reference_is_a_form_error(client, demo, stranger):
    sign_in(client, demo["alice"])
    url = reverse("admin:intake_triage_add", args=[stranger.pk])
    response = client.post(url, {"reference": "CS-99999999"})
    assert "There is no case CS-99999999." in response.content.decode()


def test_dismissed_messages_leave_the_list_and_are_kept(client, demo, stranger):
    sign_in(client, demo["alice"])
    url = reverse("admin:intake_triage_changelist")
    client.post(url, {"action": "dismiss", "_selected_action": [stranger.pk]})
    stranger.refresh_from_db()
    assert stranger.outcome == Outcome.DISMISSED
    assert bytes(stranger.raw).startswith(b"From:") or b"carol" in bytes(stranger.raw)
    assert "carol" not in client.get(url).content.decode()


def test_the_original_is_one_click_away(client, demo, stranger):
    sign_in(client, demo["alice"])
    response = client.get(reverse("admin:intake_inboundmessage_raw", args=[stranger.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "message/rfc822"
    assert response.content == bytes(stranger.raw)


def test_customers_never_reach_the_triage(client, demo, stranger):
    sign_in(client, demo["ann"])
    response = client.get(reverse("admin:intake_inboundmessage_raw", args=[stranger.pk]))
    assert response.status_code == 302  # to the admin's sign-in page
    assert Case.objects.filter(subject="Headset echo").count() == 0


def test_a_mailbox_password_is_write_only(client, demo):
    sign_in(client, demo["admin"])
    add = reverse("admin:intake_mailbox_add")
    response = client.post(
        add,
        {
            "name": "VoiceHub support",
            "host": "imap.voicehub.example",
            "port": 993,
            "use_ssl": "on",
            "username": "support@voicehub.example",
            "new_password": "hunter2-very-secret",
            "folder": "INBOX",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    mailbox = Mailbox.objects.get()
    assert mailbox.password == "hunter2-very-secret"
    change = client.get(reverse("admin:intake_mailbox_change", args=[mailbox.pk])).content.decode()
    listing = client.get(reverse("admin:intake_mailbox_changelist")).content.decode()
    assert "hunter2" not in change and "hunter2" not in listing
    assert "hunter2" not in repr(mailbox) and "hunter2" not in str(mailbox)
    # Saving without typing a password keeps it.
    data = {
        "name": "VoiceHub support",
        "host": "imap.voicehub.example",
        "port": 993,
        "username": "support@voicehub.example",
        "folder": "INBOX",
        "is_active": "on",
    }
    client.post(reverse("admin:intake_mailbox_change", args=[mailbox.pk]), data)
    mailbox.refresh_from_db()
    assert mailbox.password == "hunter2-very-secret" and not mailbox.use_ssl
