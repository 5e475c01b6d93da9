"""Signed users (SPEC §7, issue 13): every forged, stale or replayed token is refused with a
clear 4xx and nothing is created; a good one opens exactly one session."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from tenants.models import Membership, User
from tests.widget.conftest import HOST, RESELLER_HOST, claims, footprint, make_token
from widget import services
from widget.models import WidgetSession

pytestmark = pytest.mark.django_db


def refused(response, status: int, reason: str, before) -> None:
    body = response.content.decode()
    assert response.status_code == status, body
    assert reason in body
    assert footprint() == before


def test_it_exchanges_a_good_token_for_a_session_stored_hashed(cast, start) -> None:
    response = start(make_token(cast.acme_key, cast.acme_secret))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith("/widget/s/") and url.endswith("/cases/")
    raw = url.split("/")[3]
    session = WidgetSession.objects.get()
    assert (session.user, session.tenant, session.host_origin) == (cast.ann, cast.acme, HOST)
    assert session.token_hash != raw and raw not in session.token_hash
    assert (session.expires_at - timezone.now()).total_seconds() <= 1800


def test_it_refuses_an_expired_token(cast, start) -> None:
    before = footprint()
    now = int(time.time())
    token = make_token(cast.acme_key, cast.acme_secret, iat=now - 700, exp=now - 100)
    refused(start(token), 401, "expired", before)


def test_it_allows_a_small_clock_skew_only(cast, start) -> None:
    now = int(time.time())
    late = make_token(cast.acme_key, cast.acme_secret, iat=now - 320, exp=now - 10)
    assert start(late).status_code == 302
    before = footprint()
    too_late = make_token(cast.acme_key, cast.acme_secret, iat=now - 400, exp=now - 60)
    refused(start(too_late), 401, "expired", before)


def test_it_refuses_a_token_issued_in_the_future(cast, start) -> None:
    before = footprint()
    now = int(time.time())
    token = make_token(cast.acme_key, cast.acme_secret, iat=now + 300, exp=now + 600)
    refused(start(token), 401, "issued in the future", before)


def test_it_refuses_a_token_living_longer_than_ten_minutes(cast, start) -> None:
    before = footprint()
    now = int(time.time())
    token = make_token(cast.acme_key, cast.acme_secret, iat=now, exp=now + 601)
    refused(start(token), 401, "longer than 10 minutes", before)


@pytest.mark.parametrize("aud", ["another-app", ["another-app"], None])
def test_it_refuses_a_wrong_or_missing_audience(cast, start, aud) -> None:
    before = footprint()
    token = make_token(cast.acme_key, cast.acme_secret, aud=aud)
    refused(start(token), 401, "aud", before)


@pytest.mark.parametrize("missing", ["jti", "exp", "iat", "sub"])
def test_it_refuses_a_token_without_a_required_claim(cast, start, missing) -> None:
    before = footprint()
    token = make_token(cast.acme_key, cast.acme_secret, **{missing: None})
    refused(start(token), 401, f"“{missing}”", before)


def test_it_refuses_an_unknown_key(cast, start) -> None:
    before = footprint()
    token = jwt.encode(claims(), cast.acme_secret, algorithm="HS256", headers={"kid": "wk_nope"})
    refused(start(token), 401, "unknown, revoked or retired", before)


def test_it_refuses_a_revoked_key(cast, start) -> None:
    services.key_revoke(key=cast.acme_key, actor=None)
    before = footprint()
    refused(
        start(make_token(cast.acme_key, cast.acme_secret)),
        401,
        "unknown, revoked or retired",
        before,
    )


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_it_refuses_alg_none(cast, start, alg) -> None:
    before = footprint()
    token = f"{_b64({'alg': alg, 'typ': 'JWT', 'kid': cast.acme_key.kid})}.{_b64(claims())}."
    refused(start(token), 401, "must be signed with HS256", before)


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_it_refuses_another_hmac_algorithm_even_with_the_right_secret(cast, start, alg) -> None:
    before = footprint()
    refused(
        start(make_token(cast.acme_key, cast.acme_secret, alg=alg)),
        401,
        "must be signed with HS256",
        before,
    )


def test_it_refuses_alg_confusion_with_an_rsa_signed_token(cast, start) -> None:
    before = footprint()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(claims(), private, algorithm="RS256", headers={"kid": cast.acme_key.kid})
    refused(start(token), 401, "must be signed with HS256", before)


def test_it_refuses_a_header_that_lies_about_the_algorithm(cast, start) -> None:
    # Signed with HS512 but the header rewritten to say HS256: the signature cannot match.
    before = footprint()
    signed = make_token(cast.acme_key, cast.acme_secret, alg="HS512")
    _header, payload, signature = signed.split(".")
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": cast.acme_key.kid})
    forged = f"{header}.{payload}.{signature}"
    refused(start(forged), 401, "signature does not match", before)


def test_it_refuses_a_tampered_payload(cast, start) -> None:
    member_two = User.objects.create_user(email="bob@acme.test")
    Membership.objects.create(user=member_two, tenant=cast.acme)
    before = footprint()
    header, _payload, signature = make_token(cast.acme_key, cast.acme_secret).split(".")
    forged = f"{header}.{_b64(claims('bob@acme.test'))}.{signature}"
    refused(start(forged), 401, "signature does not match", before)


def test_it_refuses_a_token_signed_with_another_tenants_secret(cast, start) -> None:
    before = footprint()
    token = jwt.encode(
        claims(), cast.globex_secret, algorithm="HS256", headers={"kid": cast.acme_key.kid}
    )
    refused(start(token), 401, "signature does not match", before)


def test_it_refuses_garbage(cast, start) -> None:
    before = footprint()
    refused(start("not-a-jwt"), 401, "not a well-formed JWT", before)
    refused(start(""), 401, "No token", before)


def test_it_refuses_a_replayed_jti(cast, start) -> None:
    token = make_token(cast.acme_key, cast.acme_secret)
    assert start(token).status_code == 302
    before = footprint()
    refused(start(token), 401, "used already", before)
    assert WidgetSession.objects.count() == 1


def test_a_jti_is_single_use_even_in_a_new_token(cast, start) -> None:
    assert start(make_token(cast.acme_key, cast.acme_secret, jti="same-id-1234")).status_code == 302
    before = footprint()
    again = make_token(cast.acme_key, cast.acme_secret, jti="same-id-1234", name="Other")
    refused(start(again), 401, "used already", before)


def test_another_tenants_key_cannot_name_an_agent_of_a_different_tenant(cast, start) -> None:
    # Globex's portal signs, correctly, a token naming Acme's agent: trusted for Globex only.
    before = footprint()
    token = make_token(cast.globex_key, cast.globex_secret, email="ann@acme.test")
    refused(start(token), 403, "is not an agent this portal may sign for", before)


def test_a_customers_key_cannot_sign_for_a_resellers_sub_customer(cast, start) -> None:
    before = footprint()
    token = make_token(cast.acme_key, cast.acme_secret, email="ivan@initech.test")
    refused(start(token, RESELLER_HOST), 403, "is not an agent this portal may sign for", before)


def test_a_resellers_key_signs_for_its_sub_customers(cast, start) -> None:
    token = make_token(cast.voicehub_key, cast.voicehub_secret, email="ivan@initech.test")
    assert start(token, RESELLER_HOST).status_code == 302
    assert WidgetSession.objects.get().tenant == cast.initech


def test_a_resellers_key_cannot_sign_for_a_direct_customer(cast, start) -> None:
    before = footprint()
    token = make_token(cast.voicehub_key, cast.voicehub_secret, email="ann@acme.test")
    refused(start(token), 403, "is not an agent this portal may sign for", before)


def test_it_refuses_a_deactivated_agent(cast, start) -> None:
    User.objects.filter(pk=cast.ann.pk).update(is_active=False)
    before = footprint()
    refused(start(make_token(cast.acme_key, cast.acme_secret)), 403, "deactivated", before)


def test_it_refuses_an_agent_of_a_deactivated_tenant(cast, start) -> None:
    type(cast.acme).objects.filter(pk=cast.acme.pk).update(is_active=False)
    before = footprint()
    refused(start(make_token(cast.acme_key, cast.acme_secret)), 403, "deactivated", before)


def test_it_refuses_an_origin_the_tenant_does_not_allow(cast, start) -> None:
    before = footprint()
    token = make_token(cast.acme_key, cast.acme_secret)
    refused(start(token, "https://evil.example"), 403, "not allowed", before)


def test_an_unknown_email_is_refused_when_agents_are_not_created_on_first_use(cast, start):
    before = footprint()
    token = make_token(cast.acme_key, cast.acme_secret, email="new@acme.test")
    refused(start(token), 403, "is not an agent of Acme", before)


def test_an_unknown_email_becomes_an_agent_when_the_tenant_allows_it(cast, start) -> None:
    services.settings_update(tenant=cast.acme, actor=None, origins=[HOST], create_agents=True)
    token = make_token(cast.acme_key, cast.acme_secret, email="New@Acme.test", name="Nina New")
    assert start(token).status_code == 302
    nina = User.objects.get(email="new@acme.test")
    assert (nina.membership.tenant, nina.membership.role, nina.first_name) == (
        cast.acme,
        "agent",
        "Nina New",
    )
    assert not nina.has_usable_password()


def test_a_resellers_new_agent_needs_a_sub_customer_it_signs_for(cast, start) -> None:
    services.settings_update(
        tenant=cast.voicehub, actor=None, origins=[RESELLER_HOST], create_agents=True
    )
    before = footprint()
    wrong = make_token(cast.voicehub_key, cast.voicehub_secret, email="x@acme.test", org="acme")
    refused(start(wrong, RESELLER_HOST), 403, "not one this key signs for", before)
    right = make_token(
        cast.voicehub_key, cast.voicehub_secret, email="iris@initech.test", org="initech"
    )
    assert start(right, RESELLER_HOST).status_code == 302
    assert User.objects.get(email="iris@initech.test").membership.tenant == cast.initech


def test_during_a_rotation_both_keys_are_valid_then_the_old_one_retires(cast, start) -> None:
    successor, secret = services.key_rotate(key=cast.acme_key, actor=None)
    assert start(make_token(cast.acme_key, cast.acme_secret)).status_code == 302
    assert start(make_token(successor, secret)).status_code == 302
    type(cast.acme_key).objects.filter(pk=cast.acme_key.pk).update(retires_at=timezone.now())
    before = footprint()
    refused(start(make_token(cast.acme_key, cast.acme_secret)), 401, "retired", before)


def test_a_refusal_never_echoes_the_token_or_logs_it(cast, start, caplog) -> None:
    token = make_token(cast.globex_key, cast.globex_secret, email="ann@acme.test")
    with caplog.at_level("DEBUG"):
        response = start(token)
    assert token not in response.content.decode()
    assert token not in caplog.text and cast.globex_secret not in caplog.text


def _signed(secret: str, header: dict, payload_json: str) -> str:
    head = _b64(header)
    body = base64.urlsafe_b64encode(payload_json.encode()).rstrip(b"=").decode()
    mac = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    "payload",
    [
        '{"sub": "ann@acme.test", "aud": "helpdesk-widget", "iat": NaN, "exp": 1, "jti": "x"}',
        '{"sub": "ann@acme.test", "aud": "helpdesk-widget", "iat": 1, "exp": Infinity, '
        '"jti": "abcdefgh"}',
        '{"sub": 42, "aud": "helpdesk-widget", "iat": %(now)s, "exp": %(exp)s, "jti": "abcdefgh"}',
        '{"sub": "ann@acme.test", "aud": "helpdesk-widget", "iat": %(now)s, "exp": %(exp)s, '
        '"jti": 12345678}',
        '{"sub": "ann@acme.test", "aud": "helpdesk-widget", "iat": "%(now)s", "exp": %(exp)s, '
        '"jti": "abcdefgh"}',
        '["not", "an", "object"]',
        '{"sub": "ann@acme.test", "aud": "helpdesk-widget", "iat": %(now)s, "exp": %(exp)s, '
        '"jti": "abcdefgh", "name": {"x": 1}, "org": 7}',
    ],
)
def test_odd_claims_are_a_4xx_never_a_500(cast, start, payload) -> None:
    now = int(time.time())
    token = _signed(
        cast.acme_secret,
        {"alg": "HS256", "typ": "JWT", "kid": cast.acme_key.kid},
        payload % {"now": now, "exp": now + 300} if "%(" in payload else payload,
    )
    response = start(token)
    assert 400 <= response.status_code < 500 or response.status_code == 302


@pytest.mark.parametrize("header", [{"alg": "HS256", "kid": 7}, {"alg": "HS256"}, {"alg": 1}])
def test_an_odd_header_is_refused(cast, start, header) -> None:
    before = footprint()
    token = _signed(cast.acme_secret, header, json.dumps(claims()))
    response = start(token)
    assert response.status_code == 401
    assert footprint() == before
