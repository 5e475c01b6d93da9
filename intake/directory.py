"""Who sent a message and which brand it was sent to, remembered between messages.

Every message needs its sender (the user with their membership, tenant and the tenant's two
parents: one query over five tables, about 1.6 ms of CPU) and the brand of the address it was
sent to (two reads of the shared cache), and our Message-ID domains. They change rarely, so
each process remembers the answers, keyed by address, while the shared *directory version*
stays the same:

- Every save or delete of a user, membership, tenant or brand (model signals) writes a new
  version to the shared cache, at once and again when its transaction commits (so a process
  that read the old rows in between cannot keep them). With the shared cache in Redis every
  process sees the change at its next message.
- Whatever the version says, an answer is used for ``DIRECTORY_SECONDS`` after it was read: a
  change no signal announces (a bulk insert, a script) and a deployment without a shared
  cache (the per-process cache of development and tests) are seen within that time, as for
  the brands' own cache.
- What is remembered is the rows (pickled), never the model instances a message used: each
  message gets objects of its own, so nothing one message caches on them (a tenant's
  calendar, say) reaches the next.
- At most ``MAX_ENTRIES`` answers; the memory is emptied when full (flat memory).
- The version is read once per message (``Directory()``): one read of the shared cache in
  place of the sender's query and the brand's two reads.

A user's sign-in (``last_login`` only) changes nothing here and writes no new version.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from helpdesk.outbox import mail_domain
from tenants.branding import brand_for_support_address
from tenants.models import Brand, Membership, Tenant, User, rows_written

logger = logging.getLogger(__name__)

VERSION_KEY = "intake:directory-version"
DIRECTORY_SECONDS = 60.0
MAX_ENTRIES = 5000


class _Memory:
    """The answers remembered under one directory version: {key: (until, pickled or None)}."""

    def __init__(self, version: str | None) -> None:
        self.version = version
        self.entries: dict[tuple, tuple[float, bytes | None]] = {}


_lock = threading.Lock()
_memory = _Memory(None)


def _current() -> _Memory:
    """The memory for the version the shared cache holds now (an empty one after a change)."""
    global _memory
    try:
        version = cache.get(VERSION_KEY)
        if version is None:  # never written, evicted, or the cache was cleared
            cache.add(VERSION_KEY, uuid.uuid4().hex, None)
            version = cache.get(VERSION_KEY)
    except Exception:  # noqa: BLE001 - the cache is down: nothing can be trusted to be current
        logger.warning("Intake directory: the shared cache cannot be read", exc_info=True)
        return _Memory(None)
    if version is None:
        return _Memory(None)
    memory = _memory
    if memory.version != version:
        with _lock:
            memory = _memory = _Memory(version)
    return memory


def forget() -> None:
    """Write a new directory version: every process reads afresh at its next message."""
    global _memory
    with _lock:
        _memory = _Memory(None)
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    except Exception:  # noqa: BLE001 - never fail the save; answers expire in a minute anyway
        logger.warning("Intake directory: the shared cache cannot be written", exc_info=True)


def _changed(sender, instance=None, update_fields=None, using=None, **kwargs) -> None:
    if sender is User and update_fields is not None and set(update_fields) == {"last_login"}:
        return  # a sign-in
    forget()
    connection = transaction.get_connection(using)
    # Again once it commits (once per transaction, however many rows it saves): a process
    # that read the old rows between this version and the commit must not keep them.
    if connection.in_atomic_block and not any(
        entry[1] is forget for entry in connection.run_on_commit
    ):
        transaction.on_commit(forget, using=using, robust=True)


for _model in (User, Membership, Tenant, Brand):
    post_save.connect(_changed, sender=_model, dispatch_uid=f"intake-directory-save-{_model}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"intake-directory-del-{_model}")
# A queryset's update() (the admin's bulk deactivation, say) sends no save signal: the people's
# querysets send ``rows_written`` instead, so a sender deactivated in bulk is refused at once.
for _model in (User, Membership, Tenant):
    rows_written.connect(_changed, sender=_model, dispatch_uid=f"intake-directory-bulk-{_model}")


# --- the answers ------------------------------------------------------------------------------


class Directory:
    """The answers for one message: the shared version is read once, when it is made."""

    def __init__(self) -> None:
        self._memory = _current()

    def _remembered(self, key: tuple, load: Callable[[], Any]) -> Any:
        entries = self._memory.entries
        now = time.monotonic()
        entry = entries.get(key)
        if entry is None or entry[0] <= now:
            value = load()
            if self._memory.version is not None:
                if len(entries) >= MAX_ENTRIES:
                    entries.clear()
                blob = None if value is None else pickle.dumps(value, protocol=-1)
                entries[key] = (now + DIRECTORY_SECONDS, blob)
            return value
        blob = entry[1]
        return None if blob is None else pickle.loads(blob)  # noqa: S301 - our own bytes

    def sender(self, address: str) -> User | None:
        """The user whose email address is ``address`` (lower case), with their membership,
        its tenant and the tenant's parents; None for a stranger."""
        if not address:
            return None
        return self._remembered(("sender", address), lambda: sender_query(address))

    def brand(self, addresses: list[str]) -> Brand | None:
        """The brand whose support address is the first of ``addresses`` (lower case) that is
        one (``tenants.branding.brand_for_support_address``), with its tenant."""
        for address in addresses:
            found = self._remembered(
                ("brand", address), lambda a=address: brand_for_support_address([a])
            )
            if found is not None:
                return found
        return None

    def our_message_id_domains(self) -> frozenset[str]:
        """The domains of the Message-IDs we give our emails (lower case): each brand's (its
        support address's domain) and the default sender's (``helpdesk.outbox``)."""

        def load() -> frozenset[str]:
            default = settings.DEFAULT_FROM_EMAIL
            rows = Brand.objects.values_list("support_email", flat=True)
            domains = {mail_domain(default), *(mail_domain(a or default) for a in rows)}
            return frozenset(d.lower() for d in domains)

        return self._remembered(("domains",), load)


def sender_query(address: str) -> User | None:
    """The user of ``address`` read from the database, with what ``Directory.sender`` has."""
    people = User.objects.select_related("membership__tenant__parent__parent")
    # Addresses are stored lower case (User.save): the unique index finds them (get(): no
    # ordering to build for a unique match); the case-insensitive scan is only for rows
    # written around save().
    try:
        return people.get(email=address.lower())
    except User.DoesNotExist:
        return people.filter(email__iexact=address).first()
