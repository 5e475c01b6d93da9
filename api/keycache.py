"""Live API keys in the shared cache (issue 17): a request whose key was seen in the last minute
costs one cache read, not the query that joins the key, its person, their membership and their
organisation's line of parents.

- On only with a cache every process shares (``API_KEY_CACHE_SECONDS``, on with Redis): with
  per-process memory a revocation in one process would not reach the others.
- An entry is the key as the query returns it, with its person (without the password hash),
  membership and organisation up to the root (whether it is usable depends on every parent).
  Every request still compares the secret and checks the person and organisation on it.
- An entry lives ``API_KEY_CACHE_SECONDS`` (a minute) and is stored when the key is read from
  the database, which is also when ``last_used_at`` is written if it is a minute old: at most
  one read and one write per key and minute, whatever the traffic.
- Whatever changes what an entry holds forgets it at once: a key's, a person's, a membership's
  or an organisation's save or delete (Django's signals), and a queryset's update or bulk
  create of them (``tenants.models.rows_written``: the admin's revoke action is one). An
  organisation's change reaches its people's keys and those of its sub-customers' people.
- Forgetting leaves a marker for as long as an entry lives, written again when the transaction
  commits; entries are only ever added where nothing is (``cache.add``). So a request that read
  a key just before its revocation committed cannot put it back: until the marker expires,
  every request reads the database.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from redis import Redis

from api.models import ApiKey, ApiKeyQuerySet
from tenants.models import Membership, Tenant, User, UserQuerySet, rows_written

FORGOTTEN = "forgotten"


def seconds() -> int:
    """How long an entry lives; 0: no cache (every request reads the database)."""
    return settings.API_KEY_CACHE_SECONDS


def _name(lookup: str) -> str:
    return f"api-key:{lookup}"


def cached(lookup: str) -> ApiKey | str | None:
    """The key's entry: the key, ``FORGOTTEN`` (it changed a moment ago: read the database and
    store nothing) or None (not cached)."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if isinstance(backend, RedisCache):  # what cache.get does, with a client made once
        value = redis(backend).get(backend.make_and_validate_key(_name(lookup)))
        return None if value is None else backend._cache._serializer.loads(value)
    return backend.get(_name(lookup))


def store(key: ApiKey) -> None:
    """Cache a key just read from the database, unless a marker or an entry is there."""
    cache.add(_name(key.lookup), key, seconds())


def forget(lookups: Iterable[str]) -> None:
    markers = dict.fromkeys(map(_name, lookups), FORGOTTEN)
    if not markers:
        return
    cache.set_many(markers, seconds())
    # Again once the change is visible: a request that read the old rows until then cannot add
    # them after the first marker expired.
    transaction.on_commit(lambda: cache.set_many(markers, seconds()), robust=True)


def redis(backend: RedisCache) -> Redis:
    """A client of Django's Redis cache for the API's own commands (the throttle's pipeline),
    made once per cache object: Django makes a new one, at a cost of a fifth of a millisecond,
    for every command. (Its one private call, as in ``helpdesk.ratelimits``.) A cache object
    belongs to one thread, and the client takes its connections from the cache's pool."""
    client = backend.__dict__.get("_api_client")
    if client is None:
        client = backend.__dict__["_api_client"] = backend._cache.get_client(write=True)
    return client


# --- what changes an entry ----------------------------------------------------------------------


def _keys_of_users(user_ids: Iterable[int | None]) -> list[str]:
    ids = {pk for pk in user_ids if pk is not None}
    if not ids:
        return []
    keys = ApiKey.objects.filter(user__in=ids, revoked_at__isnull=True)
    return list(keys.values_list("lookup", flat=True))


def _keys_of_tenants(tenant_ids: Iterable[int]) -> list[str]:
    """The keys of the people of these organisations and of every organisation below them."""
    tree = set(tenant_ids)
    below = set(tree)
    while below:
        below = set(Tenant.objects.filter(parent__in=below).values_list("pk", flat=True)) - tree
        tree |= below
    keys = ApiKey.objects.filter(user__membership__tenant__in=tree, revoked_at__isnull=True)
    return list(keys.values_list("lookup", flat=True))


def _only(update_fields, quiet: frozenset[str]) -> bool:
    return update_fields is not None and set(update_fields) <= quiet


@receiver(post_save, sender=ApiKey)
@receiver(post_delete, sender=ApiKey)
def _key_changed(sender, instance: ApiKey, created: bool = False, update_fields=None, **kw):
    if seconds() and not created and not _only(update_fields, ApiKeyQuerySet.quiet_fields):
        forget([instance.lookup])


@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
def _person_changed(sender, instance: User, created: bool = False, update_fields=None, **kw):
    if seconds() and not created and not _only(update_fields, UserQuerySet.quiet_fields):
        forget(_keys_of_users([instance.pk]))


@receiver(pre_save, sender=Membership)
def _membership_moving(sender, instance: Membership, **kwargs) -> None:
    """A membership given to another person: the one who had it loses it."""
    if seconds() and instance.pk is not None and not instance._state.adding:
        before = Membership.objects.filter(pk=instance.pk).values_list("user_id", flat=True)
        forget(_keys_of_users(before.exclude(user_id=instance.user_id)))


@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def _membership_changed(sender, instance: Membership, **kwargs) -> None:
    if seconds():
        forget(_keys_of_users([instance.user_id]))


@receiver(post_save, sender=Tenant)
@receiver(post_delete, sender=Tenant)
def _tenant_changed(sender, instance: Tenant, created: bool = False, **kwargs) -> None:
    if seconds() and not created:
        forget(_keys_of_tenants([instance.pk]))


@receiver(rows_written)
def _rows_written(sender, pks: list, **kwargs) -> None:
    """A queryset's update (sent before and after it) or bulk create."""
    if not seconds():
        return
    if sender is ApiKey:
        forget(ApiKey.objects.filter(pk__in=pks).values_list("lookup", flat=True))
    elif sender is User:
        forget(_keys_of_users(pks))
    elif sender is Membership:
        forget(
            _keys_of_users(Membership.objects.filter(pk__in=pks).values_list("user_id", flat=True))
        )
    elif sender is Tenant:
        forget(_keys_of_tenants(pks))
