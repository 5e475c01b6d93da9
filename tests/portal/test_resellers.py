"""A reseller's admins manage their customers, those customers' people and their tier one's
plan; everyone else gets a 403 and another reseller's customers are a 404."""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from sla.models import Plan
from sla.services import plan_for
from tenants.models import Role, Tenant, TenantKind, User
from tests.conftest import sign_in
from tests.factories import member

pytestmark = pytest.mark.django_db

LIST = reverse("subcustomer-list")
NEW = reverse("subcustomer-new")


def initech() -> Tenant:
    return Tenant.objects.get(slug="initech")


@pytest.fixture
def rita(client, demo):
    client.force_login(demo["rita"])
    return client


@pytest.fixture
def hooli(demo) -> Tenant:
    """Another reseller's customer."""
    provider = Tenant.objects.get(kind=TenantKind.PROVIDER)
    callco = Tenant.objects.create(
        name="CallCo", slug="callco", kind=TenantKind.RESELLER, parent=provider
    )
    hooli = Tenant.objects.create(
        name="Hooli", slug="hooli", kind=TenantKind.SUBCUSTOMER, parent=callco
    )
    member(hooli, Role.AGENT, email="hank@hooli.test")
    return hooli


def urls_for(customer: Tenant, person: User) -> list[tuple[str, str]]:
    return [
        ("get", LIST),
        ("get", NEW),
        ("post", NEW),
        ("post", reverse("tier-one-plan")),
        ("get", reverse("subcustomer-detail", args=[customer.pk])),
        ("post", reverse("subcustomer-detail", args=[customer.pk])),
        ("post", reverse("subcustomer-active", args=[customer.pk])),
        ("post", reverse("subcustomer-invite", args=[customer.pk])),
        ("post", reverse("subcustomer-member-active", args=[customer.pk, person.pk])),
    ]


@pytest.mark.parametrize("person", ["rob", "bob", "ann", "ivan", "alice"])
def test_only_a_resellers_admins_manage_customers(client, demo, person) -> None:
    sign_in(client, demo[person])
    for method, url in urls_for(initech(), demo["ivan"]):
        response = getattr(client, method)(url, {"name": "X", "active": "0"})
        assert response.status_code == 403, (person, url)
    assert (
        "Only a reseller&#x27;s admins manage its customers." in client.get(LIST).content.decode()
    )
    assert initech().is_active and demo["ivan"].is_active


def test_visitors_are_sent_to_sign_in(client, demo) -> None:
    for method, url in urls_for(initech(), demo["ivan"]):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_resellers_customers_are_not_found(rita, demo, hooli) -> None:
    hank = User.objects.get(email="hank@hooli.test")
    for method, url in urls_for(hooli, hank)[4:]:
        assert getattr(rita, method)(url, {"name": "Mine", "active": "0"}).status_code == 404
    # Nor is another tenant's person through one's own customer.
    url = reverse("subcustomer-member-active", args=[initech().pk, hank.pk])
    assert rita.post(url, {"active": "0"}).status_code == 404
    hooli.refresh_from_db()
    hank.refresh_from_db()
    assert hooli.name == "Hooli" and hooli.is_active and hank.is_active


def test_the_list_shows_people_and_open_cases_in_one_query(
    rita, demo, django_assert_max_num_queries
) -> None:
    ivan2 = member(initech(), Role.AGENT, email="ivan2@initech.test")
    ivan2.is_active = False
    ivan2.save()
    response = rita.get(LIST)
    customers = {c.slug: c for c in response.context["customers"]}
    assert set(customers) == {"initech", "umbrella"}
    open_statuses = ["new", "responded", "in_progress", "waiting"]
    assert customers["initech"].agent_count == 1  # the deactivated one does not count
    assert (
        customers["initech"].open_case_count
        == initech().cases.filter(status__in=open_statuses).count()
    )
    with django_assert_max_num_queries(12):
        rita.get(LIST)


def test_a_reseller_admin_adds_a_customer(rita, demo) -> None:
    response = rita.post(
        NEW,
        {
            "name": "Massive Dynamic",
            "slug": "",
            "timezone": "Europe/London",
            "emergency_entitlement": "on",
        },
    )
    customer = Tenant.objects.get(name="Massive Dynamic")
    assert response.status_code == 302 and response["Location"] == reverse(
        "subcustomer-detail", args=[customer.pk]
    )
    assert customer.slug == "massive-dynamic" and customer.kind == TenantKind.SUBCUSTOMER
    assert customer.parent.slug == "voicehub" and customer.timezone == "Europe/London"
    # Contract terms are Phonism's to grant.
    assert not customer.emergency_entitlement


def test_a_taken_short_name_is_an_error_next_to_the_field(rita, demo) -> None:
    response = rita.post(NEW, {"name": "Acme Two", "slug": "acme", "timezone": "UTC"})
    assert response.status_code == 400
    assert "“acme” is taken" in str(response.context["form"].errors["slug"])
    assert not Tenant.objects.filter(name="Acme Two").exists()


