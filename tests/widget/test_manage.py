"""Tenant admins (and resellers, for their sub-customers) manage widget keys and origins:
create, rotate with two keys valid, revoke; a secret is shown once, stored encrypted, never
logged."""

from __future__ import annotations

import re

import pytest

from tenants.models import Role
from tests.factories import member
from tests.widget.conftest import HOST
from widget import crypto
from widget.models import WidgetKey, WidgetSettings

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob(cast):
    return member(cast.acme, role=Role.ADMIN, email="bob@acme.test")


def test_an_admin_creates_a_key_and_sees_its_secret_once(cast, client, bob, caplog) -> None:
    client.force_login(bob)
    with caplog.at_level("DEBUG"):
        response = client.post("/widget/manage/keys/new/", {"label": "production"})
    page = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert "not shown again" in page
    secret = re.search(r'id="new-secret" readonly value="([^"]+)"', page).group(1)
    key = WidgetKey.objects.get(tenant=cast.acme, label="production")
    assert secret not in key.secret_encrypted  # encrypted at rest
    assert crypto.decrypt(key.secret_encrypted) == secret
    assert secret not in caplog.text
    assert secret not in client.get("/widget/manage/").content.decode()  # once only


def test_rotation_keeps_two_keys_valid_until_the_old_one_retires(cast, client, bob) -> None:
    client.force_login(bob)
    response = client.post(f"/widget/manage/keys/{cast.acme_key.pk}/rotate/")
    assert response.status_code == 200
    assert "stays valid until" in response.content.decode()
    valid = WidgetKey.objects.valid().filter(tenant=cast.acme)
    assert valid.count() == 2
    cast.acme_key.refresh_from_db()
    assert cast.acme_key.retires_at is not None


def test_a_third_valid_key_is_refused_with_a_reason(cast, client, bob) -> None:
    client.force_login(bob)
    client.post("/widget/manage/keys/new/", {"label": "second"})
    response = client.post("/widget/manage/keys/new/", {"label": "third"})
    assert response.status_code == 400
    assert "already has 2 valid keys" in response.content.decode()


def test_revoking_ends_the_key_at_once(cast, client, bob) -> None:
    client.force_login(bob)
    assert client.post(f"/widget/manage/keys/{cast.acme_key.pk}/revoke/").status_code == 302
    cast.acme_key.refresh_from_db()
    assert cast.acme_key.revoked_at is not None
    assert "Revoked" in client.get("/widget/manage/").content.decode()


def test_another_tenants_key_is_not_found(cast, client, bob) -> None:
    client.force_login(bob)
    for action in ("rotate", "revoke"):
        response = client.post(f"/widget/manage/keys/{cast.globex_key.pk}/{action}/")
        assert response.status_code == 404
    cast.globex_key.refresh_from_db()
    assert cast.globex_key.is_valid() and cast.globex_key.retires_at is None


def test_agents_and_sub_customers_do_not_manage_keys(cast, client) -> None:
    initech_admin = member(cast.initech, role=Role.ADMIN, email="ida@initech.test")
    for person in (cast.ann, initech_admin):
        client.force_login(person)
        response = client.get("/widget/manage/")
        assert response.status_code == 403
        assert client.post("/widget/manage/keys/new/", {}).status_code == 403


def test_a_reseller_admin_manages_the_keys_that_sign_for_its_customers(cast, client) -> None:
    rita = member(cast.voicehub, role=Role.ADMIN, email="rita@voicehub.test")
    client.force_login(rita)
    page = client.get("/widget/manage/").content.decode()
    assert cast.voicehub_key.kid in page and cast.acme_key.kid not in page
    assert "also sign for your customers" in page


def test_an_admin_edits_the_allowed_origins(cast, client, bob) -> None:
    client.force_login(bob)
    response = client.post(
        "/widget/manage/",
        {"allowed_origins": "https://Portal.Acme.example:443/\nhttp://127.0.0.1:8000"},
    )
    assert response.status_code == 302
    row = WidgetSettings.objects.get(tenant=cast.acme)
    assert row.origins == [HOST, "http://127.0.0.1:8000"]
    assert row.create_agents is False


@pytest.mark.parametrize(
    "bad", ["portal.acme.example", "https://x.example/path", "javascript:alert(1)", "*"]
)
def test_a_bad_origin_is_a_form_error(cast, client, bob, bad) -> None:
    client.force_login(bob)
    response = client.post("/widget/manage/", {"allowed_origins": bad})
    assert response.status_code == 400
    assert "origin" in response.content.decode()
    assert WidgetSettings.objects.get(tenant=cast.acme).origins == [HOST]
