import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from helpdesk import services
from helpdesk.models import Case, EventKind, Severity, Status, Visibility
from tests.conftest import sign_in
from tests.factories import open_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(demo) -> Case:
    return open_case(demo["ann"].membership.tenant, demo["ann"], Severity.MODERATE)


@pytest.fixture
def ann_client(client, demo):
    client.force_login(demo["ann"])
    return client


def post(client, case: Case, action: str, data: dict):
    return client.post(reverse(f"case-{action}", args=[case.reference]), data)


def test_the_page_shows_the_header_and_the_timeline(ann_client, case) -> None:
    page = ann_client.get(case.get_absolute_url()).content.decode()
    for text in (case.reference, case.subject, "Moderate", "New", "ann@acme.test"):
        assert text in page
    assert "Opened" in page


def test_a_comment_with_attachments(ann_client, case) -> None:
    files = [SimpleUploadedFile("a.log", b"one"), SimpleUploadedFile("b.txt", b"two")]
    response = post(ann_client, case, "comment", {"body": "Logs attached", "attachments": files})
    assert response.status_code == 302
    update = case.updates.get()
    assert update.body == "Logs attached"
    assert sorted(update.attachments.values_list("filename", flat=True)) == ["a.log", "b.txt"]


def test_a_refused_attachment_is_said_next_to_the_field_and_the_text_is_kept(
    ann_client, case
) -> None:
    bad = SimpleUploadedFile("virus.exe", b"MZ")
    response = post(ann_client, case, "comment", {"body": "Please see", "attachments": [bad]})
    assert response.status_code == 400
    form = response.context["comment_form"]
    assert "this type of file is not accepted" in form.errors["attachments"][0]
    assert "Please see" in response.content.decode()
    assert not case.updates.exists()


def test_customers_get_no_internal_note_option(ann_client, case) -> None:
    post(ann_client, case, "comment", {"body": "secret?", "kind": "internal"})
    assert case.updates.get().visibility == "public"
    assert "Internal note" not in ann_client.get(case.get_absolute_url()).content.decode()


def test_the_support_side_can_write_internal_notes_from_the_portal(client, demo) -> None:
    sub_case = open_case(demo["ivan"].membership.tenant, demo["ivan"])
    client.force_login(demo["rob"])
    assert "Internal note" in client.get(sub_case.get_absolute_url()).content.decode()
    post(client, sub_case, "comment", {"body": "Asked Phonism", "kind": "internal"})
    assert sub_case.updates.get().visibility == "reseller_note"


def test_a_severity_change_needs_a_reason(ann_client, case) -> None:
    response = post(ann_client, case, "severity", {"severity": Severity.MAJOR, "reason": ""})
    assert response.status_code == 400
    assert "Say why the severity changes." in response.content.decode()
    response = post(
        ann_client, case, "severity", {"severity": Severity.MAJOR, "reason": "Two sites now"}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.severity == Severity.MAJOR
    assert case.events.get(kind=EventKind.SEVERITY_CHANGED).reason == "Two sites now"


def test_emergency_needs_the_entitlement_on_the_case_page_too(ann_client, case) -> None:
    response = post(
        ann_client, case, "severity", {"severity": Severity.EMERGENCY, "reason": "Down"}
    )
    assert response.status_code == 400
    assert "account manager" in response.content.decode()


def test_customers_resolve_and_reopen(ann_client, case, demo) -> None:
    services.update_add(case=case, author=demo["alice"], body="Fixed on our side")
    page = ann_client.get(case.get_absolute_url()).content.decode()
    assert "Mark resolved" in page and "Wait on customer" not in page
    assert post(ann_client, case, "status", {"status": Status.RESOLVED}).status_code == 302
    assert "Reopen" in ann_client.get(case.get_absolute_url()).content.decode()
    response = post(ann_client, case, "status", {"status": Status.IN_PROGRESS, "reason": "Back"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS


def test_a_status_the_customer_may_not_set_is_refused_with_a_reason(ann_client, case) -> None:
    response = post(ann_client, case, "status", {"status": Status.CLOSED})
    assert response.status_code == 400
    assert "cannot be moved to Closed" in response.content.decode()
    response = post(ann_client, case, "status", {"status": "nonsense"})
    assert response.status_code == 400
    case.refresh_from_db()
    assert case.status == Status.NEW


@pytest.mark.parametrize("action", ["comment", "severity", "status"])
def test_actions_change_nothing_on_get(ann_client, case, action) -> None:
    assert ann_client.get(reverse(f"case-{action}", args=[case.reference])).status_code == 405


def test_forms_need_the_csrf_token(demo, case) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(demo["ann"])
    assert post(client, case, "comment", {"body": "hi"}).status_code == 403
    assert not case.updates.exists()


@pytest.mark.parametrize("outsider", ["gina", "rob", "ivan"])
@pytest.mark.parametrize("action", ["comment", "severity", "status"])
def test_outsiders_get_404_on_every_action(client, demo, case, outsider, action) -> None:
    sign_in(client, demo[outsider])
    response = post(client, case, action, {"body": "x", "severity": 2, "reason": "x"})
    assert response.status_code == 404
    assert not case.updates.exists()
    case.refresh_from_db()
    assert case.severity == Severity.MODERATE


def test_a_closed_case_offers_no_comment_form(ann_client, case, demo) -> None:
    services.case_change_status(case=case, actor=demo["alice"], status=Status.RESOLVED)
    services.case_change_status(case=case, actor=demo["alice"], status=Status.CLOSED)
    page = ann_client.get(case.get_absolute_url()).content.decode()
    assert "This case is closed" in page and "Add comment" not in page
    response = post(ann_client, case, "comment", {"body": "one more"})
    assert response.status_code == 400
    assert "closed" in response.content.decode()


def test_a_reply_edited_or_hidden_after_it_was_shown_is_shown_as_it_is_now(
    ann_client, case, demo
) -> None:
    """The page remembers each text's HTML (helpdesk.markdown): a reply whose text is changed
    afterwards shows its new text, never the HTML remembered for the old one, and a reply made
    internal is gone from the requester's page, still cleaned of anything that would run."""
    reply = services.update_add(case=case, author=demo["alice"], body="Try **restarting** it")
    url = case.get_absolute_url()
    assert "<strong>restarting</strong>" in ann_client.get(url).content.decode()

    type(reply).objects.filter(pk=reply.pk).update(body="Try _the other_ trunk <script>x</script>")
    page = ann_client.get(url).content.decode()
    assert "<em>the other</em> trunk" in page and "restarting" not in page
    assert "<script>x" not in page and "&lt;script&gt;x" in page

    type(reply).objects.filter(pk=reply.pk).update(visibility=Visibility.PROVIDER_NOTE)
    assert "the other" not in ann_client.get(url).content.decode()
