"""Checking a host portal's signed token (SPEC §7): a JWT, HS256 only, the key chosen by
``kid``. Every refusal is a ``TokenRefused`` whose message says what was wrong, for the 4xx the
widget shows; it never carries the token or a secret.

What is checked, in order: the header names HS256 (never ``none``, never another algorithm,
whatever the token says) and a ``kid``; the key exists and is valid (not revoked, not past a
rotation); the signature; ``aud``; ``iat`` not in the future and ``exp`` not past (both with a
small clock skew); a lifetime of at most 10 minutes; ``sub``, ``jti`` present. Whether the
token was used already, and who ``sub`` is, are checked by ``widget.services.session_start``
in the transaction that spends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from cryptography.fernet import InvalidToken
from django.conf import settings

from widget import crypto
from widget.models import WidgetKey

ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 600
REQUIRED_CLAIMS = ["sub", "aud", "iat", "exp", "jti"]


class TokenRefused(Exception):
    """A token that opens nothing; ``str(error)`` is the reason shown to the person."""

    status = 401


@dataclass(frozen=True)
class Claims:
    key: WidgetKey
    email: str
    name: str
    jti: str
    expires_at: datetime
    org: str  # optional tenant slug, for a reseller's key naming a new sub-customer agent


def verify(token: str, *, now: datetime | None = None) -> Claims:
    now = now or datetime.now(tz=UTC)
    if not isinstance(token, str) or not token.strip():
        raise TokenRefused("No token was given: the host portal must sign one.")
    try:
        header = jwt.get_unverified_header(token.strip())
    except jwt.PyJWTError:
        raise TokenRefused("The token is not a well-formed JWT.") from None
    if header.get("alg") != ALGORITHM:
        raise TokenRefused(f"The token must be signed with {ALGORITHM}; it says otherwise.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRefused("The token's header names no key (kid).")
    key = WidgetKey.objects.valid(now).select_related("tenant").filter(kid=kid).first()
    if key is None:
        raise TokenRefused("The token's key is unknown, revoked or retired.")
    try:
        secret = crypto.decrypt(key.secret_encrypted)
    except InvalidToken:
        # The environment's encryption key changed without keeping the old one.
        raise TokenRefused("The token's key cannot be used: ask your administrator.") from None
    try:
        payload = jwt.decode(
            token.strip(),
            secret,
            algorithms=[ALGORITHM],
            audience=settings.WIDGET_AUDIENCE,
            leeway=settings.WIDGET_CLOCK_SKEW_SECONDS,
            options={"require": REQUIRED_CLAIMS, "verify_iat": True},
        )
    except jwt.InvalidSignatureError:
        raise TokenRefused("The token's signature does not match its key.") from None
    except jwt.ExpiredSignatureError:
        raise TokenRefused("The token has expired: the host portal must sign a new one.") from None
    except jwt.ImmatureSignatureError:
        raise TokenRefused("The token is issued in the future: check the host's clock.") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused("The token is meant for another audience (aud).") from None
    except jwt.MissingRequiredClaimError as error:
        raise TokenRefused(f"The token lacks the “{error.claim}” claim.") from None
    except jwt.PyJWTError:
        raise TokenRefused("The token is not valid.") from None
    iat, exp = payload["iat"], payload["exp"]
    if not all(isinstance(v, int | float) for v in (iat, exp)):
        raise TokenRefused("The token's iat and exp must be numbers.")
    if iat > now.timestamp() + settings.WIDGET_CLOCK_SKEW_SECONDS:
        raise TokenRefused("The token is issued in the future: check the host's clock.")
    if exp - iat > MAX_LIFETIME_SECONDS:
        raise TokenRefused("The token lives longer than 10 minutes (exp - iat).")
    sub, jti = payload["sub"], payload["jti"]
    if not isinstance(sub, str) or "@" not in sub or len(sub) > 254:
        raise TokenRefused("The token's subject (sub) must be the user's email address.")
    if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
        raise TokenRefused("The token's id (jti) must be a unique string of 8 to 200 characters.")
    name = payload.get("name", "")
    org = payload.get("org", "")
    return Claims(
        key=key,
        email=sub.strip().lower(),
        name=name.strip()[:150] if isinstance(name, str) else "",
        jti=jti,
        expires_at=datetime.fromtimestamp(exp, tz=UTC),
        org=org if isinstance(org, str) else "",
    )


def sign(key: WidgetKey, *, email: str, name: str = "", lifetime: int = 300, **extra) -> str:
    """A token as a host portal makes it (``manage.py widget_token``, the demo, tests)."""
    now = int(datetime.now(tz=UTC).timestamp())
    claims = {
        "sub": email,
        "name": name,
        "aud": settings.WIDGET_AUDIENCE,
        "iat": now,
        "exp": now + lifetime,
        "jti": crypto.new_secret()[:32],
        **extra,
    }
    return jwt.encode(
        claims, crypto.decrypt(key.secret_encrypted), algorithm=ALGORITHM, headers={"kid": key.kid}
    )
