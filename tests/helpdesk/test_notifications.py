"""Who is told what (helpdesk.notifications), over the demo world: provider staff alice (Support
agent) and sam (Support manager); Acme's ann and bob; Globex's gina (emergency entitlement);
VoiceHub's rita and rob, tier one of Initech's ivan."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from helpdesk import notifications, outbox, services
from helpdesk.models import (
    Audience,
    Channel,
    NotificationKind,
    OutboundEmail,
    OutboxStatus,
    Severity,
    Status,
)
from sla.models import ResponseClock
from tenants.models import Tenant
from tests.factories import case_by, worker_expands

pytestmark = pytest.mark.django_db

STAFF = {"alice@phonism.test", "sam@phonism.test"}
VOICEHUB = {"rita@voicehub.test", "rob@voicehub.test"}


def open_case(person, severity=Severity.MAJOR, **fields):
    """Open a case as ``person`` and let the worker expand its notifications."""
    case = services.case_open(
        tenant=person.membership.tenant,
        subject=fields.pop("subject", "Phones cannot register"),
        description="Since 9am every handset shows 'No service'.",
        channel=Channel.PORTAL,
        severity=severity,
        requester=person,
        opened_by=person,
        **fields,
    )
    worker_expands(case)
    return case


def emails(case, kind=None) -> dict[str, set[str]]:
    """The case's outbox as kind → recipients."""
    rows = OutboundEmail.objects.filter(case=case)
    if kind:
        rows = rows.filter(kind=kind)
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row.kind, set()).update(row.recipients)
    return found


def test_a_direct_customers_case_tells_provider_staff_and_acknowledges_the_requester(demo):
    case = case_by(demo["ann"])
    assert emails(case) == {
        NotificationKind.OPENED: STAFF,
        NotificationKind.ACKNOWLEDGEMENT: {"ann@acme.test"},
    }
    opened = OutboundEmail.objects.get(case=case, kind=NotificationKind.OPENED)
    assert opened.audience == Audience.STAFF
    assert opened.subject == f"[{case.reference}] New Major case from Acme Telecom: {case.subject}"


def test_a_sub_customers_case_tells_the_resellers_people_not_phonism(demo):
    case = case_by(demo["ivan"])
    assert emails(case) == {
        NotificationKind.OPENED: VOICEHUB,
        NotificationKind.ACKNOWLEDGEMENT: {"ivan@initech.test"},
    }


def test_the_acknowledgement_is_not_a_response(demo):
    case = case_by(demo["ann"])
    assert OutboundEmail.objects.filter(case=case, kind=NotificationKind.ACKNOWLEDGEMENT).exists()
    case.refresh_from_db()
    assert case.status == Status.NEW and case.first_response_at is None
    assert ResponseClock.objects.get(case=case).stopped_at is None


def test_an_emergency_pages_on_call_at_opening(demo, settings):
    settings.ONCALL_EMAIL = "pager@phonism.test"
    case = case_by(demo["gina"], Severity.EMERGENCY)
    assert emails(case, NotificationKind.EMERGENCY_OPENED) == {
        NotificationKind.EMERGENCY_OPENED: {"pager@phonism.test"}
    }


def test_a_tenant_may_name_its_own_on_call_address(demo):
    Tenant.objects.filter(slug="globex").update(oncall_email="noc@globex-support.test")
    gina = demo["gina"]
    gina.membership.tenant.refresh_from_db()
    case = case_by(gina, Severity.EMERGENCY)
    assert emails(case)[NotificationKind.EMERGENCY_OPENED] == {"noc@globex-support.test"}


def test_other_severities_do_not_page_on_call(demo):
    case = case_by(demo["gina"], Severity.CRITICAL)
    assert NotificationKind.EMERGENCY_OPENED not in emails(case)


def test_a_support_reply_goes_to_the_requesting_side_not_to_its_author(demo):
    ann, bob, alice = demo["ann"], demo["bob"], demo["alice"]
    case = case_by(ann)
    services.update_add(case=case, author=bob, body="Also the Denver office.")
    OutboundEmail.objects.all().delete()
    services.update_add(case=case, author=alice, body="We are on it.")
    reply = OutboundEmail.objects.get(case=case)
    assert reply.kind == NotificationKind.REPLY and reply.audience == Audience.CUSTOMER
    # The requester and the colleague who wrote on the case; never the author.
    assert set(reply.recipients) == {"ann@acme.test", "bob@acme.test"}
    assert reply.auto_submitted is False  # a person's words: the customer may answer


def test_a_customer_comment_goes_to_the_assignee_else_tier_one(demo):
    ann, alice = demo["ann"], demo["alice"]
    case = case_by(ann)
    OutboundEmail.objects.all().delete()
    services.update_add(case=case, author=ann, body="Any news?")
    assert emails(case) == {NotificationKind.REPLY: STAFF}
    services.case_assign(case=case, actor=alice, assignee=alice)
    OutboundEmail.objects.all().delete()
    services.update_add(case=case, author=ann, body="Still down.")
    assert emails(case) == {NotificationKind.REPLY: {"alice@phonism.test"}}


def test_an_internal_note_notifies_no_customer(demo):
    ann, alice = demo["ann"], demo["alice"]
    case = case_by(ann)
    OutboundEmail.objects.all().delete()
    services.update_add(case=case, author=alice, body="SBC logs attached.", internal=True)
    note = OutboundEmail.objects.get(case=case)
    assert note.kind == NotificationKind.NOTE and note.audience == Audience.STAFF
    assert set(note.recipients) == {"sam@phonism.test"}  # the author is not told


