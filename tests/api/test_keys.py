"""API keys' fixed costs (issue 17's targets) without loosening a rule: live keys come from the
shared cache, and every way of revoking a key or deactivating what it acts for stops it at the
next request; the last use is written at most once a minute; the per-key limit holds on the
embedded default's cache and on Redis, as a sliding window."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api import authentication, keycache
from api.authentication import PerKeyThrottle
from api.models import ApiKey
from helpdesk.models import Case
from tenants import services as tenant_services
from tenants.models import Membership, Role, Tenant, User

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def client_for(user: User) -> tuple[APIClient, ApiKey]:
    key, token = ApiKey.issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client, key


def key_queries(client: APIClient, url: str = CASES) -> tuple[int, int]:
    """The status of a GET and how many of its queries read or wrote API keys."""
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    return status, sum('"api_apikey"' in q["sql"] for q in captured.captured_queries)


@pytest.fixture
def key_cache(settings) -> None:
    """The cache of live keys on, as with Redis (the tests' cache is this process's)."""
    settings.API_KEY_CACHE_SECONDS = 60


def test_a_live_key_is_read_once_then_from_the_cache(demo, key_cache) -> None:
    client, key = client_for(demo["ann"])
    assert key_queries(client) == (200, 2)  # read, and its first use written
    assert key_queries(client) == (200, 0)
    assert key_queries(client, f"{CASES}?severity=4") == (200, 0)
    entry = keycache.cached(key.lookup)
    assert isinstance(entry, ApiKey) and entry.user == demo["ann"]
    assert "password" not in entry.user.__dict__  # no password hash in the shared cache
    assert demo["ann"].password.encode() not in pickle.dumps(entry)


def test_without_a_shared_cache_every_request_reads_the_key(demo, settings) -> None:
    settings.API_KEY_CACHE_SECONDS = 0
    client, key = client_for(demo["ann"])
    assert key_queries(client) == (200, 2)
    assert key_queries(client) == (200, 1)
    assert keycache.cached(key.lookup) is None


def revoke_in_the_portal(demo, key: ApiKey) -> None:
    portal = APIClient()
    portal.force_login(key.user)
    portal.post(reverse("api-key-revoke", args=[key.pk]))


def revoke_with_the_admins_action(demo, key: ApiKey) -> None:
    # What the admin's "Revoke the selected keys" does: a queryset update, no save signal.
    ApiKey.objects.filter(pk__in=[key.pk]).filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def delete_the_key(demo, key: ApiKey) -> None:
    ApiKey.objects.filter(pk=key.pk).delete()


def deactivate_the_person(demo, key: ApiKey) -> None:
    tenant_services.member_set_active(actor=demo["bob"], member=key.user, active=False)


def deactivate_the_person_in_bulk(demo, key: ApiKey) -> None:
    User.objects.filter(pk=key.user.pk).update(is_active=False)


def delete_the_person(demo, key: ApiKey) -> None:
    User.objects.get(pk=key.user.pk).delete()


def deactivate_the_organisation(demo, key: ApiKey) -> None:
    acme = Tenant.objects.get(slug="acme")
    acme.is_active = False
    acme.save(update_fields=["is_active"])


def deactivate_the_organisation_in_bulk(demo, key: ApiKey) -> None:
    Tenant.objects.filter(slug="acme").update(is_active=False)


def end_the_membership(demo, key: ApiKey) -> None:
    Membership.objects.filter(user=key.user).delete()


@pytest.mark.parametrize(
    "change",
    [
        revoke_in_the_portal,
        revoke_with_the_admins_action,
        delete_the_key,
        deactivate_the_person,
        deactivate_the_person_in_bulk,
        delete_the_person,
        deactivate_the_organisation,
        deactivate_the_organisation_in_bulk,
        end_the_membership,
    ],
)
def test_a_cached_key_stops_at_the_next_request(demo, key_cache, change) -> None:
    zed = User.objects.create_user("zed@acme.test", "x")  # a person with nothing else to keep
    role = Role.ADMIN if change is revoke_in_the_portal else Role.AGENT
    Membership.objects.create(user=zed, tenant=Tenant.objects.get(slug="acme"), role=role)
    client, key = client_for(zed)
    assert client.get(CASES).status_code == 200
    assert isinstance(keycache.cached(key.lookup), ApiKey)
    change(demo, key)
    answer = client.get(CASES)
    assert answer.status_code == 401, change.__name__
    assert client.get(CASES).status_code == 401  # and it stays out of the cache


def test_a_resellers_deactivation_stops_its_customers_keys(demo, key_cache) -> None:
    ivan, _ = client_for(demo["ivan"])  # Initech, a customer of VoiceHub
    rita, _ = client_for(demo["rita"])
    assert ivan.get(CASES).status_code == 200 and rita.get(CASES).status_code == 200
    Tenant.objects.filter(slug="voicehub").update(is_active=False)
    assert ivan.get(CASES).status_code == 401
    assert rita.get(CASES).status_code == 401
    Tenant.objects.filter(slug="voicehub").update(is_active=True)
    assert ivan.get(CASES).status_code == 200


def test_a_customer_deactivated_by_its_reseller_is_stopped(demo, key_cache) -> None:
    ivan, _ = client_for(demo["ivan"])
    assert ivan.get(CASES).status_code == 200
    initech = Tenant.objects.get(slug="initech")
    tenant_services.subcustomer_set_active(actor=demo["rita"], subcustomer=initech, active=False)
    assert ivan.get(CASES).status_code == 401


def test_a_role_change_is_seen_at_the_next_request(demo, key_cache) -> None:
    """What a key may do follows its person's membership as it is now."""
    rita, _ = client_for(demo["rita"])
    assert rita.get("/api/v1/customers/").status_code == 200
    # Another admin of VoiceHub makes Rita an agent.
    other = User.objects.create_user("vera@voicehub.test", "x")
    Membership.objects.create(user=other, tenant=Tenant.objects.get(slug="voicehub"), role="admin")
    tenant_services.member_set_role(actor=other, member=demo["rita"], role=Role.AGENT)
    assert rita.get("/api/v1/customers/").status_code == 404
    Membership.objects.filter(user=demo["rita"]).update(role=Role.ADMIN)
    assert rita.get("/api/v1/customers/").status_code == 200


