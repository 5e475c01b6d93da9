import pytest
from django.urls import reverse

from helpdesk.admin import CappedCountPaginator, CaseAdmin
from helpdesk.models import Case, Channel, EventKind, Severity, Status, Visibility
from helpdesk.services import case_escalate
from sla.models import ResponseClock
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, demo):
    sign_in(client, demo["alice"])
    return client


def change_url(case: Case) -> str:
    return reverse("admin:helpdesk_case_change", args=[case.pk])


def new_case(demo) -> Case:
    return Case.objects.filter(status=Status.NEW, tenant__slug="acme").first()


def form_data(case: Case, **changes) -> dict:
    data = {
        "severity": case.severity,
        "status": case.status,
        "assignee": case.assignee_id or "",
        "reason": "",
        # the "add a reply" inline and the read-only inlines' management forms
        "updates-TOTAL_FORMS": "0",
        "updates-INITIAL_FORMS": "0",
        "updates-2-TOTAL_FORMS": "1",
        "updates-2-INITIAL_FORMS": "0",
        "updates-2-0-body": "",
        "updates-2-0-kind": "public",
        "attachments-TOTAL_FORMS": "0",
        "attachments-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return data


def test_support_agents_see_the_case_list_with_filters_and_search(alice_client, demo) -> None:
    response = alice_client.get(reverse("admin:helpdesk_case_changelist"))
    assert response.status_code == 200
    assert b"Acme Telecom" in response.content and b"Initech" in response.content
    case = new_case(demo)
    found = alice_client.get(reverse("admin:helpdesk_case_changelist"), {"q": case.reference})
    assert list(found.context["cl"].result_list) == [case]
    filtered = alice_client.get(
        reverse("admin:helpdesk_case_changelist"), {"severity__exact": Severity.MINOR}
    )
    assert {c.severity for c in filtered.context["cl"].result_list} == {Severity.MINOR}


def test_customers_never_reach_the_admin(client, demo) -> None:
    client.force_login(demo["bob"])  # a tenant admin is still not staff
    response = client.get(reverse("admin:helpdesk_case_changelist"))
    # The portal's own 404, not the admin's sign-in page (issue 15).
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
    assert "Django administration" not in response.content.decode()


def test_the_case_page_shows_notes_and_the_timeline(alice_client, demo) -> None:
    case = Case.objects.filter(updates__visibility=Visibility.PROVIDER_NOTE).first()
    response = alice_client.get(change_url(case))
    assert response.status_code == 200
    assert b"Checked the logs" in response.content  # the internal note
    assert b"Opened" in response.content  # the event timeline


def test_a_reply_from_the_admin_goes_through_the_services(alice_client, demo) -> None:
    case = new_case(demo)
    page = alice_client.get(change_url(case))
    # The conversation, the reply form under it, the files, the timeline.
    html = page.content.decode()
    parts = ["updates-group", "reply", "attachments-group", "events-group"]
    places = [html.index(f'id="{part}"') for part in parts]
    assert places == sorted(places)
    assert html.count('name="updates-2-0-body"') == 1
    response = alice_client.post(
        change_url(case), form_data(case, **{"updates-2-0-body": "We are looking into it."})
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    case.refresh_from_db()
    reply = case.updates.get()
    assert (reply.author, reply.visibility, reply.body) == (
        demo["alice"],
        Visibility.PUBLIC,
        "We are looking into it.",
    )
    assert case.status == Status.RESPONDED  # the first response rule held
    assert case.events.filter(kind=EventKind.RESPONDED).exists()


def test_an_internal_note_from_the_admin(alice_client, demo) -> None:
    case = new_case(demo)
    alice_client.post(
        change_url(case),
        form_data(
            case, **{"updates-2-0-body": "SBC logs attached", "updates-2-0-kind": "internal"}
        ),
    )
    note = case.updates.get()
    assert note.visibility == Visibility.PROVIDER_NOTE
    case.refresh_from_db()
    assert case.status == Status.NEW  # a note is not a response


def test_a_severity_change_without_a_reason_is_a_form_error(alice_client, demo) -> None:
    case = new_case(demo)
    target = Severity.MINOR if case.severity != Severity.MINOR else Severity.MODERATE
    response = alice_client.post(change_url(case), form_data(case, severity=target))
    assert response.status_code == 200
    assert "Say why the severity changes." in response.content.decode()
    response = alice_client.post(
        change_url(case), form_data(case, severity=target, reason="Customer confirmed impact")
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.severity == target
    assert case.events.get(kind=EventKind.SEVERITY_CHANGED).reason == "Customer confirmed impact"


def test_an_illegal_status_is_not_offered(alice_client, demo) -> None:
    case = new_case(demo)
    response = alice_client.post(change_url(case), form_data(case, status=Status.CLOSED))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.NEW


def test_staff_open_a_phone_case_that_defaults_to_minor(alice_client, demo) -> None:
    page = alice_client.get(reverse("admin:helpdesk_case_add"))
    assert page.context["form"]["severity"].value() == Severity.MINOR
    acme = demo["ann"].membership.tenant
    response = alice_client.post(
        reverse("admin:helpdesk_case_add"),
        {
            "tenant": acme.pk,
            "requester_email": "ANN@acme.test",
            "channel": Channel.PHONE,
            "severity": Severity.MINOR,
            "subject": "Called about voicemail",
            "description": "Voicemail greetings reset after upgrade.",
        },
    )
    case = Case.objects.get(subject="Called about voicemail")
    assert response.status_code == 302
    assert (case.channel, case.severity, case.requester, case.tenant) == (
        Channel.PHONE,
        Severity.MINOR,
        demo["ann"],
        acme,
    )
    assert case.events.get(kind=EventKind.OPENED).actor == demo["alice"]


def test_staff_cannot_open_an_emergency_for_a_customer_without_entitlement(
    alice_client, demo
) -> None:
    acme = demo["ann"].membership.tenant
    response = alice_client.post(
        reverse("admin:helpdesk_case_add"),
        {
            "tenant": acme.pk,
            "requester_email": "ann@acme.test",
            "channel": Channel.PHONE,
            "severity": Severity.EMERGENCY,
            "subject": "Down",
            "description": "All down",
        },
    )
    assert response.status_code == 200
    assert "account manager" in response.content.decode()
    assert not Case.objects.filter(subject="Down").exists()


def test_the_resolve_action_reports_what_it_could_not_do(alice_client, demo) -> None:
    closed = Case.objects.filter(status=Status.CLOSED).first()
    open_ = Case.objects.filter(status=Status.IN_PROGRESS).first()
    response = alice_client.post(
        reverse("admin:helpdesk_case_changelist"),
        {"action": "resolve", "_selected_action": [closed.pk, open_.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert f"{closed.reference}: This case is closed" in text
    assert f"1 case(s) resolved: {open_.reference}" in text


def test_the_tenant_list_shows_counts(alice_client, demo) -> None:
    response = alice_client.get(reverse("admin:tenants_tenant_changelist"))
    assert response.status_code == 200
    rows = {t.slug: (t._members, t._cases) for t in response.context["cl"].result_list}
    assert rows["acme"] == (2, Case.objects.filter(tenant__slug="acme").count())


def test_the_changelist_costs_the_same_queries_for_any_page_size(
    alice_client, demo, django_assert_max_num_queries
) -> None:
    url = reverse("admin:helpdesk_case_changelist")
    alice_client.get(url)  # warm-up: the brand is read once, then cached
    for per_page in (5, 100):
        CaseAdmin.list_per_page = per_page
        try:
            # 11: one more than before issue 16, the assignee filter's list of staff.
            with django_assert_max_num_queries(11):
                response = alice_client.get(url)
        finally:
            CaseAdmin.list_per_page = 50
        assert len(response.context["cl"].result_list) == min(per_page, Case.objects.count())


def test_the_changelist_counts_no_further_than_its_cap(alice_client, demo, monkeypatch) -> None:
    monkeypatch.setattr(CappedCountPaginator, "cap", 10)
    response = alice_client.get(reverse("admin:helpdesk_case_changelist"), {"p": 1})
    assert Case.objects.count() > 10
    assert response.context["cl"].result_count == 10


def escalated_initech_case(demo) -> Case:
    case = Case.objects.filter(tenant__slug="initech", tier=1, status=Status.NEW).first()
    case_escalate(case=case, actor=demo["rob"], note="Registration storm since the upgrade")
    return case


def test_staff_answer_an_escalation_in_the_thread(alice_client, demo) -> None:
    case = escalated_initech_case(demo)
    page = alice_client.get(change_url(case)).content.decode()
    assert "Registration storm since the upgrade" in page and "Hand back to tier one" in page
    response = alice_client.post(
        change_url(case),
        form_data(
            case,
            **{"updates-2-0-body": "Known issue, fix tonight", "updates-2-0-kind": "escalation"},
        ),
    )
    assert response.status_code == 302
    reply = case.updates.get(author=demo["alice"])
    assert reply.visibility == Visibility.ESCALATION

    assert ResponseClock.objects.get(case=case, tier=2).responded_at == reply.created_at


def test_staff_cannot_reply_to_a_sub_customer_directly(alice_client, demo) -> None:
    case = escalated_initech_case(demo)
    response = alice_client.post(
        change_url(case), form_data(case, **{"updates-2-0-body": "Hi Ivan, Phonism here"})
    )
    assert response.status_code == 200
    assert "write in the escalation thread" in response.content.decode()
    assert not case.updates.filter(author=demo["alice"]).exists()


def test_staff_hand_a_case_back(alice_client, demo) -> None:
    case = escalated_initech_case(demo)
    url = reverse("admin:helpdesk_case_hand_back", args=[case.pk])
    assert alice_client.post(url, {"note": ""}).status_code == 200  # the message is required
    response = alice_client.post(url, {"note": "Configuration on your SBC; steps attached"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.tier == 1
    assert case.events.filter(kind=EventKind.HANDED_BACK).exists()


def test_the_changelist_filters_by_reseller(alice_client, demo) -> None:
    voicehub = demo["rob"].membership.tenant
    response = alice_client.get(
        reverse("admin:helpdesk_case_changelist"), {"reseller": voicehub.pk}
    )
    slugs = {c.tenant.slug for c in response.context["cl"].result_list}
    assert slugs == {"initech", "umbrella"}
    assert "VoiceHub" in response.content.decode()


def test_a_change_a_service_refuses_is_an_error_and_saves_nothing(alice_client, demo) -> None:
    # A resolved case: the form accepts a severity with a reason, the service refuses it (only
    # an open case changes severity). The assignee and the note of the same submission must not
    # be kept either, and the page must not say it saved anything.
    case = Case.objects.filter(status=Status.RESOLVED).exclude(assignee=demo["alice"]).first()
    assignee, severity = case.assignee, case.severity
    target = Severity.MINOR if severity != Severity.MINOR else Severity.MODERATE
    events = case.events.count()
    response = alice_client.post(
        change_url(case),
        form_data(
            case,
            severity=target,
            reason="Customer says it is minor",
            assignee=demo["alice"].pk,
            **{"updates-2-0-body": "Lowering it", "updates-2-0-kind": "internal"},
        ),
        follow=True,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Severity can only change while the case is open." in page
    assert "changed successfully" not in page
    assert "Lowering it" in page  # the form comes back with what was typed
    case.refresh_from_db()
    assert (case.severity, case.assignee) == (severity, assignee)
    assert case.events.count() == events
    assert not case.updates.filter(body="Lowering it").exists()


def test_a_refused_reply_keeps_the_page_and_counts_in_its_errors(alice_client, demo) -> None:
    """The reply is the change form's own sub-form: its errors stop the save (nothing of the
    submission is kept, the severity included) and are announced at the top of the page."""
    case = new_case(demo)
    target = Severity.MINOR if case.severity != Severity.MINOR else Severity.MODERATE
    response = alice_client.post(
        change_url(case),
        form_data(
            case,
            severity=target,
            reason="Customer confirmed impact",
            **{"updates-2-0-body": "Hello", "updates-2-0-kind": "nonsense"},
        ),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Please correct the error below." in page
    assert "Select a valid choice" in page
    assert ">Hello</textarea>" in page.replace("\n", "")  # what was typed is kept
    case.refresh_from_db()
    assert case.severity != target and not case.updates.exists()
