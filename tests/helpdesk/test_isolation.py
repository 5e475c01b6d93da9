"""Every object URL answers 404 to people outside the object's organisation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from helpdesk.models import Attachment, Case
from tests.conftest import sign_in
from tests.factories import open_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_objects(demo):
    acme = demo["ann"].membership.tenant
    case = open_case(acme, demo["ann"], attachments=[SimpleUploadedFile("a.txt", b"secret")])
    return {
        "case-detail": case.reference,
        "attachment-download": Attachment.objects.get(case=case).pk,
    }


@pytest.mark.parametrize("outsider", ["gina", "rita", "rob", "ivan", "uma"])
@pytest.mark.parametrize("url_name", ["case-detail", "attachment-download"])
def test_another_tenants_objects_are_not_found(client, demo, acme_objects, outsider, url_name):
    sign_in(client, demo[outsider])
    assert client.get(reverse(url_name, args=[acme_objects[url_name]])).status_code == 404


@pytest.mark.parametrize("insider", ["ann", "bob", "alice"])
@pytest.mark.parametrize("url_name", ["case-detail", "attachment-download"])
def test_the_organisation_and_staff_see_them(client, demo, acme_objects, insider, url_name):
    sign_in(client, demo[insider])
    assert client.get(reverse(url_name, args=[acme_objects[url_name]])).status_code == 200


def test_the_case_page_shows_the_requesting_side_public_updates_only(client, demo) -> None:
    case = Case.objects.filter(tenant__slug="initech", updates__visibility="reseller_note").first()
    client.force_login(demo["ivan"])
    ivan_page = client.get(case.get_absolute_url()).content.decode()
    client.force_login(demo["rob"])
    rob_page = client.get(case.get_absolute_url()).content.decode()
    assert "Checked the logs" not in ivan_page
    assert "Checked the logs" in rob_page
    assert "Thanks, we are on it" in ivan_page


def test_user_content_is_escaped(client, demo) -> None:
    case = open_case(
        demo["ann"].membership.tenant, demo["ann"], subject="<script>alert(1)</script>"
    )
    client.force_login(demo["ann"])
    page = client.get(case.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
