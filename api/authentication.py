"""``Authorization: Bearer phk_<lookup>_<secret>``: the key's person, if the key is live; and the
per-key rate limit."""

from __future__ import annotations

import contextlib
import hmac
import math
from datetime import timedelta

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.utils import timezone
from django.utils.connection import ConnectionProxy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from api import keycache
from api.models import PREFIX, ApiKey, hash_secret
from helpdesk import access

# last_used_at is written at most this often per key: a busy integration must not turn every
# read into a write. (With the cache of live keys it is written when the key is read from the
# database, which is at most once per entry's life, a minute.)
TOUCH_EVERY = timedelta(minutes=1)


def _read(lookup: str) -> ApiKey | None:
    """The usable key with its person, membership and organisation up to the root (the tree is
    three deep at most: whether it is usable asks every parent), in one query; the person's
    password hash stays in the database."""
    keys = (
        ApiKey.objects.usable()
        .select_related("user__membership__tenant__parent__parent")
        .defer("user__password")
    )
    try:
        return keys.get(lookup=lookup)
    except ApiKey.DoesNotExist:
        return None


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
        lookup = lookup[:16]
        entry = keycache.cached(lookup) if keycache.seconds() else None
        key = entry if isinstance(entry, ApiKey) else _read(lookup)
        if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
            raise exceptions.AuthenticationFailed("This API key is unknown or revoked.")
        user = key.user
        membership = access.membership_of(user)
        if not access.is_provider_staff(user) and (
            membership is None or not membership.tenant.is_usable()
        ):
            raise exceptions.AuthenticationFailed("This key's organisation is deactivated.")
        if key is not entry:  # read from the database just now
            now = timezone.now()
            if key.last_used_at is None or now - key.last_used_at > TOUCH_EVERY:
                ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
                key.last_used_at = now
            if entry is None and keycache.seconds():
                keycache.store(key)
        return user, key

    def authenticate_header(self, request) -> str:
        return self.keyword


class PerKeyThrottle(throttling.SimpleRateThrottle):
    """Requests per API key (429 with Retry-After beyond ``API_RATE_LIMIT``), counted in the
    cache: per process on the embedded default, shared by every process on Redis.

    A sliding window, estimated from two fixed ones: this window's count plus the previous
    window's, weighted by the share of it still within the last ``duration``. One round trip
    on Redis (create the counter with its lifetime, count, read the previous one), where the
    framework's own throttle read and wrote back the time of every request in the window. A
    refused request is not counted."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": f"key-{key.pk}"}

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        name = self.get_cache_key(request, view)
        if name is None:
            return True
        window, into = divmod(self.timer(), self.duration)
        current_name, previous_name = f"{name}:{int(window)}", f"{name}:{int(window) - 1}"
        backend = self._backend()
        current, previous = _count(backend, current_name, previous_name, 2 * self.duration)
        if previous * (1 - into / self.duration) + current <= self.num_requests:
            return True
        with contextlib.suppress(ValueError):  # (expired meanwhile: nothing to give back)
            backend.decr(current_name)
        self._wait = self._wait_for(current - 1, previous, into)
        return False

    def _wait_for(self, current: int, previous: int, into: float) -> float:
        """Seconds until one more request fits, if no other comes meanwhile."""
        limit, duration = self.num_requests, self.duration
        room = limit - current - 1
        if room >= 0 and previous > 0:  # within this window, as the previous one fades
            wait = duration * (previous - room) / previous - into
            if wait < duration - into:
                return _seconds(wait)
        # In the next window, as this one fades.
        fade = duration * (current - limit + 1) / current if current > 0 else 0.0
        return _seconds(duration - into + max(0.0, fade))

    def wait(self) -> float:
        return self._wait

    def _backend(self) -> BaseCache:
        cache = self.cache
        return caches[DEFAULT_CACHE_ALIAS] if isinstance(cache, ConnectionProxy) else cache


def _seconds(wait: float) -> float:
    """Whole seconds, at least one (a hair over a whole second from float division is not)."""
    return max(1.0, math.ceil(wait - 1e-6))


def _count(backend: BaseCache, current: str, previous: str, lifetime: int) -> tuple[int, int]:
    """Count a request in ``current`` (which lives ``lifetime`` after its last count); that
    count and ``previous``'s. On Redis in one round trip; on any other cache ``add`` then
    ``incr`` (atomic within the process that holds the counter)."""
    if isinstance(backend, RedisCache):
        # INCR creates the counter, EXPIRE (re)sets its lifetime: whatever happens between
        # the two, no counter is left without one, so no MULTI/EXEC is needed.
        pipe = keycache.redis(backend).pipeline(transaction=False)
        name = backend.make_and_validate_key(current)
        pipe.incr(name)
        pipe.expire(name, lifetime)
        pipe.get(backend.make_and_validate_key(previous))
        count, _, before = pipe.execute()
        return int(count), int(before or 0)
    backend.add(current, 0, lifetime)
    try:
        count = backend.incr(current)
    except ValueError:  # evicted between add and incr
        backend.set(current, 1, lifetime)
        count = 1
    return count, int(backend.get(previous) or 0)


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "phk_<lookup>_<secret>"}
