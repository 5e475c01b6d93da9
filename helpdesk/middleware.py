"""Hardening that applies to every route, so that a route added later is covered without
remembering to (SPEC §10, issue 15):

- ``BoundedPathMiddleware``: an id in the URL that no database column can hold, or a NUL in a
  path segment, is a 404 before any view runs (the database would answer it with an error);
  a NUL in a query or form parameter is a 400.
- ``NoStoreMiddleware``: pages are ``Cache-Control: private, no-store`` unless a view says
  they are public (brand logos), so a signed-in page never lands in a shared or disk cache.
- ``StaffOnlyAdminMiddleware``: the Django admin is the provider's. A signed-in person who is
  not provider staff, or a visitor on a reseller's host name, gets the portal's 404 in their
  brand, never the admin's "Phonism helpdesk" sign-in page.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control

from tenants import access
from tenants.branding import brand_for_host

# The largest value of a signed 64-bit column (BigAutoField, bigint): larger ids overflowed
# SQLite and PostgreSQL drivers into a 500.
MAX_ID = 2**63 - 1


class BoundedPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> None:
        for value in [*args, *kwargs.values()]:
            if isinstance(value, int) and not 0 <= value <= MAX_ID:
                raise Http404("No such page: that number is out of range.")
            if isinstance(value, str) and "\x00" in value:
                raise Http404("No such page.")
        # No text field anywhere may hold a NUL (PostgreSQL refuses it with an error): a
        # parameter carrying one is refused here, for every route, admin filters included.
        for values in (request.GET, request.POST):
            if any("\x00" in "".join([key, *items]) for key, items in values.lists()):
                raise BadRequest("A parameter contains a NUL character.")


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "public" not in response.get("Cache-Control", ""):
            patch_cache_control(response, private=True, no_store=True)
        return response


def _is_admin(request: HttpRequest) -> bool:
    match = request.resolver_match
    return match is not None and "admin" in match.namespaces


# The admin's date hierarchy (``?created_at__year=2026&created_at__month=3``) turns these into a
# date and adds a day, a month or a year: Django catches some bad values but a 25-digit year or
# the year 9999 overflowed into a 500. Same bounds as the portal's date filters.
DATE_PARTS = {"__year": (1900, 2999), "__month": (1, 12), "__day": (1, 31)}


def _check_date_hierarchy(request: HttpRequest) -> None:
    for key, values in request.GET.lists():
        for suffix, (low, high) in DATE_PARTS.items():
            if key.endswith(suffix) and not all(
                v.isascii() and v.isdigit() and len(v) <= 4 and low <= int(v) <= high
                for v in values
            ):
                raise BadRequest(f"“{key[:60]}” must be a number from {low} to {high}.")


class StaffOnlyAdminMiddleware:
    """After authentication and ``BrandMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> None:
        if not _is_admin(request):
            return
        user = request.user
        if user.is_authenticated:
            if not access.is_provider_staff(user):
                raise Http404("No such page.")
            _check_date_hierarchy(request)
            return
        # A visitor: the admin's sign-in names the provider, so it exists only on the
        # provider's own host names, never on a reseller's.
        tenant = brand_for_host(request.get_host()).tenant
        if tenant is not None and not tenant.is_provider:
            raise Http404("No such page.")
