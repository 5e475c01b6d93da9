"""The admin's case list and page as a Zendesk agent expects them (issue 16): saved views, an
assignee filter, the waiting cases first, search by number and by words anywhere in the case,
a reply box that defaults to what staff may write, no "Save and add another"."""

import re

import pytest
from django.urls import reverse

from helpdesk import services
from helpdesk.admin_views import case_search
from helpdesk.models import Case, Status, Tier
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

LIST = reverse("admin:helpdesk_case_changelist")


@pytest.fixture
def alice(client, demo):
    sign_in(client, demo["alice"])
    return client


def listed(client, **params) -> list[str]:
    page = client.get(LIST, params).content.decode()
    return re.findall(r'<a href="/admin/helpdesk/case/\d+/change/[^"]*">(CS-\d+)</a>', page)


def test_a_number_alone_finds_the_case(alice, demo) -> None:
    case = Case.objects.order_by("id").first()
    number = case.reference.split("-")[1]
    assert listed(alice, q=number) == [case.reference]
    assert listed(alice, q=case.reference) == [case.reference]
    assert case_search(Case.objects.all(), "999999").count() == 0


def test_search_finds_words_in_descriptions_and_updates(alice, demo) -> None:
    case = Case.objects.filter(tenant__slug="acme").first()
    services.update_add(case=case, author=demo["alice"], body="The SBC firmware zebrafish fix.")
    assert list(case_search(Case.objects.all(), "zebrafish")) == [case]
    assert listed(alice, q="zebrafish") == [case.reference]
    word = case.description.split()[1]
    assert case in case_search(Case.objects.all(), word)


def test_saved_views_show_what_they_say(alice, demo) -> None:
    mine = Case.objects.filter(tenant__slug="acme", status=Status.NEW).first()
    services.case_assign(case=mine, actor=demo["alice"], assignee=demo["alice"])
    assert listed(alice, view="mine") == [mine.reference]
    unassigned = listed(alice, view="unassigned")
    assert mine.reference not in unassigned
    assert unassigned
    escalated = listed(alice, view="escalated")
    assert set(escalated) == set(
        Case.objects.filter(
            tier=Tier.TWO, status__in=["new", "responded", "in_progress", "waiting"]
        ).values_list("reference", flat=True)
    )
    page = alice.get(LIST).content.decode()
    for name in (
        "My cases",
        "Unassigned",
        "Awaiting response",
        "At risk or breached",
        "Escalated to us",
    ):
        assert name in page


def test_awaiting_response_lists_only_unanswered_open_cases(alice, demo) -> None:
    for reference in listed(alice, view="awaiting"):
        case = Case.objects.get(reference=reference)
        assert case.is_open


def test_the_assignee_filter(alice, demo) -> None:
    case = Case.objects.filter(status=Status.NEW).first()
    services.case_assign(case=case, actor=demo["alice"], assignee=demo["sam"])
    assert listed(alice, assignee=demo["sam"].pk) == [case.reference]
    assert case.reference not in listed(alice, assignee="none")


def test_the_list_opens_with_unanswered_open_cases_first_soonest_due_first(alice, demo) -> None:
    references = listed(alice)
    cases = {c.reference: c for c in Case.objects.filter(reference__in=references)}
    ranks = [
        0
        if cases[r].is_open and cases[r].first_response_at is None
        else 1
        if cases[r].is_open
        else 2
        for r in references
    ]
    assert ranks == sorted(ranks)
    first_group = [cases[r].response_due_at for r in references if ranks[references.index(r)] == 0]
    assert first_group == sorted(first_group, key=lambda d: (d is None, d))


def test_no_save_and_add_another_on_a_case(alice, demo) -> None:
    case = Case.objects.first()
    page = alice.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()
    assert "_addanother" not in page
    assert 'name="_save"' in page


def test_the_reply_box_defaults_to_the_thread_on_an_escalated_subcustomer_case(alice, demo) -> None:
    case = Case.objects.filter(tenant__slug="initech", tier=Tier.ONE, status="new").first()
    services.case_escalate(case=case, actor=demo["rob"], note="Need you")
    page = alice.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()
    assert re.search(r'<option value="escalation" selected>', page)
    direct = Case.objects.filter(tenant__slug="acme", status="new").first()
    page = alice.get(reverse("admin:helpdesk_case_change", args=[direct.pk])).content.decode()
    assert re.search(r'<option value="public" selected>', page)