def test_a_membership_moved_to_another_person_reaches_both(demo, key_cache) -> None:
    ann, _ = client_for(demo["ann"])
    uma, _ = client_for(demo["uma"])
    assert ann.get(CASES).status_code == 200 and uma.get(CASES).status_code == 200
    Membership.objects.filter(user=demo["uma"]).delete()
    Membership.objects.filter(user=demo["ann"]).update(user=demo["uma"])
    assert ann.get(CASES).status_code == 401  # no membership left
    acme_cases = {c["tenant"] for c in uma.get(CASES).json()["results"]}
    assert acme_cases == {"acme"}  # Uma now acts for Acme


def test_a_request_that_read_a_key_before_its_revocation_cannot_cache_it(demo, key_cache) -> None:
    """The race: a request reads the key, the revocation commits and forgets it, then the
    request stores what it read. The marker the revocation left refuses the store."""
    client, key = client_for(demo["ann"])
    stale = authentication._read(key.lookup)
    assert stale is not None
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    keycache.store(stale)
    assert keycache.cached(key.lookup) == keycache.FORGOTTEN
    assert client.get(CASES).status_code == 401


def test_the_last_use_is_written_at_most_once_a_minute(demo, key_cache, monkeypatch) -> None:
    client, key = client_for(demo["ann"])
    now = timezone.now()
    monkeypatch.setattr(authentication.timezone, "now", lambda: now)
    for _ in range(5):
        assert client.get(CASES).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at == now
    later = now + timedelta(minutes=3)
    monkeypatch.setattr(authentication.timezone, "now", lambda: later)
    cache.delete(f"api-key:{key.lookup}")  # the entry's minute is over
    with CaptureQueriesContext(connection) as captured:
        for _ in range(5):
            assert client.get(CASES).status_code == 200
    writes = [q for q in captured.captured_queries if q["sql"].startswith('UPDATE "api_apikey"')]
    assert len(writes) == 1
    key.refresh_from_db()
    assert key.last_used_at == later


# --- the per-key rate limit -------------------------------------------------------------------


def _backends() -> list:
    backends = [pytest.param(lambda: LocMemCache("api-throttle-test", {}), id="per-process")]
    if django_settings.REDIS_URL:
        backends.append(pytest.param(lambda: RedisCache(django_settings.REDIS_URL, {}), id="redis"))
    return backends


@pytest.mark.parametrize("make_backend", _backends())
def test_the_limit_is_a_sliding_minute_on_either_cache(demo, monkeypatch, make_backend) -> None:
    backend = make_backend()
    backend.clear()
    clock = [600_000.0 * 60 + 10]  # ten seconds into a minute
    monkeypatch.setattr(PerKeyThrottle, "cache", backend)
    monkeypatch.setattr(PerKeyThrottle, "timer", staticmethod(lambda: clock[0]))
    monkeypatch.setattr(PerKeyThrottle, "THROTTLE_RATES", {"api_key": "3/minute"})
    client, _ = client_for(demo["ann"])
    codes = [client.get(CASES).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    # The minute's three requests still count at the start of the next one: no double burst
    # at the boundary. They fade out with it: one request fits again 20 s into it.
    assert int(client.get(CASES)["Retry-After"]) == 50 + 20
    clock[0] += 55  # 5 s into the next minute
    limited = client.get(CASES)
    assert limited.status_code == 429 and int(limited["Retry-After"]) == 15
    clock[0] += 16
    assert client.get(CASES).status_code == 200
    assert client.get(CASES).status_code == 429
    other, _ = client_for(demo["bob"])  # another key has its own budget
    assert other.get(CASES).status_code == 200
    backend.clear()


def test_reads_cost_the_same_few_queries_whatever_their_size(demo, key_cache) -> None:
    """A page is one query however many cases it holds (the summary reads only the columns it
    selected: no query per case), a case four (itself, its clocks, its thread, the thread's
    attachments), once the key is in the cache."""
    rita, _ = client_for(demo["rita"])  # VoiceHub's cases and its customers'
    rita.get(CASES)
    for size in (2, 100):
        with CaptureQueriesContext(connection) as captured:
            page = rita.get(CASES, {"page_size": size}).json()["results"]
        assert len(page) >= 2 and len(captured) == 1
    with CaptureQueriesContext(connection) as captured:
        assert rita.get(CASES, {"severity": [3, 4, 5], "status": "new"}).status_code == 200
    assert len(captured) == 1
    threaded = max(page, key=lambda c: Case.objects.get(reference=c["reference"]).updates.count())
    with CaptureQueriesContext(connection) as captured:
        body = rita.get(threaded["url"]).json()
    assert body["updates"] and body["clocks"] and len(captured) == 4
