import zoneinfo
from collections.abc import Callable
from typing import cast

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import SimpleLazyObject

from tenants.access import BrandedRequest, membership_of
from tenants.brand_models import Brand
from tenants.branding import brand_for_request


class TenantTimezoneMiddleware:
    """Shows times in the viewer's tenant time zone; storage stays UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        membership = membership_of(getattr(request, "user", None))
        if membership is not None:
            timezone.activate(zoneinfo.ZoneInfo(membership.tenant.timezone))
        else:
            timezone.deactivate()
        return self.get_response(request)


class BrandMiddleware:
    """Sets ``request.brand`` (see tenants.branding), after AuthenticationMiddleware.

    The brand of a visitor who is not signed in depends on the host name, so every response
    varies on Host: a shared cache must not serve one reseller's sign-in page on another's host.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Lazy: a response that shows no page (a file, a redirect) costs no query.
        lazy = SimpleLazyObject(lambda: brand_for_request(request))
        cast(BrandedRequest, request).brand = cast(Brand, lazy)
        response = self.get_response(request)
        patch_vary_headers(response, ("Host",))
        return response
