"""``Authorization: Bearer phk_<lookup>_<secret>``: the key's person, if the key is live."""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from api.models import PREFIX, ApiKey, hash_secret
from helpdesk import access

# last_used_at is written at most this often per key: a busy integration must not turn every
# read into a write.
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme != self.keyword or not token.startswith(PREFIX + "_"):
            raise exceptions.AuthenticationFailed(
                "Send the API key as “Authorization: Bearer phk_…”."
            )
        _, lookup, secret = (token.strip().split("_", 2) + ["", ""])[:3]
        key = (
            ApiKey.objects.usable()
            .select_related("user__membership__tenant__parent")
            .filter(lookup=lookup[:16])
            .first()
        )
        if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        user = key.user
        membership = access.membership_of(user)
        if not access.is_provider_staff(user) and (
            membership is None or not membership.tenant.is_usable()
        ):
            raise exceptions.AuthenticationFailed("This key's organisation is deactivated.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return user, key

    def authenticate_header(self, request) -> str:
        return self.keyword


class PerKeyThrottle(throttling.SimpleRateThrottle):
    """Requests per API key (429 with Retry-After beyond ``API_RATE_LIMIT``)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"key-{key.pk}"}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "phk_<lookup>_<secret>"}
