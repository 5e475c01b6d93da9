"""Which brand a page wears (SPEC §8): by the viewer's tier one when signed in, by the host name
for visitors; and a reseller's host name grants nothing."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from helpdesk.models import Case
from tenants.branding import brand_for_tenant, brand_for_user
from tenants.models import Brand, BrandDomain, Role, Tenant, TenantKind
from tests.conftest import sign_in
from tests.factories import member, open_case

pytestmark = pytest.mark.django_db

LOGIN = reverse("login")
VOICEHUB = "voicehub.localhost"


def brand_of(response) -> str:
    return response.context["brand"].name


@pytest.fixture
def callco(demo) -> dict:
    """A second reseller with its own host name, customer, agent and case."""
    reseller = Tenant.objects.create(
        name="CallCo",
        slug="callco",
        kind=TenantKind.RESELLER,
        parent=demo["ann"].membership.tenant.parent,
    )
    brand = Brand.objects.create(tenant=reseller, name="CallCo", support_email="help@callco.test")
    BrandDomain.objects.create(brand=brand, host="callco.localhost")
    hooli = Tenant.objects.create(
        name="Hooli", slug="hooli", kind=TenantKind.SUBCUSTOMER, parent=reseller
    )
    agent = member(reseller, Role.AGENT, email="carl@callco.test")
    customer = member(hooli, Role.AGENT, email="hank@hooli.test")
    case = open_case(hooli, customer, subject="Hooli phones are down")
    return {"reseller": reseller, "agent": agent, "customer": customer, "case": case}


def test_a_visitor_on_a_resellers_host_gets_its_brand(client, demo) -> None:
    response = client.get(LOGIN, HTTP_HOST=VOICEHUB)
    page = response.content.decode()
    assert brand_of(response) == "VoiceHub"
    assert "<title>Sign in · VoiceHub support</title>" in page
    assert "phonism" not in page.lower()
    assert "--brand: #5b21b6; --brand-ink: #ffffff" in page


def test_the_port_and_the_case_of_the_host_do_not_matter(client, demo) -> None:
    assert brand_of(client.get(LOGIN, HTTP_HOST="VoiceHub.LOCALHOST:8000")) == "VoiceHub"


def test_an_allowed_host_without_a_brand_gets_the_providers(client, demo) -> None:
    assert brand_of(client.get(LOGIN, HTTP_HOST="elsewhere.localhost")) == "Phonism"
    assert brand_of(client.get(LOGIN)) == "Phonism"


def test_a_host_outside_allowed_hosts_is_refused(client, demo) -> None:
    response = client.get(LOGIN, HTTP_HOST="support.evil.example")
    assert response.status_code == 400
    assert "Bad request" in response.content.decode()


def test_pages_vary_on_the_host(client, demo) -> None:
    assert "Host" in client.get(LOGIN, HTTP_HOST=VOICEHUB)["Vary"]
    client.force_login(demo["ivan"])
    assert "Host" in client.get(reverse("case-list"))["Vary"]


@pytest.mark.parametrize(
    ("person", "host", "brand"),
    [
        ("ivan", "testserver", "VoiceHub"),  # a sub-customer: its reseller's, on any host
        ("rob", "testserver", "VoiceHub"),  # the reseller's own people
        ("rita", "elsewhere.localhost", "VoiceHub"),
        ("ann", VOICEHUB, "Phonism"),  # a direct customer: the provider's, even on a reseller's
        ("gina", "testserver", "Phonism"),
    ],
)
def test_a_signed_in_person_gets_the_brand_of_their_tier_one(
    client, demo, person, host, brand
) -> None:
    sign_in(client, demo[person])
    response = client.get(reverse("case-list"), HTTP_HOST=host)
    assert brand_of(response) == brand
    assert f"{brand} support</span>" in response.content.decode()


def test_staff_get_the_providers_brand(demo) -> None:
    assert brand_for_user(demo["alice"]).name == "Phonism"


def test_brand_for_tenant_follows_tier_one(demo) -> None:
    initech = Tenant.objects.get(slug="initech")
    assert brand_for_tenant(initech).name == "VoiceHub"
    assert brand_for_tenant(initech.parent).name == "VoiceHub"
    assert brand_for_tenant(Tenant.objects.get(slug="acme")).name == "Phonism"
    voicehub = brand_for_tenant(initech)
    assert voicehub.from_email == "VoiceHub <support@voicehub.test>"
    assert voicehub.site_url == "http://voicehub.localhost:8000"
    assert brand_for_tenant(Tenant.objects.get(slug="acme")).site_url == "http://127.0.0.1:8000"


def test_a_reseller_without_a_brand_row_still_never_shows_the_provider(demo) -> None:
    Brand.objects.filter(tenant__slug="voicehub").delete()
    brand = brand_for_tenant(Tenant.objects.get(slug="initech"))
    assert brand.name == "VoiceHub" and brand.logo_url == ""


def test_a_resellers_host_gives_no_access_to_another_resellers_data(client, demo, callco) -> None:
    voicehub_case = Case.objects.filter(tenant__slug="initech").first()
    # CallCo's agent on VoiceHub's host: CallCo's brand and CallCo's cases only.
    client.force_login(callco["agent"])
    response = client.get(reverse("case-list"), HTTP_HOST=VOICEHUB)
    assert brand_of(response) == "CallCo"
    assert {c.tenant.slug for c in response.context["cases"]} == {"hooli"}
    assert client.get(voicehub_case.get_absolute_url(), HTTP_HOST=VOICEHUB).status_code == 404
    # VoiceHub's agent on CallCo's host: VoiceHub's brand and VoiceHub's cases only.
    client.force_login(demo["rob"])
    response = client.get(reverse("case-list"), {"size": 100}, HTTP_HOST="callco.localhost")
    assert brand_of(response) == "VoiceHub"
    assert {c.tenant.slug for c in response.context["cases"]} <= {"voicehub", "initech", "umbrella"}
    assert (
        client.get(callco["case"].get_absolute_url(), HTTP_HOST="callco.localhost").status_code
        == 404
    )
    # And a visitor on CallCo's host sees CallCo's sign-in page, not VoiceHub's.
    client.logout()
    assert brand_of(client.get(LOGIN, HTTP_HOST="callco.localhost")) == "CallCo"


def test_the_logo_is_in_the_header_and_served_with_caching_headers(client, demo) -> None:
    brand = Brand.objects.get(name="VoiceHub")
    page = client.get(LOGIN, HTTP_HOST=VOICEHUB).content.decode()
    assert f'<img src="{brand.logo_url}" alt="VoiceHub logo"' in page.replace("&amp;", "&")
    response = client.get(brand.logo_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content).startswith(b"\x89PNG")
    assert response["Cache-Control"] == "public, max-age=31536000, immutable"
    unversioned = client.get(reverse("brand-logo", args=[brand.pk]))
    assert unversioned["Cache-Control"] == "public, max-age=300"


def test_a_brand_without_a_logo_has_no_logo_url(client, demo) -> None:
    provider = Brand.objects.get(tenant__kind=TenantKind.PROVIDER)
    assert client.get(reverse("brand-logo", args=[provider.pk])).status_code == 404
    assert "<img" not in client.get(LOGIN).content.decode()


def test_a_sub_customers_password_reset_email_wears_the_resellers_brand(client, demo) -> None:
    # Asked for on the default host: the email still comes from VoiceHub and links to its host.
    client.post(reverse("password_reset"), {"email": "ivan@initech.test"})
    message = mail.outbox[-1]
    assert message.from_email == "VoiceHub <support@voicehub.test>"
    assert message.subject == "Reset your VoiceHub support desk password"
    text = f"{message.from_email} {message.subject} {message.body}"
    assert "phonism" not in text.lower()
    link = re.search(r"(https?)://([^/\s]+)(/accounts/password/reset/\S+/)", message.body)
    assert link.group(2) == "voicehub.localhost:8000"
    # The page of the link wears VoiceHub's brand whatever the host.
    page = client.get(link.group(3), follow=True)
    assert brand_of(page) == "VoiceHub" and "phonism" not in page.content.decode().lower()


def test_an_invalid_reset_link_does_not_tell_whose_customer_someone_is(client, demo) -> None:
    client.post(reverse("password_reset"), {"email": "ivan@initech.test"})
    path = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", mail.outbox[-1].body)
    uid = path.group(1).split("/")[4]
    response = client.get(f"/accounts/password/reset/{uid}/wrong-token/")
    assert "This link no longer works" in response.content.decode()
    assert brand_of(response) == "Phonism"


def test_a_direct_customers_reset_email_is_the_providers(client, demo) -> None:
    client.post(reverse("password_reset"), {"email": "ann@acme.test"})
    message = mail.outbox[-1]
    assert message.from_email == "Phonism <support@phonism.test>"
    # The provider's brand has no host name: SITE_URL, never the request's host (issue 15).
    assert f"{settings.SITE_URL}/accounts/password/reset/" in message.body
    assert "testserver" not in message.body
