"""Rate limits on opening cases and uploading files, per person and per tenant (issue 15).

Counters live in Django's cache (the embedded default's local memory, Redis in production:
every web process then shares them). Each limit is a fixed one-hour window whose counter is
created with the window's lifetime and counted atomically, on Redis all of a request's limits
in one round trip. A surface runs the service inside ``charged``: it reserves what the person is
about to do before the service runs and gives it back if the service refused (or failed), so a
form error never uses up someone's allowance and nothing is counted for a case that was not
written. The limits come from the settings (``RATE_*``, see ``.env.example``); 0 turns one off.

Who applies them: the surfaces where a person types, the portal and the widget (the same
limits, one counter: a person's allowance is shared by both). Not the services: the other
callers of ``case_open`` have their own limits (the API per key, ``api.authentication``; the
email intake per sender and hour, ``intake``) or are staff (the admin, seeds), and a limit
inside the service would change what those answer.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpResponse

WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class Limit:
    action: str  # "case" or "upload"
    scope: str  # "person" or "tenant"
    setting: str

    @property
    def allowed(self) -> int:
        return getattr(settings, self.setting)


LIMITS = [
    Limit("case", "person", "RATE_CASES_PER_PERSON_HOUR"),
    Limit("case", "tenant", "RATE_CASES_PER_TENANT_HOUR"),
    Limit("upload", "person", "RATE_UPLOADS_PER_PERSON_HOUR"),
    Limit("upload", "tenant", "RATE_UPLOADS_PER_TENANT_HOUR"),
]
WHAT = {"case": ("case", "cases opened"), "upload": ("file", "files uploaded")}


class RateLimited(Exception):
    """Refused: ``message`` says which limit and when to try again (for a 429 page),
    ``retry_after`` the seconds until the window ends (for its Retry-After header)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def answer(self, response: HttpResponse) -> HttpResponse:
        """``response`` (the form shown again with the message) as a 429 with Retry-After."""
        response.status_code = 429
        response["Retry-After"] = str(self.retry_after)
        return response


@dataclass
class Reservation:
    keys: list[tuple[str, int]]

    def release(self) -> None:
        for key, amount in self.keys:
            # (a window that ended meanwhile has nothing to give back)
            with contextlib.suppress(ValueError):
                cache.decr(key, amount)


def _key(limit: Limit, owner_id: int, window: int) -> str:
    return f"rate:{limit.action}:{limit.scope}:{owner_id}:{window}"


def _count(amounts: list[tuple[str, int]]) -> list[int]:
    """Add each amount to its window's counter and return the new counts. On Redis in one
    round trip (SET NX EX creates the counter with the window's lifetime, INCRBY counts: what
    ``add`` and ``incr`` do, on any Redis version); on any other cache ``add`` then ``incr``,
    atomic there too."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # The one private call: Django's Redis cache has no pipeline of its own.
        # MULTI/EXEC: a counter evicted between the two commands cannot come back without
        # its lifetime.
        pipe = backend._cache.get_client(write=True).pipeline(transaction=True)
        for key, amount in amounts:
            name = backend.make_and_validate_key(key)
            pipe.set(name, 0, ex=WINDOW_SECONDS + 60, nx=True)
            pipe.incrby(name, amount)
        return [int(count) for count in pipe.execute()[1::2]]
    counts = []
    for key, amount in amounts:
        cache.add(key, 0, WINDOW_SECONDS + 60)
        try:
            counts.append(cache.incr(key, amount))
        except ValueError:  # evicted between add and incr: start the window again
            cache.set(key, amount, WINDOW_SECONDS + 60)
            counts.append(amount)
    return counts


def reserve(
    *, user_id: int, tenant_id: int | None, cases: int = 0, uploads: int = 0
) -> Reservation:
    """Count ``cases`` openings and ``uploads`` files for the person and their tenant, or raise
    ``RateLimited`` (counting nothing) when one of the four limits would be passed. Someone
    with no tenant (provider staff) has only the personal limits."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    seconds_left = max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))
    minutes_left = max(1, math.ceil(seconds_left / 60))
    wanted = {"case": cases, "upload": uploads}
    limits, taken = [], []
    for limit in LIMITS:
        amount = wanted[limit.action]
        owner = user_id if limit.scope == "person" else tenant_id
        if amount <= 0 or limit.allowed <= 0 or owner is None:
            continue
        limits.append(limit)
        taken.append((_key(limit, owner, window), amount))
    if not taken:
        return Reservation([])
    for limit, (_, amount), count in zip(limits, taken, _count(taken), strict=True):
        if count > limit.allowed:
            Reservation(taken).release()
            noun, done = WHAT[limit.action]
            who = "You have" if limit.scope == "person" else "Your organisation has"
            raise RateLimited(
                f"{who} reached the limit of {limit.allowed} {done} per hour. "
                f"Try again in {minutes_left} minute{'s' if minutes_left != 1 else ''}"
                + (f", or send fewer {noun}s at once." if amount > 1 else "."),
                retry_after=seconds_left,
            )
    return Reservation(taken)


@contextlib.contextmanager
def charged(
    *, user_id: int, tenant_id: int | None, cases: int = 0, uploads: int = 0
) -> Iterator[Reservation]:
    """Run the block (the service call) on the person's allowance: ``RateLimited`` before it
    runs when a limit would be passed; the allowance given back when the block raises (a
    ``ValidationError`` from the service, a database error), so only what was written counts.
    """
    reservation = reserve(user_id=user_id, tenant_id=tenant_id, cases=cases, uploads=uploads)
    try:
        yield reservation
    except BaseException:
        reservation.release()
        raise
