"""The admin case page as staff work it (issue 16): files attached to a reply under the portal's
rules, entry kinds told by a label and a colour, a reply and a status in one save (all or
nothing), sizes in words and times in the viewer's zone, canned replies inserted for editing."""

from __future__ import annotations

import io
import re
import zoneinfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import formats, timezone
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from helpdesk import services
from helpdesk.models import Attachment, CannedReply, Case, EventKind, Status, Tier
from tenants.models import Tenant, TenantKind
from tests.conftest import sign_in
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(client, demo):
    sign_in(client, demo["alice"])
    return client


@pytest.fixture
def new_case(demo) -> Case:
    return Case.objects.filter(tenant__slug="acme", status=Status.NEW).order_by("id").first()


def url(case: Case) -> str:
    return reverse("admin:helpdesk_case_change", args=[case.pk])


def form_data(case: Case, **fields) -> dict:
    """The case page's POST as a browser sends it, the case unchanged and the reply box empty;
    ``fields`` override (``body``, ``kind``, ``canned``, ``attachments`` are the reply's)."""
    reply = {k: fields.pop(k) for k in ("body", "kind", "canned", "attachments") if k in fields}
    data = {
        "severity": case.severity,
        "status": case.status,
        "assignee": case.assignee_id or "",
        "reason": "",
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        "updates-2-TOTAL_FORMS": "1",
        "updates-2-INITIAL_FORMS": "0",
        "updates-2-0-body": "",
        "updates-2-0-kind": "public",
        "updates-2-0-canned": "",
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        **fields,
    }
    data.update({f"updates-2-0-{k}": v for k, v in reply.items()})
    return data


def png(name: str = "screen.png", size=(64, 48)) -> SimpleUploadedFile:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 30, 30))
    image.save(out, format="PNG", pnginfo=_with_text())
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def _with_text() -> PngInfo:
    info = PngInfo()
    info.add_text("Comment", "secret-metadata")
    return info


def page_text(response) -> str:
    return response.content.decode()


# --- 1. staff attachments ---------------------------------------------------------------------


def test_staff_attach_files_to_a_reply_under_the_portals_rules(alice, new_case) -> None:
    log = SimpleUploadedFile("../../etc/boot log.txt", b"sip register failed\n" * 50)
    data = form_data(new_case, body="The capture and a log.", attachments=[png(), log])
    response = alice.post(url(new_case), data)
    assert response.status_code == 302, page_text(response)[:3000]
    reply = new_case.updates.get()
    files = {a.filename: a for a in reply.attachments.all()}
    # A safe name: no folders.
    assert set(files) == {"screen.png", "boot log.txt"}
    stored = files["screen.png"].file.open("rb").read()
    assert stored.startswith(b"\x89PNG") and b"secret-metadata" not in stored  # re-encoded
    assert files["boot log.txt"].uploaded_by.email == "alice@phonism.test"

    page = page_text(alice.get(url(new_case)))
    download = files["screen.png"].get_absolute_url()
    assert f'href="{download}"' in page  # in the conversation and in the files list
    assert alice.get(download).status_code == 200


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (
            SimpleUploadedFile("invoice.pdf", b"<html><script>alert(1)</script></html>"),
            "does not contain what its name says",
        ),
        (SimpleUploadedFile("tool.exe", b"MZ\x90\x00" * 10), "this type of file is not accepted"),
        (SimpleUploadedFile("empty.txt", b""), "is empty"),
    ],
    ids=["disguised", "type", "empty"],
)
def test_a_file_the_rules_refuse_is_an_error_and_nothing_is_saved(
    alice, new_case, upload, message
) -> None:
    data = form_data(new_case, body="See the file.", attachments=[upload], status="resolved")
    response = alice.post(url(new_case), data)
    page = page_text(response)
    assert response.status_code == 200
    assert message in page
    assert "changed successfully" not in page
    new_case.refresh_from_db()
    assert new_case.status == Status.NEW and not new_case.updates.exists()
    assert not Attachment.objects.filter(case=new_case).exists()


