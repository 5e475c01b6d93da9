"""Sessions with a shared cache (``tenants.sessions``): Django's cached_db sessions, whose read
also brings the per-process memories' stamps, so a signed-in request makes one cache round trip
for both (issue 10)."""

from __future__ import annotations

import pytest
from django.core.cache import DEFAULT_CACHE_ALIAS, cache
from django.urls import reverse

from tenants import memo, sessions
from tenants.memo import StampedMemo
from tenants.sessions import SessionStore
from tests.factories import TenantFactory, member
from tests.tenants.test_memo import CountingCache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _engine(settings) -> None:
    settings.SESSION_ENGINE = "tenants.sessions"


def test_a_session_works_from_the_cache_and_from_the_database(client) -> None:
    ann = member(TenantFactory(name="Acme"))
    client.force_login(ann)
    assert client.get(reverse("case-list")).status_code == 200
    cache.clear()  # the cache restarted: the database still has the session
    assert client.get(reverse("case-list")).status_code == 200
    client.post(reverse("logout"))
    assert client.get(reverse("case-list")).status_code == 302


def test_reading_the_session_brings_the_stamps_in_the_same_round_trip(monkeypatch) -> None:
    session = SessionStore()
    session["answer"] = 42
    session.save()
    remembered = StampedMemo("test-session-stamps")
    remembered.get("k", lambda: 1)
    counting = CountingCache()
    monkeypatch.setattr(memo, "cache", counting)
    monkeypatch.setattr(sessions, "caches", {DEFAULT_CACHE_ALIAS: counting})
    memo._request_started()
    try:
        assert SessionStore(session.session_key)["answer"] == 42
        assert remembered.get("k", lambda: 2) == 1
    finally:
        memo._request_finished()
    assert counting.trips == 1
