"""Django's ``cached_db`` sessions (the cache in front, the database behind), whose read also
fetches the per-process memories' stamps (``tenants.memo``) in the same round trip: a
signed-in request then makes one cache round trip before its view instead of two."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDbSessionStore
from django.core.cache import DEFAULT_CACHE_ALIAS, caches

from tenants import memo


class SessionStore(CachedDbSessionStore):
    def load(self) -> dict[str, Any]:
        # Django's own load, with memo.get_with_stamps for its cache read.
        cache = caches[settings.SESSION_CACHE_ALIAS]
        try:
            if settings.SESSION_CACHE_ALIAS == DEFAULT_CACHE_ALIAS:
                data = memo.get_with_stamps(self.cache_key)
            else:
                data = cache.get(self.cache_key)
        except Exception:
            # Some backends raise on invalid cache keys: the session is then reset (Django's
            # own handling, #17810).
            data = None
        if data is None:
            row = self._get_session_from_db()  # type: ignore[attr-defined]  # Django's (no stub)
            if row:
                data = self.decode(row.session_data)
                cache.set(self.cache_key, data, self.get_expiry_age(expiry=row.expire_date))
            else:
                data = {}
        return data
