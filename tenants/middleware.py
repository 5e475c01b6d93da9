import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from tenants.access import membership_of


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