def test_a_resellers_note_stays_with_the_reseller_and_a_providers_with_phonism(demo):
    ivan, rob, alice = demo["ivan"], demo["rob"], demo["alice"]
    case = case_by(ivan)
    OutboundEmail.objects.all().delete()
    services.update_add(case=case, author=rob, body="Checking our SBC.", internal=True)
    assert emails(case) == {NotificationKind.NOTE: {"rita@voicehub.test"}}
    OutboundEmail.objects.all().delete()
    services.update_add(case=case, author=alice, body="Phonism-only remark.", internal=True)
    assert emails(case) == {NotificationKind.NOTE: {"sam@phonism.test"}}


def test_severity_and_status_changes_tell_the_requesting_side(demo):
    ann, alice = demo["ann"], demo["alice"]
    case = case_by(ann)
    OutboundEmail.objects.all().delete()
    services.case_change_severity(case=case, actor=alice, severity=Severity.CRITICAL, reason="x")
    services.case_change_status(case=case, actor=alice, status=Status.RESOLVED)
    rows = {row.kind: row for row in OutboundEmail.objects.filter(case=case)}
    assert rows[NotificationKind.SEVERITY_CHANGED].recipients == ["ann@acme.test"]
    assert rows[NotificationKind.SEVERITY_CHANGED].context == {"old": "Major", "new": "Critical"}
    assert rows[NotificationKind.STATUS_CHANGED].recipients == ["ann@acme.test"]


def test_nobody_is_emailed_about_their_own_change(demo):
    ann = demo["ann"]
    case = case_by(ann)
    OutboundEmail.objects.all().delete()
    services.case_change_status(case=case, actor=ann, status=Status.RESOLVED)
    assert not OutboundEmail.objects.exists()


def test_muted_writes_nothing(demo):
    with notifications.muted():
        case = case_by(demo["ann"])
    assert not OutboundEmail.objects.filter(case=case).exists()


def test_every_email_has_a_stored_message_id_the_reference_and_auto_submitted(
    demo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the tests run tasks eagerly
        case = case_by(demo["gina"], Severity.EMERGENCY)
    rows = OutboundEmail.objects.filter(case=case)
    assert rows.count() == 3 and len(mail.outbox) == 3
    assert set(rows.values_list("status", flat=True)) == {OutboxStatus.SENT}
    by_id = {row.message_id: row for row in rows}
    for message in mail.outbox:
        sent = message.message()
        row = by_id[sent["Message-ID"]]
        assert message.subject.startswith(f"[{case.reference}] ")
        assert sent["Auto-Submitted"] == "auto-generated"
        assert sent["References"] == outbox.thread_id(case.reference)
        assert message.to == row.recipients
        assert case.reference in message.body
        html = message.alternatives[0][0]
        assert "<html" in html and case.reference in html
        assert row.sent_at is not None and row.attempts == 1


def test_links_point_staff_to_the_admin_and_customers_to_the_portal(
    demo, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://help.example.test"
    with django_capture_on_commit_callbacks(execute=True):
        case = case_by(demo["ann"])
    bodies = {message.to[0]: message.body for message in mail.outbox}
    assert (
        f"https://help.example.test/admin/helpdesk/case/{case.pk}/change/"
        in bodies["alice@phonism.test"]
    )
    assert f"https://help.example.test/cases/{case.reference}/" in bodies["ann@acme.test"]


def test_a_sub_customer_hears_from_its_reseller_not_phonism(
    demo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case_by(demo["ivan"])
    (ack,) = [m for m in mail.outbox if m.to == ["ivan@initech.test"]]
    headers = " ".join(f"{k}: {v}" for k, v in ack.message().items())
    assert "phonism" not in f"{headers} {ack.body} {ack.alternatives[0][0]}".lower()
    assert ack.from_email == "VoiceHub <support@voicehub.test>"
    assert ack.extra_headers["Message-ID"].endswith("@voicehub.test>")


def test_an_invitation_goes_through_the_outbox_without_storing_its_link(
    client, demo, django_capture_on_commit_callbacks
):
    client.force_login(demo["bob"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("team"), {"email": "carla@acme.test", "first_name": "C", "role": "agent"}
        )
    row = OutboundEmail.objects.get(kind=NotificationKind.INVITATION)
    assert row.recipients == ["carla@acme.test"] and row.status == OutboxStatus.SENT
    assert "invitation" not in str(row.context)  # the set-password link is made at sending
    (message,) = [m for m in mail.outbox if m.to == ["carla@acme.test"]]
    assert (
        "/accounts/invitation/" in message.body
        and "Set your password" in message.alternatives[0][0]
    )


def test_staff_opening_a_case_for_a_caller_are_not_told_about_it(demo):
    alice = demo["alice"]
    acme = demo["ann"].membership.tenant
    case = services.case_open(
        tenant=acme,
        subject="Called in: fax line dead",
        description="Phone call.",
        channel=Channel.PHONE,
        requester_email="ann@acme.test",
        opened_by=alice,
    )
    worker_expands(case)
    assert emails(case) == {
        NotificationKind.OPENED: {"sam@phonism.test"},
        NotificationKind.ACKNOWLEDGEMENT: {"ann@acme.test"},
    }
