"""A new message from an agent opens a Minor case; anything else waits in triage, kept."""

import io
from email.message import EmailMessage

import pytest
from django.test import override_settings
from PIL import Image

from helpdesk.emails import build_message
from helpdesk.models import Case, Channel, OutboundEmail, Severity, Tier
from intake.models import InboundMessage, Outcome, Source
from intake.services import message_store
from tenants.brand_models import Brand
from tenants.models import Tenant
from tests.intake.helpers import expand_notifications, ingest, mail

pytestmark = pytest.mark.django_db


def test_it_opens_a_minor_case_for_the_senders_organisation(demo):
    row = ingest(mail(subject="Cannot transfer calls", body="Blind transfer drops the call."))
    assert row.outcome == Outcome.CASE_OPENED
    case = row.case
    assert case.tenant == demo["ann"].membership.tenant
    assert case.requester == demo["ann"]
    assert case.severity == Severity.MINOR
    assert case.channel == Channel.EMAIL
    assert case.subject == "Cannot transfer calls"
    assert "Blind transfer drops the call." in case.description
    assert "Minor" in row.reason


def test_the_sender_address_is_matched_whatever_its_case(demo):
    row = ingest(mail(sender="Ann <ANN@Acme.Test>"))
    assert row.outcome == Outcome.CASE_OPENED
    assert row.case.requester == demo["ann"]


def test_a_resellers_address_routes_a_subcustomers_mail_to_tier_one_in_its_brand(demo):
    raw = mail(sender="ivan@initech.test", to="VoiceHub <support@voicehub.test>")
    row = ingest(raw, recipient="support@voicehub.test")
    case = row.case
    assert row.outcome == Outcome.CASE_OPENED
    assert case.tenant.slug == "initech" and case.tier == Tier.ONE
    assert row.brand.name == "VoiceHub"
    expand_notifications()
    ack = OutboundEmail.objects.get(case=case, kind="acknowledgement")
    message = build_message(ack)
    text = message.message().as_string()
    assert "support@voicehub.test" in message.from_email
    assert "Phonism" not in text and "phonism" not in text.lower()
    team = OutboundEmail.objects.get(case=case, kind="opened")
    assert set(team.recipients) == {"rita@voicehub.test", "rob@voicehub.test"}


def test_a_brands_new_support_address_routes_at_once_and_the_old_one_no_longer(demo):
    # Brands are read from the cache: a change saved (as in the admin) is seen by the very
    # next message; an address stored as typed (capitals) is matched case-insensitively.
    ingest(mail(sender="ivan@initech.test"), recipient="support@voicehub.test")  # cached now
    voicehub = Brand.objects.get(name="VoiceHub")
    voicehub.support_email = "Help@VoiceHub.test"
    voicehub.save()
    moved = ingest(mail(sender="ivan@initech.test", to="help@voicehub.test"))
    assert moved.outcome == Outcome.CASE_OPENED and moved.brand == voicehub
    old = ingest(mail(sender="ivan@initech.test", to="support@voicehub.test"))
    assert old.brand is None


def test_mail_to_a_resellers_address_from_someone_elses_customer_waits_in_triage(demo):
    before = Case.objects.count()
    row = ingest(mail(sender="ann@acme.test"), recipient="support@voicehub.test")
    assert row.outcome == Outcome.TRIAGE
    assert "not one of VoiceHub's customers" in row.reason
    assert Case.objects.count() == before and row.case is None


def test_an_unknown_sender_opens_nothing_and_the_message_is_kept(demo):
    before = Case.objects.count()
    raw = mail(sender="stranger@example.org")
    row = ingest(raw)
    assert row.outcome == Outcome.TRIAGE
    assert "Unknown sender stranger@example.org" in row.reason
    assert bytes(InboundMessage.objects.get(pk=row.pk).raw) == raw
    assert Case.objects.count() == before and row.case is None


def test_a_deactivated_agent_opens_nothing(demo):
    demo["ann"].is_active = False
    demo["ann"].save()
    row = ingest(mail(sender="ann@acme.test"))
    assert row.outcome == Outcome.TRIAGE and "deactivated" in row.reason


def test_an_agent_of_a_deactivated_organisation_opens_nothing(demo):
    Tenant.objects.filter(slug="acme").update(is_active=False)
    row = ingest(mail(sender="ann@acme.test"))
    assert row.outcome == Outcome.TRIAGE and "deactivated" in row.reason


def test_staff_mail_without_a_case_reference_waits_for_triage(demo):
    row = ingest(mail(sender="alice@phonism.test"))
    assert row.outcome == Outcome.TRIAGE
    assert "belongs to the provider, not a customer" in row.reason


