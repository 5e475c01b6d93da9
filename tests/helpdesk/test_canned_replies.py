"""Canned replies are data per team, with the case's details filled in where they are used."""

import pytest
from django.urls import reverse

from helpdesk.canned import canned_reply_text, insert_at_end
from helpdesk.models import CannedReply, Case, Status
from tenants.models import Tenant, TenantKind
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def thanks(demo) -> CannedReply:
    return CannedReply.objects.create(
        team=Tenant.objects.get(kind=TenantKind.PROVIDER),
        title="Looking into it",
        body="Hello {requester_name}, we are on {reference} ({subject}) for {organisation}. "
        "{agent_name}. {unknown} {reference.__class__}",
    )


def test_placeholders_are_filled_from_the_case(demo, thanks) -> None:
    case = Case.objects.filter(tenant__slug="acme", requester=demo["ann"]).first()
    text = canned_reply_text(thanks, case, demo["alice"])
    ann = demo["ann"].get_full_name() or demo["ann"].email
    alice = demo["alice"].get_full_name() or demo["alice"].email
    assert text.startswith(
        f"Hello {ann}, we are on {case.reference} ({case.subject}) for Acme Telecom. {alice}."
    )
    # Unknown names stay as typed; nothing reaches an attribute of a value.
    assert text.endswith("{unknown} {reference.__class__}")


def test_staff_send_a_canned_reply_from_the_case_page(client, demo, thanks) -> None:
    case = Case.objects.filter(status=Status.NEW, tenant__slug="acme").first()
    sign_in(client, demo["alice"])
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    page = client.get(url).content.decode()
    assert "Looking into it" in page
    data = {
        "severity": case.severity,
        "status": case.status,
        "assignee": "",
        "reason": "",
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        "updates-2-TOTAL_FORMS": "1",
        "updates-2-INITIAL_FORMS": "0",
        "updates-2-0-body": "",
        "updates-2-0-kind": "public",
        "updates-2-0-canned": thanks.pk,
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    reply = case.updates.get()
    assert reply.body.startswith("Hello ")
    assert case.reference in reply.body
    assert reply.visibility == "public"


def test_inserting_without_a_cursor_puts_the_reply_after_the_text() -> None:
    assert insert_at_end("", "Hello") == "Hello"
    assert insert_at_end("Thanks.  \n\n", "Hello") == "Thanks.\n\nHello"
    assert insert_at_end("Line one\nline two", "Hello") == "Line one\nline two\n\nHello"


def test_the_admin_offers_only_teams_that_answer_cases(client, demo) -> None:
    sign_in(client, demo["admin"])
    page = client.get(reverse("admin:helpdesk_cannedreply_add")).content.decode()
    select = page[page.index('name="team"') : page.index("</select>", page.index('name="team"'))]
    assert "Phonism" in select and "VoiceHub" in select
    assert "Acme Telecom" not in select and "Initech" not in select
