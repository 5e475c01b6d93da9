"""A small cast for the widget: two direct customers, a reseller with a sub-customer, one
agent each, a key each, and the host portals' origins allowed."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt
import pytest
from django.conf import settings

from tenants.models import Role, Tenant, TenantKind, User
from tests.factories import TenantFactory, member
from widget import crypto, services
from widget.models import SpentToken, WidgetKey, WidgetSession

HOST = "https://portal.acme.example"
RESELLER_HOST = "https://portal.voicehub.example"


@dataclass
class Cast:
    acme: Tenant
    globex: Tenant
    voicehub: Tenant
    initech: Tenant
    ann: User
    gina: User
    rob: User
    ivan: User
    acme_key: WidgetKey
    acme_secret: str
    globex_key: WidgetKey
    globex_secret: str
    voicehub_key: WidgetKey
    voicehub_secret: str


@pytest.fixture
def cast(db) -> Cast:
    acme = TenantFactory(name="Acme", slug="acme")
    globex = TenantFactory(name="Globex", slug="globex")
    voicehub = TenantFactory(name="VoiceHub", slug="voicehub", kind=TenantKind.RESELLER)
    initech = TenantFactory(
        name="Initech", slug="initech", kind=TenantKind.SUBCUSTOMER, parent=voicehub
    )
    people = {
        "ann": member(acme, email="ann@acme.test"),
        "gina": member(globex, email="gina@globex.test"),
        "rob": member(voicehub, email="rob@voicehub.test"),
        "ivan": member(initech, email="ivan@initech.test"),
    }
    services.settings_update(tenant=acme, actor=None, origins=[HOST], create_agents=False)
    services.settings_update(tenant=globex, actor=None, origins=[HOST], create_agents=False)
    services.settings_update(
        tenant=voicehub, actor=None, origins=[RESELLER_HOST], create_agents=False
    )
    keys = {}
    for tenant in (acme, globex, voicehub):
        keys[tenant.slug] = services.key_create(tenant=tenant, actor=None, label="test")
    return Cast(
        acme=acme,
        globex=globex,
        voicehub=voicehub,
        initech=initech,
        **people,
        acme_key=keys["acme"][0],
        acme_secret=keys["acme"][1],
        globex_key=keys["globex"][0],
        globex_secret=keys["globex"][1],
        voicehub_key=keys["voicehub"][0],
        voicehub_secret=keys["voicehub"][1],
    )


def claims(email: str = "ann@acme.test", **overrides) -> dict:
    now = int(time.time())
    base = {
        "sub": email,
        "name": "Ann Acme",
        "aud": settings.WIDGET_AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def make_token(key: WidgetKey, secret: str, alg: str = "HS256", **overrides) -> str:
    return jwt.encode(claims(**overrides), secret, algorithm=alg, headers={"kid": key.kid})


def footprint() -> tuple[int, int, int]:
    """What a refused token must not change: sessions, spent ids, people."""
    return WidgetSession.objects.count(), SpentToken.objects.count(), User.objects.count()


@pytest.fixture
def start(client):
    """POST a token to the widget's start, as the snippet does from the host page."""

    def post(token: str, origin: str = HOST):
        return client.post("/widget/start/", {"token": token}, HTTP_ORIGIN=origin)

    return post


@pytest.fixture
def session_for(cast):
    """A live widget session for a person (the raw token for the URL)."""

    def make(user: User, origin: str = HOST) -> str:
        key = cast.voicehub_key if user.membership.tenant.parent_id == cast.voicehub.pk else None
        key = (
            key
            or {
                cast.acme.pk: cast.acme_key,
                cast.globex.pk: cast.globex_key,
                cast.voicehub.pk: cast.voicehub_key,
            }[user.membership.tenant_id]
        )
        secret = crypto.decrypt(key.secret_encrypted)
        token = jwt.encode(claims(user.email), secret, algorithm="HS256", headers={"kid": key.kid})
        return services.session_start(token=token, origin=origin).token

    return make


__all__ = ["Role", "claims", "make_token", "footprint"]


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header by directive (their order is not part of it)."""
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in parts}