def test_a_reseller_admin_renames_a_customer(rita, demo) -> None:
    url = reverse("subcustomer-detail", args=[initech().pk])
    response = rita.post(url, {"name": "Initech Corp", "timezone": "America/Chicago"})
    assert response.status_code == 302
    assert (initech().name, initech().timezone) == ("Initech Corp", "America/Chicago")
    bad = rita.post(url, {"name": "", "timezone": "Mars/Olympus"})
    assert bad.status_code == 400
    assert set(bad.context["edit_form"].errors) == {"name", "timezone"}


def test_deactivating_a_customer_blocks_its_sign_in_and_reactivating_restores_it(
    rita, demo
) -> None:
    url = reverse("subcustomer-active", args=[initech().pk])
    assert rita.post(url, {"active": "0"}).status_code == 302
    assert not initech().is_active
    ivan = Client()
    login = {"username": "ivan@initech.test", "password": "demo-password"}
    assert ivan.post(reverse("login"), login).status_code == 200  # refused: the form again
    rita.post(url, {"active": "1"})
    assert initech().is_active
    assert ivan.post(reverse("login"), login).status_code == 302


def test_a_reseller_admin_invites_someone_into_a_customer(
    rita, demo, django_capture_on_commit_callbacks
) -> None:
    url = reverse("subcustomer-invite", args=[initech().pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = rita.post(url, {"email": "Iris@Initech.test", "role": Role.ADMIN})
    assert response.status_code == 302
    iris = User.objects.get(email="iris@initech.test")
    assert iris.membership.tenant == initech() and iris.membership.role == Role.ADMIN
    message = mail.outbox[-1]
    assert message.from_email == "VoiceHub <support@voicehub.test>"
    assert "Initech" in message.subject
    assert "phonism" not in f"{message.from_email} {message.subject} {message.body}".lower()
    assert re.search(r"http://voicehub\.localhost:8000/accounts/invitation/\S+/", message.body)
    # The invitation page wears VoiceHub's brand, and Iris lands in Initech.
    path = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", message.body).group(1)
    visitor = rita.__class__()
    page = visitor.get(path, follow=True)
    assert page.context["brand"].name == "VoiceHub"
    assert "phonism" not in page.content.decode().lower()


def test_an_invitation_error_shows_next_to_the_field(rita, demo) -> None:
    url = reverse("subcustomer-invite", args=[initech().pk])
    response = rita.post(url, {"email": "gina@globex.test", "role": Role.AGENT})
    assert response.status_code == 400
    assert "already has an account" in str(response.context["invite_form"].errors["email"])


def test_a_reseller_admin_deactivates_and_reactivates_a_customers_person(rita, demo) -> None:
    url = reverse("subcustomer-member-active", args=[initech().pk, demo["ivan"].pk])
    assert rita.post(url, {"active": "0"}).status_code == 302
    demo["ivan"].refresh_from_db()
    assert not demo["ivan"].is_active
    rita.post(url, {"active": "1"})
    demo["ivan"].refresh_from_db()
    assert demo["ivan"].is_active


def test_a_customers_own_admin_manages_its_people_on_the_team_page(client, demo) -> None:
    iris = member(initech(), Role.ADMIN, email="iris@initech.test")
    client.force_login(iris)
    response = client.get(reverse("team"))
    assert {m.user.email for m in response.context["members"]} == {
        "ivan@initech.test",
        "iris@initech.test",
    }
    assert response.context["brand"].name == "VoiceHub"


def test_a_reseller_admin_chooses_the_plan_of_its_tier_one(rita, demo) -> None:
    faster = Plan.objects.create(name="VoiceHub gold")
    response = rita.post(reverse("tier-one-plan"), {"plan": faster.pk})
    assert response.status_code == 302
    voicehub = Tenant.objects.get(slug="voicehub")
    assert voicehub.tier_one_plan == faster
    assert plan_for(initech(), 1) == faster
    assert rita.post(reverse("tier-one-plan"), {"plan": "999999"}).status_code == 400
    rita.post(reverse("tier-one-plan"), {"plan": ""})
    voicehub.refresh_from_db()
    assert voicehub.tier_one_plan is None


def test_the_navigation_shows_customers_to_reseller_admins_and_the_queue_to_reseller_people(
    client, demo
) -> None:
    for person, customers, queue in [
        ("rita", True, True),
        ("rob", False, True),
        ("ivan", False, False),
        ("bob", False, False),
    ]:
        sign_in(client, demo[person])
        page = client.get(reverse("case-list")).content.decode()
        assert (f'href="{LIST}"' in page) is customers, person
        assert (f'href="{reverse("tier-one-queue")}"' in page) is queue, person
