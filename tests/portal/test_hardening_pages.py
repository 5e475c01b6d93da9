"""Issue 15, points 3 and 4: signed-in pages are never cached; every absolute link in an email
is built from the brand's configured host, never the request's Host; support-side pages and
the admin never reach the requesting side (a sub-customer sees no "Phonism" anywhere)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from helpdesk.models import Case
from tenants.branding import brand_for_user
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

FORGED_HOST = "attacker.example"


def signed_in(user) -> Client:
    client = Client()
    sign_in(client, user)
    return client


def test_signed_in_pages_are_private_and_not_stored(demo) -> None:
    bob = signed_in(demo["bob"])
    case = Case.objects.filter(tenant__slug="acme").first()
    for url in (reverse("case-list"), case.get_absolute_url(), reverse("team"), "/nowhere/"):
        response = bob.get(url)
        assert response.status_code in (200, 404)
        directives = {d.strip() for d in response["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= directives, url
    staff = signed_in(demo["alice"])
    directives = staff.get(reverse("admin:index"))["Cache-Control"]
    assert "private" in directives and "no-store" in directives


@pytest.mark.parametrize("person", ["ann", "ivan"])
def test_a_reset_asked_through_an_unexpected_host_links_to_the_brands_host(
    settings, demo, person
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, FORGED_HOST]
    visitor = Client(HTTP_HOST=FORGED_HOST)
    email = demo[person].email
    assert visitor.post(reverse("password_reset"), {"email": email}).status_code == 302
    body = mail.outbox[-1].body
    assert FORGED_HOST not in body
    links = re.findall(r"https?://[^\s/]+/accounts/password/reset/\S+", body)
    expected = brand_for_user(demo[person]).site_url  # VoiceHub's host for Ivan, else SITE_URL
    assert links and all(link.startswith(expected + "/") for link in links)


def test_an_invitation_asked_through_an_unexpected_host_links_to_the_brands_host(
    settings, demo, django_capture_on_commit_callbacks
) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, FORGED_HOST]
    bob = Client(HTTP_HOST=FORGED_HOST)
    sign_in(bob, demo["bob"])
    with django_capture_on_commit_callbacks(execute=True):
        response = bob.post(reverse("team"), {"email": "carla@acme.test", "role": "agent"})
    assert response.status_code == 302
    body = mail.outbox[-1].body
    assert FORGED_HOST not in body
    assert f"{settings.SITE_URL}/accounts/invitation/" in body


def test_ivan_never_sees_the_escalation_form_or_its_errors(demo) -> None:
    ivan = signed_in(demo["ivan"])
    case = Case.objects.filter(tenant__slug="initech").first()
    url = reverse("case-escalate", args=[case.reference])
    for note in ("", "please escalate"):
        response = ivan.post(url, {"note": note})
        page = response.content.decode()
        assert response.status_code == 404
        assert "Phonism" not in page and "Escalate" not in page and "provider" not in page
        assert "VoiceHub" in page  # the portal's 404, in his brand


def test_the_admin_answers_a_signed_in_customer_with_the_portals_404(demo) -> None:
    ivan = signed_in(demo["ivan"])
    for url in ("/admin/", "/admin/login/", reverse("admin:helpdesk_case_changelist")):
        response = ivan.get(url, follow=True)
        page = response.content.decode()
        assert response.status_code == 404, url
        assert "Phonism" not in page and "VoiceHub" in page
    response = signed_in(demo["ann"]).get("/admin/")
    assert response.status_code == 404 and "Django administration" not in response.content.decode()


def test_the_admin_sign_in_exists_only_on_the_providers_host(demo) -> None:
    reseller_host = Client(HTTP_HOST="voicehub.localhost")
    response = reseller_host.get("/admin/", follow=True)
    assert response.status_code == 404 and "Phonism" not in response.content.decode()
    provider_host = Client()
    response = provider_host.get("/admin/")
    assert response.status_code == 302 and reverse("admin:login") in response["Location"]
    assert settings.ROOT_URLCONF == "helpdesk.urls"
