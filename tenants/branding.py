"""Which brand a person sees (SPEC §8, white label).

- A signed-in member always gets the brand of their tenant's tier one: a sub-customer and a
  reseller's own people get the reseller's brand, on any host; direct customers get the
  provider's. Provider staff get the provider's.
- A visitor who is not signed in (sign-in, password reset, invitation pages) gets the brand
  whose host name the request came to (``BrandDomain``), else the provider's.

Emails use the same answer for their recipient: ``brand_for_user(user)`` or
``brand_for_tenant(case.tenant)``, then ``brand.name``, ``brand.from_email`` (the From header),
``brand.support_email``, ``brand.site_url`` (base of links) and ``brand.logo_url``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.http.request import split_domain_port

from tenants.access import membership_of
from tenants.brand_models import BRAND_ADDRESSES_KEY, BRAND_CACHE_SECONDS, brand_cache_key
from tenants.models import Brand, Tenant, TenantKind


def _fallback(tenant: Tenant | None) -> Brand:
    """An unsaved brand for a tier one that has no row yet (a reseller created without one, or a
    flushed test database): the tenant's own name, never the provider's for a reseller."""
    return Brand(
        tenant=tenant,
        name=tenant.name if tenant is not None else "Support",
        support_email=settings.DEFAULT_FROM_EMAIL,
    )


def _cached(tenant_id: int | None, load: Callable[[], Brand]) -> Brand:
    key = brand_cache_key(tenant_id)
    brand = cache.get(key)
    if brand is None:
        brand = load()
        brand.primary_host  # noqa: B018 - computed before caching, so hits cost no query
        cache.set(key, brand, BRAND_CACHE_SECONDS)
    return brand


def brand_for_support_address(addresses: list[str]) -> Brand | None:
    """The brand whose support address is the first of ``addresses`` (lower case) that is a
    brand's, compared case-insensitively; None when none is. Read from the shared cache like
    every brand (a minute at most, forgotten when a brand is saved or deleted): the email
    intake asks for every message it receives."""
    by_address = cache.get(BRAND_ADDRESSES_KEY)
    if by_address is None:
        by_address = {}
        rows = Brand.objects.order_by("name", "pk").values_list("support_email", "tenant_id")
        for address, tenant_id in rows:
            by_address.setdefault(address.lower(), tenant_id)
        cache.set(BRAND_ADDRESSES_KEY, by_address, BRAND_CACHE_SECONDS)
    for address in addresses:
        tenant_id = by_address.get(address)
        if tenant_id is None:
            continue

        def load(tenant_id: int = tenant_id) -> Brand:
            return Brand.objects.select_related("tenant").get(tenant_id=tenant_id)

        try:
            brand = _cached(tenant_id, load)
        except Brand.DoesNotExist:  # deleted a moment ago
            return None
        return brand if brand.pk is not None else None
    return None


def provider_brand() -> Brand:
    def load() -> Brand:
        brand = (
            Brand.objects.filter(tenant__kind=TenantKind.PROVIDER).select_related("tenant").first()
        )
        if brand is not None:
            return brand
        return _fallback(Tenant.objects.filter(kind=TenantKind.PROVIDER).first())

    return _cached(None, load)


def brand_for_tenant(tenant: Tenant) -> Brand:
    """The brand the people of ``tenant`` see: its tier one's, and a reseller's own (a
    reseller's cases are Phonism's to answer, but its people work under its brand)."""
    branded = tenant if tenant.kind == TenantKind.RESELLER else tenant.tier_one
    if branded.kind != TenantKind.RESELLER:
        return provider_brand()

    def load() -> Brand:
        try:
            return Brand.objects.select_related("tenant").get(tenant=branded)
        except Brand.DoesNotExist:
            return _fallback(branded)

    return _cached(branded.pk, load)


def brand_for_user(user) -> Brand:
    """The brand a person sees wherever they are: their tier one's, provider staff the
    provider's."""
    membership = membership_of(user)
    if membership is None:
        return provider_brand()
    return brand_for_tenant(membership.tenant)


def brand_for_host(host: str) -> Brand:
    """The brand of a host name (port and case ignored), else the provider's. One indexed
    query: the table is tiny, and a per-process cache could not see another process's edits."""
    domain, _port = split_domain_port(host)
    brand = (
        Brand.objects.filter(domains__host=domain.lower().rstrip("."))
        .select_related("tenant")
        .first()
    )
    return brand if brand is not None else provider_brand()


def brand_for_request(request: HttpRequest) -> Brand:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return brand_for_user(user)
    return brand_for_host(request.get_host())
