from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Case, Severity, Status
from tests.factories import open_case

pytestmark = pytest.mark.django_db

URL = reverse("case-list")


@pytest.fixture
def ann_client(client, demo):
    client.force_login(demo["ann"])
    return client


def references(response) -> list[str]:
    return [case.reference for case in response.context["cases"]]


def test_it_lists_all_of_the_organisations_cases_newest_first(ann_client, demo) -> None:
    response = ann_client.get(URL)
    acme = Case.objects.filter(tenant__slug="acme").order_by("-created_at", "-id")
    assert references(response) == [c.reference for c in acme[:25]]
    assert (
        not Case.objects.filter(reference__in=references(response))
        .exclude(tenant__slug="acme")
        .exists()
    )


def test_it_filters_by_status_severity_and_requester(ann_client, demo) -> None:
    response = ann_client.get(
        URL,
        {"status": [Status.NEW, Status.RESPONDED], "severity": [Severity.MAJOR, Severity.MINOR]},
    )
    cases = response.context["cases"]
    assert cases and all(c.status in {"new", "responded"} for c in cases)
    assert all(c.severity in {3, 5} for c in cases)
    bob = ann_client.get(URL, {"requester": demo["bob"].pk}).context["cases"]
    assert bob and {c.requester_email for c in bob} == {"bob@acme.test"}


def test_requesters_outside_the_organisation_are_not_offered(ann_client, demo) -> None:
    response = ann_client.get(URL, {"requester": demo["gina"].pk})
    form = response.context["filter"].form
    assert "requester" in form.errors  # Gina is not a choice for Acme; said next to the field
    assert "Select a valid choice" in response.content.decode()


def test_it_searches_reference_and_subject(ann_client, demo) -> None:
    case = open_case(demo["ann"].membership.tenant, demo["ann"], subject="Fax gateway drops")
    assert references(ann_client.get(URL, {"q": case.reference.lower()})) == [case.reference]
    assert references(ann_client.get(URL, {"q": "fax gateway"})) == [case.reference]
    other = Case.objects.filter(tenant__slug="globex").first()
    assert references(ann_client.get(URL, {"q": other.reference})) == []


def test_it_filters_by_opening_date_in_the_viewers_days(ann_client, demo) -> None:
    newest = Case.objects.filter(tenant__slug="acme").order_by("-created_at").first()

    day = timezone.localtime(newest.created_at, timezone.get_default_timezone()).date()
    response = ann_client.get(URL, {"opened_from": day.isoformat(), "opened_to": day.isoformat()})
    assert newest.reference in references(response)
    for case in response.context["cases"]:
        assert timezone.localtime(case.created_at).date() == day
    bad = ann_client.get(URL, {"opened_from": "not-a-date"})
    assert bad.status_code == 400 and "Enter a valid date." in bad.content.decode()


def test_it_sorts(ann_client, demo) -> None:
    oldest = references(ann_client.get(URL, {"sort": "oldest"}))
    expected = Case.objects.filter(tenant__slug="acme").order_by("created_at", "id")
    assert oldest == [c.reference for c in expected[:25]]
    by_severity = ann_client.get(URL, {"sort": "severity"}).context["cases"]
    assert [c.severity for c in by_severity] == sorted(c.severity for c in by_severity)


def test_it_pages_without_counting(ann_client, demo) -> None:
    tenant = demo["ann"].membership.tenant
    for n in range(15):
        open_case(tenant, demo["ann"], subject=f"Bulk {n}")
    total = Case.objects.filter(tenant=tenant).count()
    first = ann_client.get(URL, {"size": 10})
    assert len(first.context["cases"]) == 10 and first.context["next_url"]
    seen = references(first)
    page = 2
    while True:
        response = ann_client.get(URL, {"size": 10, "page": page})
        seen += references(response)
        if not response.context["next_url"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total
    assert ann_client.get(URL, {"page": page + 1}).status_code == 200  # past the end: empty


@pytest.mark.parametrize(
    "query, reason",
    [
        ({"page": "9999999999999999999999999"}, "pages are 1 to"),
        ({"page": "0"}, "pages are 1 to"),
        ({"page": "x"}, "pages are 1 to"),
        ({"size": "7"}, "cases per page is not offered"),
    ],
)
def test_it_answers_a_page_that_cannot_exist_with_a_404_that_says_why(
    client, demo, query, reason
) -> None:
    client.force_login(demo["rob"])  # a reseller's agent: the case list and the queue
    for url in (URL, reverse("tier-one-queue")):
        response = client.get(url, query)
        assert response.status_code == 404
        assert reason in response.content.decode()


def test_it_refuses_dates_out_of_range_with_a_form_error(ann_client, demo) -> None:
    response = ann_client.get(URL, {"opened_from": "9999-12-31", "opened_to": "9999-12-31"})
    assert response.status_code == 400
    assert "Choose a date between 1900-01-01 and 2999-12-31." in response.content.decode()
    response = ann_client.get(URL, {"opened_from": "0001-01-01"})
    assert response.status_code == 400


@pytest.mark.parametrize("size", [10, 100])
def test_the_number_of_queries_does_not_depend_on_the_page_size(
    ann_client, demo, django_assert_max_num_queries, size
) -> None:
    tenant = demo["ann"].membership.tenant
    for n in range(30):
        open_case(tenant, demo["ann"], subject=f"Many {n}")
    with django_assert_max_num_queries(8):
        response = ann_client.get(URL, {"size": size, "status": ["new"], "q": "Many"})
    assert len(response.context["cases"]) == min(size, 30)


def test_resellers_see_and_filter_their_sub_customers(client, demo) -> None:
    client.force_login(demo["rob"])
    response = client.get(URL, {"size": 100})
    assert {c.tenant.slug for c in response.context["cases"]} == {"voicehub", "initech", "umbrella"}
    initech = demo["ivan"].membership.tenant
    only = client.get(URL, {"tenant": initech.pk}).context["cases"]
    assert only and {c.tenant.slug for c in only} == {"initech"}


def test_anonymous_visitors_are_sent_to_sign_in(client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_it_filters_by_sla_state_and_sorts_by_due_time(ann_client, demo) -> None:
    tenant = demo["ann"].membership.tenant
    with time_machine.travel(datetime(2026, 11, 23, 15, 0, tzinfo=UTC), tick=False):  # Mon 10:00 ET
        critical = open_case(tenant, demo["ann"], Severity.CRITICAL, subject="Critical one")
        moderate = open_case(tenant, demo["ann"], Severity.MODERATE, subject="Moderate one")
    with time_machine.travel(datetime(2026, 11, 23, 16, 0, tzinfo=UTC), tick=False):  # 11:00 ET
        breached = references(ann_client.get(URL, {"sla": "breached", "size": 100}))
        assert critical.reference in breached and moderate.reference not in breached
        on_track = references(ann_client.get(URL, {"sla": "on_track", "size": 100}))
        assert moderate.reference in on_track and critical.reference not in on_track
        page = ann_client.get(URL, {"sort": "due", "q": "one"})
        assert references(page) == [critical.reference, moderate.reference]
        assert "overdue" in page.content.decode()
