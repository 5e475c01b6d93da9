import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.models import Case, Channel, Severity
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

URL = reverse("case-new")


def data(**overrides) -> dict:
    return {"subject": "Phones down", "description": "Since 9am", "severity": "3", **overrides}


def test_the_form_shows_the_guide_and_preselects_no_severity(client, demo) -> None:
    client.force_login(demo["ann"])
    page = client.get(URL).content.decode()
    assert "many users blocked; major feature failure" in page
    assert "Low effort until a fix, workaround or answer." in page
    assert "checked" not in page


@pytest.mark.parametrize(("person", "provider"), [("ann", "Phonism"), ("ivan", "VoiceHub")])
def test_the_guide_names_who_gives_the_support(client, demo, person, provider) -> None:
    client.force_login(demo[person])
    page = client.get(URL).content.decode()
    assert f"On-call incident coordination between {provider} and designated" in page
    # A form sent back with an error names them too.
    page = client.post(URL, data(severity="")).content.decode()
    assert f"On-call incident coordination between {provider} and designated" in page


def test_it_opens_a_portal_case_for_the_agents_organisation(client, demo) -> None:
    client.force_login(demo["ann"])
    upload = SimpleUploadedFile("trace.pcap", b"\xd4\xc3\xb2\xa1")
    response = client.post(URL, data(attachments=[upload]))
    case = Case.objects.get(subject="Phones down")
    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()
    assert (case.tenant.slug, case.requester, case.channel, case.severity) == (
        "acme",
        demo["ann"],
        Channel.PORTAL,
        Severity.MAJOR,
    )
    assert case.attachments.get().filename == "trace.pcap"


def test_a_missing_severity_is_a_form_error(client, demo) -> None:
    client.force_login(demo["ann"])
    response = client.post(URL, data(severity=""))
    assert response.status_code == 200
    assert "Choose the severity that fits the issue." in response.content.decode()
    assert not Case.objects.filter(subject="Phones down").exists()


def test_emergency_without_entitlement_tells_to_call_the_account_manager(client, demo) -> None:
    client.force_login(demo["ann"])
    response = client.post(URL, data(severity="1"))
    assert "contact your account manager" in response.content.decode()
    assert 'value="Phones down"' in response.content.decode()  # nothing typed is lost
    assert not Case.objects.filter(subject="Phones down").exists()


def test_emergency_with_entitlement(client, demo) -> None:
    client.force_login(demo["gina"])
    client.post(URL, data(severity="1"))
    assert Case.objects.get(subject="Phones down").severity == Severity.EMERGENCY


@pytest.mark.parametrize(
    "bad",
    [
        {"severity": "9"},
        {"severity": "abc"},
        {"subject": ""},
        {"subject": "x" * 500},
        {"description": "   "},
    ],
)
def test_bad_input_is_a_form_error_never_a_crash(client, demo, bad) -> None:
    client.force_login(demo["ann"])
    response = client.post(URL, data(**bad))
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()


def test_staff_open_cases_in_the_admin_not_here(client, demo) -> None:
    sign_in(client, demo["alice"])
    assert client.get(URL).status_code == 403


def test_a_deactivated_organisation_cannot_sign_in_to_open_cases(client, demo) -> None:
    acme = demo["ann"].membership.tenant
    acme.is_active = False
    acme.save()
    client.force_login(demo["ann"])
    response = client.post(URL, data())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not Case.objects.filter(subject="Phones down").exists()