def test_a_file_over_the_size_limit_is_refused_with_the_limit_named(
    alice, new_case, settings
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1000
    data = form_data(
        new_case, body="Big log", attachments=[SimpleUploadedFile("a.log", b"x" * 2000)]
    )
    page = page_text(alice.post(url(new_case), data))
    assert "“a.log” is 2.0\xa0KB; the limit is 1000\xa0bytes per file." in page
    assert not new_case.updates.exists()


def test_the_reply_form_says_the_limits_before_anyone_hits_them(alice, new_case) -> None:
    page = page_text(alice.get(url(new_case)))
    assert re.search(r"Up to 10\.0\s+MB per file; allowed types: \.pdf", page)
    assert 'enctype="multipart/form-data"' in page


def test_files_show_their_size_in_words_and_what_they_were_sent_with(alice, demo, new_case):
    reply = services.update_add(case=new_case, author=demo["alice"], body="Note", internal=True)
    Attachment.objects.create(
        case=new_case,
        update=reply,
        file="cases/x/trace.pcap",
        filename="trace.pcap",
        content_type="application/vnd.tcpdump.pcap",
        size=1_234_567,
        uploaded_by=demo["alice"],
    )
    page = page_text(alice.get(url(new_case)))
    assert "1.2\xa0MB" in page
    assert "1234567" not in page and "1,234,567" not in page
    files = page[page.index('id="attachments-group"') :]
    assert re.search(r'entry-kind-provider_note">Internal note \(provider only\)</span>', files)


def test_a_customer_cannot_download_a_staff_note_file_nor_another_tenants(client, demo, new_case):
    note = services.update_add(
        case=new_case,
        author=demo["alice"],
        body="Internal capture",
        internal=True,
        attachments=[SimpleUploadedFile("inside.txt", b"provider only")],
    )
    attachment = note.attachments.get()
    sign_in(client, demo["ann"])  # Acme: the case's own tenant, but a provider note
    assert client.get(attachment.get_absolute_url()).status_code == 404
    sign_in(client, demo["gina"])  # Globex
    assert client.get(attachment.get_absolute_url()).status_code == 404


# --- 2. entry kinds ---------------------------------------------------------------------------


def test_public_internal_and_escalation_entries_are_labelled_in_words_and_colour(alice, demo):
    case = Case.objects.filter(tenant__slug="initech", tier=Tier.ONE, status="new").first()
    services.case_escalate(case=case, actor=demo["rob"], note="Need you")
    services.update_add(case=case, author=demo["alice"], body="Looking", escalation=True)
    services.update_add(case=case, author=demo["alice"], body="Our side", internal=True)
    services.update_add(case=case, author=demo["rob"], body="Hello Ivan")
    page = page_text(alice.get(url(case)))
    conversation = page[page.index('id="updates-group"') : page.index('id="reply"')]
    rows = re.findall(
        r'<tr class="form-row entry entry-(\w+)">.*?entry-kind-\1">([^<]+)<', conversation, re.S
    )
    assert {kind: label for kind, label in rows} == {
        "escalation": "Escalation thread",
        "provider_note": "Internal note (provider only)",
        "public": "Public reply",
    }
    assert "admin-daily/case.css" in page
    assert " style=" not in page and "<script>" not in page  # the CSP allows neither


# --- 3. status and reply in one save ----------------------------------------------------------


def test_a_reply_and_waiting_on_customer_in_one_save(alice, new_case) -> None:
    page = page_text(alice.get(url(new_case)))
    assert '<option value="waiting">Waiting on customer</option>' in page
    data = form_data(new_case, body="Which firmware do the handsets run?", status="waiting")
    response = alice.post(url(new_case), data, follow=True)
    assert "changed successfully" in page_text(response)
    new_case.refresh_from_db()
    assert new_case.status == Status.WAITING
    assert new_case.first_response_at is not None
    assert new_case.updates.get().body == "Which firmware do the handsets run?"
    kinds = list(new_case.events.order_by("id").values_list("kind", "new_value"))
    # The reply first (it makes the case Responded), then the status asked for.
    assert kinds[-1] == (EventKind.STATUS_CHANGED, "Waiting on customer")


def test_a_reply_and_resolved_in_one_save(alice, demo) -> None:
    case = Case.objects.filter(tenant__slug="acme", status=Status.IN_PROGRESS).first()
    data = form_data(case, body="Fixed by the firmware update.", status="resolved")
    assert alice.post(url(case), data).status_code == 302
    case.refresh_from_db()
    assert case.status == Status.RESOLVED
    assert case.updates.filter(body="Fixed by the firmware update.").exists()


def test_a_refused_status_keeps_nothing_of_the_save_and_says_why(alice, new_case) -> None:
    # An internal note does not answer the customer: a new case cannot wait on them yet. The
    # note was written before the status was refused; it is rolled back with it.
    data = form_data(new_case, body="Checked the SBC.", kind="internal", status="waiting")
    response = alice.post(url(new_case), data)
    page = page_text(response)
    assert response.status_code == 200
    assert "A case that is New cannot be moved to Waiting on customer." in page
    assert "changed successfully" not in page
    assert "Checked the SBC." in page  # what was typed is still there to fix and save again
    new_case.refresh_from_db()
    assert new_case.status == Status.NEW and not new_case.updates.exists()


def test_a_refusal_with_files_says_to_attach_them_again(alice, new_case) -> None:
    log = SimpleUploadedFile("a.txt", b"log line\n")
    data = form_data(new_case, body="Note", kind="internal", status="waiting", attachments=[log])
    page = page_text(alice.post(url(new_case), data))
    assert "Nothing was saved: attach the files again." in page
    assert not Attachment.objects.filter(case=new_case).exists()


def test_leaving_the_status_alone_keeps_what_the_reply_made_it(alice, new_case) -> None:
    # The form still says "New"; the reply made the case "Responded": not set back.
    assert alice.post(url(new_case), form_data(new_case, body="Hello")).status_code == 302
    new_case.refresh_from_db()
    assert new_case.status == Status.RESPONDED


def test_statuses_with_a_reply(demo, new_case) -> None:
    alice, ann = demo["alice"], demo["ann"]
    assert services.statuses_with_reply(new_case, alice) == ["in_progress", "waiting", "resolved"]
    assert services.allowed_statuses(new_case, alice) == ["resolved"]
    assert services.statuses_with_reply(new_case, ann) == ["resolved"]  # the requesting side


# --- 4. times in the viewer's zone ------------------------------------------------------------


def test_times_are_in_the_viewers_zone_with_the_zone_named(alice, new_case) -> None:
    Tenant.objects.filter(kind=TenantKind.PROVIDER).update(timezone="Europe/Berlin")
    Attachment.objects.create(
        case=new_case, file="cases/x/a.txt", filename="a.txt", content_type="text/plain", size=5
    )
    berlin = timezone.localtime(new_case.created_at, zoneinfo.ZoneInfo("Europe/Berlin"))
    shown = formats.date_format(berlin, "DATETIME_FORMAT")
    assert shown.endswith(("CET", "CEST"))
    page = page_text(alice.get(url(new_case)))
    assert shown in page
    timeline = page[page.index('id="events-group"') :]
    # (Django's "P" says "midnight" and "noon" in words)
    assert re.search(r'<td data-label="Created at">\w+\.? \d+, \d{4}, [^<]+ CES?T</td>', timeline)
    listing = page_text(alice.get(reverse("admin:helpdesk_case_changelist")))
    assert re.search(r"\d{4}, [^<]+ CES?T</td>", listing)
    # The SLA column's due time is in the clock calendar's zone (its support hours), and in
    # the viewer's too.
    dues = re.findall(r'due \w{3} [\d:]+ E[SD]T</span>(<br><span class="quiet">[^<]*)?', listing)
    assert dues
    for due in dues:
        assert re.fullmatch(r'<br><span class="quiet">due \w{3} [\d:]+ CES?T your time', due), due


# --- 5. canned replies, insert then edit ------------------------------------------------------


@pytest.fixture
def hello(demo) -> CannedReply:
    return CannedReply.objects.get(team__kind=TenantKind.PROVIDER, title="Acknowledge")


def test_the_picker_carries_each_reply_filled_in_for_the_case(alice, demo, new_case, hello):
    page = page_text(alice.get(url(new_case)))
    option = re.search(rf'<option value="{hello.pk}" data-text="([^"]*)"', page)
    assert option is not None
    text = option.group(1)
    requester = new_case.requester.get_full_name()
    assert f"Hello {requester}," in text and new_case.reference in text and "Alice Agent" in text
    assert "js/canned.js" in page
    # A reseller's canned replies are not offered to the provider's staff.
    voicehub = CannedReply.objects.filter(team__slug="voicehub")
    assert voicehub.exists()
    for reply in voicehub:
        assert reply.title not in page


def test_insert_appends_the_canned_reply_to_the_text_and_saves_nothing(alice, new_case, hello):
    data = form_data(
        new_case,
        body="Thanks for the logs.",
        canned=hello.pk,
        status="resolved",
        _insert_canned="1",
    )
    response = alice.post(url(new_case), data)
    page = page_text(response)
    assert response.status_code == 200
    requester = new_case.requester.get_full_name()
    box = re.search(r'<textarea name="updates-2-0-body"[^>]*>\n?(.*?)</textarea>', page, re.S)
    assert box is not None
    assert box.group(1).startswith(f"Thanks for the logs.\n\nHello {requester},")
    assert "is inserted in your reply: edit it, then save." in page
    assert "changed successfully" not in page and "errornote" not in page
    assert '<option value="resolved" selected>' in page  # the rest of the form as it was
    new_case.refresh_from_db()
    assert new_case.status == Status.NEW and not new_case.updates.exists()


def test_insert_into_an_empty_box_and_with_another_teams_reply(alice, demo, new_case, hello):
    page = page_text(
        alice.post(url(new_case), form_data(new_case, canned=hello.pk, _insert_canned="1"))
    )
    assert re.search(r'<textarea name="updates-2-0-body"[^>]*>\n?Hello ', page)
    theirs = CannedReply.objects.filter(team__slug="voicehub").first()
    other = CannedReply.objects.create(
        team=TenantFactory(kind=TenantKind.RESELLER, name="Other Reseller"),
        title="Secret",
        body="OTHER-RESELLER-TEXT",
    )
    for reply in (theirs, other):
        data = form_data(new_case, body="Mine", canned=reply.pk, _insert_canned="1")
        page = page_text(alice.post(url(new_case), data))
        assert "Choose a canned reply first" in page
        assert reply.body[:20] not in page
    for bad in ("abc", "²", "99999999999999999999"):
        data = form_data(new_case, body="Mine", canned=bad, _insert_canned="1")
        assert "Choose a canned reply first" in page_text(alice.post(url(new_case), data))
    assert not new_case.updates.exists()


def test_the_assignee_filter_refuses_digits_of_other_scripts(alice) -> None:
    # "²".isdigit() is true, int("²") an error: it used to be a 500.
    response = alice.get(reverse("admin:helpdesk_case_changelist"), {"assignee": "²"})
    assert response.status_code == 200


def test_saving_with_a_canned_reply_chosen_and_text_written_asks_to_insert(alice, new_case, hello):
    data = form_data(new_case, body="My own words", canned=hello.pk)
    page = page_text(alice.post(url(new_case), data))
    assert "Press “Insert” to add the canned reply to your text" in page
    assert not new_case.updates.exists()


def test_a_final_note_and_closed_in_one_save(alice, demo) -> None:
    """Resolved → Closed with a last internal note: the note is written to the case as it
    stands (resolved, still open to notes), then the case closes."""
    case = Case.objects.filter(tenant__slug="acme", status=Status.IN_PROGRESS).first()
    assert (
        alice.post(url(case), form_data(case, body="Fixed.", status="resolved")).status_code == 302
    )
    case.refresh_from_db()
    data = form_data(
        case, body="Customer confirmed on the phone.", kind="internal", status="closed"
    )
    response = alice.post(url(case), data)
    assert response.status_code == 302, page_text(response)[:3000]
    case.refresh_from_db()
    assert case.status == Status.CLOSED
    assert case.updates.filter(body="Customer confirmed on the phone.").exists()
