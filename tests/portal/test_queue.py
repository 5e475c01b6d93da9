"""The tier-one queue: a reseller's people see their customers' open cases, soonest due first."""

import pytest
from django.urls import reverse

from helpdesk.models import OPEN_STATUSES, Case, Severity, Status
from tenants.models import Role, Tenant, TenantKind
from tests.conftest import sign_in
from tests.factories import member, open_case

pytestmark = pytest.mark.django_db

URL = reverse("tier-one-queue")


@pytest.fixture
def rob(client, demo):
    client.force_login(demo["rob"])
    return client


def shown(response) -> list[Case]:
    return list(response.context["cases"])


def test_it_shows_the_customers_open_cases_awaiting_ones_first_soonest_due_first(rob, demo) -> None:
    open_case(Tenant.objects.get(slug="umbrella"), demo["uma"], severity=Severity.CRITICAL)
    response = rob.get(URL, {"size": 100})
    cases = shown(response)
    expected = Case.objects.filter(
        tenant__parent__slug="voicehub", status__in=OPEN_STATUSES
    ).count()
    assert len(cases) == expected > 0
    assert {c.tenant.slug for c in cases} <= {"initech", "umbrella"}  # not VoiceHub's own
    assert all(c.status in OPEN_STATUSES for c in cases)
    awaiting = [c for c in cases if c.first_response_at is None]
    answered = [c for c in cases if c.first_response_at is not None]
    assert len(awaiting) >= 2 and answered
    assert cases == awaiting + answered
    for group in (awaiting, answered):
        dues = [c.response_due_at for c in group]
        assert dues == sorted(dues)
    # Sorting by due time alone is one click away.
    dues = [c.response_due_at for c in shown(rob.get(URL, {"sort": "due", "size": 100}))]
    assert dues == sorted(dues)
    assert "<h1>Tier-one queue</h1>" in response.content.decode()


def test_it_filters_by_customer_severity_status_and_sla(rob, demo) -> None:
    initech = Tenant.objects.get(slug="initech")
    cases = shown(rob.get(URL, {"tenant": initech.pk, "size": 100}))
    assert cases and {c.tenant.slug for c in cases} == {"initech"}
    closed = shown(rob.get(URL, {"status": [Status.CLOSED, Status.RESOLVED], "size": 100}))
    assert closed and {c.status for c in closed} <= {"closed", "resolved"}
    major = shown(rob.get(URL, {"severity": Severity.MAJOR, "size": 100}))
    assert all(c.severity == Severity.MAJOR for c in major)
    assert rob.get(URL, {"sla": "breached"}).status_code == 200


def test_the_customer_filter_offers_only_the_resellers_customers(rob, demo) -> None:
    field = rob.get(URL).context["filter"].form.fields["tenant"]
    assert field.label == "Customer"
    assert {t.slug for t in field.queryset} == {"initech", "umbrella"}


def test_another_resellers_customers_never_show(rob, demo) -> None:
    provider = Tenant.objects.get(kind=TenantKind.PROVIDER)
    callco = Tenant.objects.create(name="CallCo", slug="callco", kind="reseller", parent=provider)
    hooli = Tenant.objects.create(name="Hooli", slug="hooli", kind="subcustomer", parent=callco)
    case = open_case(hooli, member(hooli, Role.AGENT))
    assert case not in shown(rob.get(URL, {"size": 100}))
    assert case not in shown(rob.get(URL, {"tenant": hooli.pk, "size": 100}))


@pytest.mark.parametrize("person", ["ivan", "ann", "bob", "alice"])
def test_only_a_resellers_people_have_a_queue(client, demo, person) -> None:
    sign_in(client, demo[person])
    response = client.get(URL)
    assert response.status_code == 403
    assert "for a reseller&#x27;s support people" in response.content.decode()
