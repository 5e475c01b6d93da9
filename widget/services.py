"""The widget's writes: keys, settings, and exchanging a signed token for a widget session.

A widget session is the iframe's proof of who it is, carried in its URL path because the
browser blocks the helpdesk's cookies inside another site's page. Only its SHA-256 is stored;
it is bound to one user and one tenant, ends ``WIDGET_SESSION_SECONDS`` after its last use
(eight hours at most), and dies with its key, its user or its tenant's access.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from tenants import access
from tenants.models import Membership, Role, Tenant, TenantKind, User
from widget import crypto
from widget.models import SpentToken, WidgetKey, WidgetSession, WidgetSettings
from widget.tokens import Claims, TokenRefused, verify

log = logging.getLogger(__name__)

MAX_VALID_KEYS = 2
SESSION_MAX_AGE = timedelta(hours=8)


class AgentRefused(TokenRefused):
    """A well-signed token naming someone who may not use the widget."""

    status = 403


# --- who manages what --------------------------------------------------------------------------


def widget_tenant_of(user) -> Tenant | None:
    """The tenant whose widget keys and settings ``user`` manages: a direct customer's or a
    reseller's admins (a reseller's keys also sign for its sub-customers, whose host portal is
    the reseller's); sub-customers and the provider have none of their own."""
    membership = access.membership_of(user)
    if (
        membership is None
        or not membership.is_admin
        or not user.is_active
        or not membership.tenant.is_usable()
        or membership.tenant.kind not in (TenantKind.CUSTOMER, TenantKind.RESELLER)
    ):
        return None
    return membership.tenant


def key_covers(key: WidgetKey, tenant: Tenant) -> bool:
    """A key is trusted for its own tenant, and a reseller's for its sub-customers: no other."""
    if key.tenant_id == tenant.pk:
        return True
    return key.tenant.kind == TenantKind.RESELLER and tenant.parent_id == key.tenant_id


def settings_for(tenant: Tenant) -> WidgetSettings:
    return WidgetSettings.objects.filter(tenant=tenant).first() or WidgetSettings(tenant=tenant)


def allowed_origins_for(tenant: Tenant) -> list[str]:
    """Origins that may frame the widget for ``tenant``'s people: its own, and for a
    sub-customer its reseller's (the reseller's portal hosts it)."""
    tenants = [tenant.pk]
    if tenant.kind == TenantKind.SUBCUSTOMER and tenant.parent_id:
        tenants.append(tenant.parent_id)
    origins: list[str] = []
    for row in WidgetSettings.objects.filter(tenant__in=tenants):
        origins.extend(o for o in row.origins if o not in origins)
    return origins


def normalise_origin(value: str) -> str:
    """``https://Portal.Example.com:443/`` → ``https://portal.example.com``; a ValidationError
    for anything that is not a bare http(s) origin."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"“{value}” is not an origin like https://portal.example.com.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValidationError(f"“{value}”: an origin has no path, query or user name.")
    if any(c in parts.hostname for c in " *;,'\""):
        raise ValidationError(f"“{value}” is not a host name.")
    try:
        port = parts.port
    except ValueError:
        raise ValidationError(f"“{value}” has an invalid port.") from None
    default = {"http": 80, "https": 443}[parts.scheme]
    suffix = f":{port}" if port and port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{suffix}"


# --- keys and settings ------------------------------------------------------------------------


def _require_manager(actor: User, tenant: Tenant) -> None:
    if widget_tenant_of(actor) != tenant:
        raise PermissionDenied("Only this organisation's admins manage its widget.")


def key_create(*, tenant: Tenant, actor: User | None, label: str = "") -> tuple[WidgetKey, str]:
    """A new key and its secret, which is returned this once and never again."""
    if actor is not None:
        _require_manager(actor, tenant)
    if tenant.kind not in (TenantKind.CUSTOMER, TenantKind.RESELLER):
        raise ValidationError("Widget keys belong to direct customers and resellers.")
    if WidgetKey.objects.valid().filter(tenant=tenant).count() >= MAX_VALID_KEYS:
        raise ValidationError(
            f"{tenant} already has {MAX_VALID_KEYS} valid keys: revoke one first."
        )
    secret = crypto.new_secret()
    key = WidgetKey.objects.create(
        tenant=tenant,
        kid="wk_" + secrets.token_hex(8),
        label=label.strip()[:100],
        secret_encrypted=crypto.encrypt(secret),
        created_by=actor,
    )
    log.info("widget key %s created for %s", key.kid, tenant.slug)
    return key, secret


def key_rotate(*, key: WidgetKey, actor: User | None) -> tuple[WidgetKey, str]:
    """A successor key; the old one stays valid ``WIDGET_KEY_ROTATION_HOURS`` more, so host
    portals can switch without a gap (two keys valid at once)."""
    if actor is not None:
        _require_manager(actor, key.tenant)
    if not key.is_valid():
        raise ValidationError("Only a valid key can be rotated.")
    if key.retires_at is not None:
        raise ValidationError("This key is already being replaced.")
    with transaction.atomic():
        WidgetKey.objects.filter(pk=key.pk).update(
            retires_at=timezone.now() + timedelta(hours=settings.WIDGET_KEY_ROTATION_HOURS)
        )
        others = WidgetKey.objects.valid().filter(tenant=key.tenant).exclude(pk=key.pk)
        if others.exists():
            raise ValidationError("Revoke the other valid key before rotating this one.")
        successor, secret = key_create(tenant=key.tenant, actor=None, label=key.label or "rotated")
    key.refresh_from_db()
    return successor, secret


def key_revoke(*, key: WidgetKey, actor: User | None) -> None:
    """Revoked at once: no new session, and the key's open sessions end."""
    if actor is not None:
        _require_manager(actor, key.tenant)
    with transaction.atomic():
        WidgetKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        WidgetSession.objects.filter(key=key).delete()
    key.refresh_from_db()
    log.info("widget key %s revoked", key.kid)


