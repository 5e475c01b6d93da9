"""Replies find their case by In-Reply-To, References, the reply address or the subject, and
are added only when the sender may act on the case (otherwise: triage)."""

import pytest

from helpdesk.emails import build_message
from helpdesk.models import Case, OutboundEmail, Status, Visibility
from helpdesk.reply_address import reply_address
from helpdesk.services import case_change_status, update_add
from intake.models import Outcome
from tests.intake.helpers import ingest, mail

pytestmark = pytest.mark.django_db


def _ack_id(case: Case) -> str:
    return OutboundEmail.objects.get(case=case, kind="acknowledgement").message_id


def _updates(case: Case) -> list[str]:
    return list(case.updates.order_by("id").values_list("body", flat=True))


def test_in_reply_to_one_of_our_emails_adds_a_public_update(demo, acme_case):
    row = ingest(mail(subject="Re: something else", headers={"In-Reply-To": _ack_id(acme_case)}))
    assert row.outcome == Outcome.UPDATE_ADDED
    assert row.case == acme_case and "In-Reply-To names an email we sent" in row.reason
    update = row.update
    assert update.visibility == Visibility.PUBLIC and update.author == demo["ann"]
    assert "handset shows No service" in update.body


def test_references_to_one_of_our_emails_thread_too(demo, acme_case):
    refs = f"<unrelated@client.example> {_ack_id(acme_case)}"
    row = ingest(mail(subject="no reference here", headers={"References": refs}))
    assert row.outcome == Outcome.UPDATE_ADDED and row.case == acme_case
    assert "References" in row.reason


def test_references_to_an_email_we_received_thread(demo):
    first = ingest(mail(message_id="<first@client.example>", subject="New problem"))
    reply = ingest(
        mail(
            sender="bob@acme.test", subject="more", headers={"References": "<first@client.example>"}
        )
    )
    assert reply.outcome == Outcome.UPDATE_ADDED and reply.case == first.case
    assert "names an email we received" in reply.reason


def test_the_case_thread_id_in_references_threads(demo, acme_case):
    thread = f"<{acme_case.reference.lower()}@phonism.test>"
    row = ingest(mail(subject="hello", headers={"References": thread}))
    assert row.case == acme_case and row.outcome == Outcome.UPDATE_ADDED


def test_the_signed_reply_address_threads_when_the_subject_changed(demo, acme_case):
    address = reply_address("support@phonism.test", acme_case.reference)
    row = ingest(mail(to=address, subject="totally new subject"), recipient=address)
    assert row.outcome == Outcome.UPDATE_ADDED and row.case == acme_case
    assert "reply address" in row.reason


def test_a_forged_reply_address_threads_nothing(demo, acme_case):
    forged = f"support+{acme_case.reference.lower()}.000000000000@phonism.test"
    row = ingest(mail(to=forged, subject="totally new subject"), recipient=forged)
    assert row.outcome == Outcome.CASE_OPENED and row.case != acme_case


def test_the_case_reference_in_the_subject_threads(demo, acme_case):
    row = ingest(mail(subject=f"Re: [{acme_case.reference}] Voicemail is silent"))
    assert row.outcome == Outcome.UPDATE_ADDED and row.case == acme_case
    assert "subject names the case" in row.reason


def test_a_spoofed_sender_with_a_valid_reference_goes_to_triage(demo, acme_case):
    before = _updates(acme_case)
    row = ingest(
        mail(
            sender="gina@globex.test",
            subject=f"Re: [{acme_case.reference}]",
            headers={"In-Reply-To": _ack_id(acme_case)},
        )
    )
    assert row.outcome == Outcome.TRIAGE
    assert "gina@globex.test may not act on that case" in row.reason
    assert _updates(acme_case) == before


def test_an_unknown_sender_replying_goes_to_triage(demo, acme_case):
    row = ingest(mail(sender="mallory@evil.example", subject=f"[{acme_case.reference}] hi"))
    assert row.outcome == Outcome.TRIAGE and "may not act on" in row.reason


def test_the_resellers_agent_may_write_on_its_customers_case_as_an_internal_note(demo):
    ivan_case = ingest(mail(sender="ivan@initech.test"), recipient="support@voicehub.test").case
    row = ingest(mail(sender="rob@voicehub.test", subject=f"Re: [{ivan_case.reference}] ok"))
    assert row.outcome == Outcome.UPDATE_ADDED and "internal note" in row.reason
    assert row.update.visibility == Visibility.RESELLER_NOTE
    ivan_case.refresh_from_db()
    assert ivan_case.first_response_at is None  # a note is no response


def test_staff_answering_a_note_notification_never_write_to_the_customer(demo, acme_case):
    update_add(case=acme_case, author=demo["sam"], body="Internal: check the SBC.", internal=True)
    note = OutboundEmail.objects.get(case=acme_case, kind="note")
    row = ingest(mail(sender="alice@phonism.test", headers={"In-Reply-To": note.message_id}))
    assert row.update.visibility == Visibility.PROVIDER_NOTE


def test_a_reply_to_a_resolved_case_reopens_it(demo, acme_case):
    case_change_status(case=acme_case, actor=demo["ann"], status=Status.RESOLVED)
    row = ingest(mail(subject=f"Re: [{acme_case.reference}] still broken"))
    acme_case.refresh_from_db()
    assert row.outcome == Outcome.UPDATE_ADDED and "reopened" in row.reason
    assert acme_case.status == Status.IN_PROGRESS


def test_a_reply_to_a_closed_case_goes_to_triage_with_the_reason(demo, acme_case):
    case_change_status(case=acme_case, actor=demo["ann"], status=Status.RESOLVED)
    case_change_status(case=acme_case, actor=demo["alice"], status=Status.CLOSED)
    before = _updates(acme_case)
    row = ingest(mail(subject=f"Re: [{acme_case.reference}] again"))
    assert row.outcome == Outcome.TRIAGE
    assert "which is closed: closed is final" in row.reason
    assert row.case == acme_case and _updates(acme_case) == before


def test_quoted_history_is_stripped_and_the_full_text_is_one_click_away(demo, acme_case):
    body = (
        "It works again after the reboot, thanks!\n\n"
        "On Mon, Nov 23, 2026 at 10:00 AM Support <support@phonism.test> wrote:\n"
        "> Please reboot the handset.\n> Regards\n"
    )
    row = ingest(mail(body=body, subject=f"Re: [{acme_case.reference}]"))
    update = row.update
    assert update.body.startswith("It works again after the reboot, thanks!")
    assert "Please reboot the handset" not in update.body
    original = update.attachments.get(filename="original-message.txt")
    assert b"Please reboot the handset." in original.file.read()


def test_a_support_reply_email_threads_into_the_customers_conversation(demo):
    row = ingest(mail(message_id="<ann-first@client.example>", subject="Fax is down"))
    case = row.case
    update_add(case=case, author=demo["alice"], body="We are looking at it.")
    reply = OutboundEmail.objects.get(case=case, kind="reply")
    message = build_message(reply)
    assert "<ann-first@client.example>" in message.extra_headers["References"]
    assert message.extra_headers["In-Reply-To"] == "<ann-first@client.example>"
    assert f"<{case.reference.lower()}@phonism.test>" in message.extra_headers["References"]
    # Answering it from any mail client lands on the case, whatever happens to the subject.
    reply_to = message.extra_headers["Reply-To"]
    answer = ingest(mail(subject="thanks", headers={"In-Reply-To": reply.message_id}, to=reply_to))
    assert answer.outcome == Outcome.UPDATE_ADDED and answer.case == case
