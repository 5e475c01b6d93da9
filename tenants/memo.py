"""Per-process memory of data that every request or case opening reads and that changes
rarely, so those paths do not query it each time (issue 10): the signed-in person with their
membership and tenant (``tenants.models.PEOPLE``), the SLA targets (``sla.models.SLA_TARGETS``)
and the tenants' webhook subscriptions (``helpdesk.webhooks.SUBSCRIPTIONS``).

Correct across processes: each memo has a stamp in the shared cache (Redis in production). A
write calls ``forget()`` (from model signals and query-set methods, see the callers), which
empties this process's memo and puts a new random stamp in the cache at once, and again when
the write's transaction commits: a process that read the old rows between the two keeps them
only under the first new stamp, which the second makes stale. Every read compares the memo's
stamp with the shared one: one cache round trip, no query.

Inside the writer's own open transaction the memo is not used (read from the database, not
kept) until the transaction ends, committed or rolled back, so rows that were rolled back are
never remembered.

On a cache that is not shared (local memory: development without Redis, each process its
own), another process notices a write only when its memo expires: after ``max_age`` seconds,
as for brands (``tenants.branding``). The same bound covers a write that bypasses the ORM (raw
SQL, a data migration).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection, transaction

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_local = threading.local()
# Every memo's stamp key: a request reads them all in one round trip (``_request_stamps``).
_STAMP_KEYS: set[str] = set()


def _request_started(**kwargs: Any) -> None:
    """In a web request, the stamps are read once, all together, at the first memo read."""
    _local.stamps = {}


def _request_finished(**kwargs: Any) -> None:
    _local.stamps = None


request_started.connect(_request_started, dispatch_uid="memo_request_started")
request_finished.connect(_request_finished, dispatch_uid="memo_request_finished")


def _open_writes() -> dict[str, list[Callable[[], None]]]:
    """This thread's memos written in its open transaction: name → their commit callbacks."""
    writes = getattr(_local, "writes", None)
    if writes is None:
        writes = _local.writes = {}
    return writes


def get_with_stamps(key: str) -> Any:
    """``cache.get(key)``; in a web request whose stamps are not read yet, every memo's stamp
    comes in the same round trip. The session engine reads the session this way
    (``tenants.sessions``): a signed-in request's first cache read."""
    stamps = getattr(_local, "stamps", None)
    if stamps is None:
        return cache.get(key)
    wanted = sorted(_STAMP_KEYS - stamps.keys())
    found = cache.get_many([key, *wanted])
    stamps.update({stamp_key: found.get(stamp_key) for stamp_key in wanted})
    return found.get(key)


class StampedMemo:
    def __init__(self, name: str, *, max_age: float = 60.0, max_entries: int = 4096) -> None:
        self.name = name
        self.key = f"memo-stamp:{name}"
        _STAMP_KEYS.add(self.key)
        self.max_age = max_age
        self.max_entries = max_entries
        self._stamp: str | None = None
        self._loaded_at = 0.0
        self._values: dict[Any, Any] = {}

    def get(self, key: K, load: Callable[[], V]) -> V:
        """The value of ``key``: remembered, or ``load()``-ed and remembered."""
        return self.get_many([key], lambda keys: {key: load()})[key]

    def get_many(self, keys: Iterable[K], load: Callable[[list[K]], dict[K, V]]) -> dict[K, V]:
        """The values of ``keys`` (one stamp check for all): those not remembered are loaded
        by one ``load(missing keys)``, which returns a value for each."""
        wanted = list(keys)
        if self._written_in_open_transaction():
            return load(wanted)
        stamp = self._shared_stamp()
        now = time.monotonic()
        if stamp != self._stamp or now - self._loaded_at > self.max_age:
            self._values, self._stamp, self._loaded_at = {}, stamp, now
        # The dictionary of the stamp just checked: a value loaded while another thread moves
        # on to a newer stamp lands in the old dictionary, never under the newer stamp.
        values = self._values
        found: dict[K, V] = {key: values[key] for key in wanted if key in values}
        missing = [key for key in wanted if key not in found]
        if missing:
            loaded = load(missing)
            if len(values) + len(loaded) > self.max_entries:
                values.clear()
            values.update(loaded)
            found.update(loaded)
        return found

    def forget(self) -> None:
        """The data changed (or is about to, in the current transaction): every process reads
        it again."""
        self._renew()
        if connection.in_atomic_block:

            def committed() -> None:
                self._renew()

            transaction.on_commit(committed)
            _open_writes().setdefault(self.name, []).append(committed)

    def _renew(self) -> None:
        self._values, self._stamp = {}, None
        stamp = uuid.uuid4().hex
        cache.set(self.key, stamp, None)
        stamps = getattr(_local, "stamps", None)
        if stamps is not None:  # the rest of this request sees its own change
            stamps[self.key] = stamp

    def _written_in_open_transaction(self) -> bool:
        """Whether this thread's open transaction wrote the data: a commit callback of a write
        is still waiting (Django drops them at a rollback, runs them at the commit)."""
        writes = _open_writes()
        callbacks = writes.get(self.name)
        if not callbacks:
            return False
        if connection.in_atomic_block and any(
            entry[1] is callback for entry in connection.run_on_commit for callback in callbacks
        ):
            return True
        del writes[self.name]  # that transaction has ended, committed or rolled back
        self._values, self._stamp = {}, None
        return False

    def _shared_stamp(self) -> str:
        stamps = getattr(_local, "stamps", None)
        if stamps is None:  # outside a web request (a worker, a command): this one alone
            stamp = cache.get(self.key)
        else:
            if self.key not in stamps:
                # The first memo read of the request reads every memo's stamp (one round trip
                # instead of one per memo): as if the request had read them all as it began.
                wanted = sorted((_STAMP_KEYS - stamps.keys()) | {self.key})
                found = cache.get_many(wanted)
                stamps.update({key: found.get(key) for key in wanted})
            stamp = stamps[self.key]
        if stamp is None:  # never set, or evicted: any new value differs from every old one
            cache.add(self.key, uuid.uuid4().hex, None)
            stamp = cache.get(self.key)
            if stamps is not None:
                stamps[self.key] = stamp
        return stamp