def settings_update(
    *, tenant: Tenant, actor: User | None, origins: list[str], create_agents: bool
) -> WidgetSettings:
    if actor is not None:
        _require_manager(actor, tenant)
    clean = []
    for origin in origins:
        normal = normalise_origin(origin)
        if normal not in clean:
            clean.append(normal)
    row, _ = WidgetSettings.objects.update_or_create(
        tenant=tenant,
        defaults={"allowed_origins": "\n".join(clean), "create_agents": create_agents},
    )
    return row


# --- sessions ---------------------------------------------------------------------------------


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Started:
    token: str  # the raw session token: put in the iframe's URL, never stored
    session: WidgetSession


def _agent_for(claims: Claims) -> tuple[User | None, Tenant]:
    """The existing agent the token names, or (None, tenant) when one may be created."""
    user = User.objects.filter(email__iexact=claims.email).select_related("membership").first()
    if user is not None:
        membership = access.membership_of(user)
        if membership is None or not key_covers(claims.key, membership.tenant):
            raise AgentRefused(f"{claims.email} is not an agent this portal may sign for.")
        if not user.is_active:
            raise AgentRefused(f"{claims.email} is deactivated: ask your administrator.")
        if not membership.tenant.is_usable():
            raise AgentRefused(f"{membership.tenant} is deactivated.")
        return user, membership.tenant
    tenant = claims.key.tenant
    if claims.org and claims.org != tenant.slug:
        tenant = Tenant.objects.filter(slug=claims.org).first()
        if tenant is None or not key_covers(claims.key, tenant):
            raise AgentRefused("The token's organisation (org) is not one this key signs for.")
    elif tenant.kind == TenantKind.RESELLER:
        raise AgentRefused(f"{claims.email} is not an agent this portal may sign for.")
    if not settings_for(claims.key.tenant).create_agents:
        raise AgentRefused(f"{claims.email} is not an agent of {tenant}.")
    if not tenant.is_usable():
        raise AgentRefused(f"{tenant} is deactivated.")
    return None, tenant


def session_start(*, token: str, origin: str) -> Started:
    """Exchange a host portal's token for a widget session. Refusals raise ``TokenRefused``
    (or ``AgentRefused``) before anything is written; the token's ``jti`` is spent in the same
    transaction that makes the session, so a token opens one session, once."""
    now = timezone.now()
    claims = verify(token, now=now)
    user, tenant = _agent_for(claims)
    try:
        origin = normalise_origin(origin)
    except ValidationError:
        raise AgentRefused("The widget was not opened from a web page.") from None
    if origin not in allowed_origins_for(tenant):
        raise AgentRefused(f"{origin} is not allowed to show {tenant}'s widget.")
    raw = secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            SpentToken.objects.create(key=claims.key, jti=claims.jti, expires_at=claims.expires_at)
            if user is None:
                user = User.objects.create_user(email=claims.email, first_name=claims.name)
                Membership.objects.create(user=user, tenant=tenant, role=Role.AGENT)
                log.info("widget created agent %s for %s", user.pk, tenant.slug)
            session = WidgetSession.objects.create(
                token_hash=_hash(raw),
                user=user,
                tenant=tenant,
                key=claims.key,
                host_origin=origin,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.WIDGET_SESSION_SECONDS),
            )
    except IntegrityError:
        raise TokenRefused(
            "This token was used already: the host portal must sign a new one."
        ) from None
    _purge(now)
    return Started(token=raw, session=session)


def _purge(now) -> None:
    """Forget spent ids past their token's expiry (a replay then fails on ``exp``), and dead
    sessions. Both deletes read an index."""
    skew = timedelta(seconds=settings.WIDGET_CLOCK_SKEW_SECONDS)
    SpentToken.objects.filter(expires_at__lt=now - skew).delete()
    WidgetSession.objects.filter(expires_at__lt=now).delete()


def session_resolve(raw: str) -> WidgetSession | None:
    """The live session a raw token names, with its user; None when it is unknown, expired,
    or its key, user, membership or tenant no longer allow it."""
    if not raw or len(raw) > 100:
        return None
    now = timezone.now()
    # One query: the key's validity is a condition of the join, not columns to load, and the
    # session's tenant is the membership's (checked below), so neither is fetched again.
    session = (
        WidgetSession.objects.select_related("user__membership__tenant__parent")
        .filter(token_hash=_hash(raw), expires_at__gt=now, key__revoked_at__isnull=True)
        .filter(Q(key__retires_at__isnull=True) | Q(key__retires_at__gt=now))
        .first()
    )
    if session is None:
        return None
    membership = access.membership_of(session.user)
    if (
        not session.user.is_active
        or membership is None
        or membership.tenant_id != session.tenant_id
        or not membership.tenant.is_usable()
    ):
        return None
    session.tenant = membership.tenant
    # Sliding expiry, written only when half the period is gone (not on every request).
    period = timedelta(seconds=settings.WIDGET_SESSION_SECONDS)
    if session.expires_at - now < period / 2:
        new_expiry = min(now + period, session.created_at + SESSION_MAX_AGE)
        if new_expiry > session.expires_at:
            WidgetSession.objects.filter(pk=session.pk).update(expires_at=new_expiry)
            session.expires_at = new_expiry
    return session