def test_the_same_message_delivered_twice_is_kept_and_acted_on_once(demo):
    before = Case.objects.count()
    raw = mail(message_id="<once@client.example>")
    first, second = ingest(raw), ingest(raw)
    assert first.pk == second.pk
    assert InboundMessage.objects.count() == 1
    assert Case.objects.count() == before + 1


def test_without_a_message_id_the_bytes_deduplicate(demo):
    raw = mail().replace(b"Message-ID:", b"X-Old-ID:")
    assert ingest(raw).pk == ingest(raw).pk
    assert InboundMessage.objects.get().dedup_key.startswith("sha256:")


@override_settings(INTAKE_MAX_CASES_PER_HOUR=3)
def test_beyond_the_hourly_cap_a_sender_s_messages_wait_in_triage(demo):
    rows = [ingest(mail(subject=f"Problem {n}")) for n in range(5)]
    assert [r.outcome for r in rows] == [Outcome.CASE_OPENED] * 3 + [Outcome.TRIAGE] * 2
    assert "3 cases by email in the last hour (limit 3)" in rows[3].reason
    # Someone else is not held back by Ann's cap.
    assert ingest(mail(sender="bob@acme.test")).outcome == Outcome.CASE_OPENED


def test_html_only_mail_becomes_safe_text(demo):
    html = (
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
        "<body><p>The <b>lobby</b> phone reboots.</p><ul><li>every hour</li></ul></body></html>"
    )
    row = ingest(mail(body="", html=html))
    description = row.case.description
    assert "The lobby phone reboots." in description
    assert "every hour" in description
    assert "<" not in description and "alert" not in description and "color" not in description


def test_an_undeclared_charset_is_decoded_sensibly(demo):
    text = "Grüße aus München: das Telefon zeigt „Kein Dienst“ und klingelt nicht mehr."
    raw = (
        b"From: ann@acme.test\r\nTo: support@phonism.test\r\nSubject: Telefon\r\n"
        b"Message-ID: <latin@client.example>\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text.encode("cp1252")
    )
    assert ingest(raw).case.description == text


def test_an_encoded_subject_is_decoded(demo):
    raw = mail(subject="Téléphone muet à l'accueil")
    assert ingest(raw).case.subject == "Téléphone muet à l'accueil"


def test_attachments_go_in_and_a_refused_one_is_noted_while_the_rest_goes_in(demo):
    raw = mail(
        attachments=[
            ("trace.pcap", b"\xd4\xc3\xb2\xa1pcap", "application/octet-stream"),
            ("setup.exe", b"MZ\x90\x00", "application/octet-stream"),
            ("notes.txt", b"line 1", "text/plain"),
        ]
    )
    row = ingest(raw)
    case = row.case
    assert row.outcome == Outcome.CASE_OPENED
    assert sorted(a.filename for a in case.attachments.all()) == ["notes.txt", "trace.pcap"]
    assert "“setup.exe”: this type of file is not accepted" in case.description
    assert "kept with the original email" in case.description
    assert b"setup.exe" in bytes(InboundMessage.objects.get(pk=row.pk).raw)


def test_inline_images_are_kept_as_attachments(demo):
    message = EmailMessage()
    message["From"], message["To"] = "ann@acme.test", "support@phonism.test"
    message["Subject"], message["Message-ID"] = "Screenshot", "<inline@client.example>"
    message.set_content("See the screenshot.")
    message.add_alternative('<p>See <img src="cid:shot"></p>', subtype="html")
    html = message.get_payload()[1]
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")  # a real image: uploads are checked
    html.add_related(png.getvalue(), "image", "png", cid="<shot>")
    case = ingest(message.as_bytes()).case
    assert [a.content_type for a in case.attachments.all()] == ["image/png"]
    assert case.attachments.get().filename.endswith(".png")


def test_a_second_copy_of_a_message_still_pending_is_decided_from_the_stored_one(demo):
    """Stored, then the process stopped before deciding (pending); the same Message-ID then
    arrives as another copy, addressed elsewhere. What is decided is the stored copy (the one
    the admin shows and a retry reads), not the newcomer's bytes."""
    stored = mail(message_id="<copies@client.example>", subject="The stored copy")
    row, created = message_store(raw=stored, source=Source.PIPE)
    assert created and row.outcome == Outcome.PENDING
    other = mail(message_id="<copies@client.example>", subject="Another copy")
    again = ingest(other)
    assert again.pk == row.pk and again.outcome == Outcome.CASE_OPENED
    assert Case.objects.get(pk=again.case_id).subject == "The stored copy"
