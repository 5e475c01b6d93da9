"""Views for tests/helpdesk/test_csp.py: how a page that must be framed says so."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from helpdesk.csp import allow_framing, frame_ancestors
from helpdesk.urls import urlpatterns as site_urls


@frame_ancestors("https://portal.example.com")
def fixed(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<p>framable</p>")


def per_request(request: HttpRequest) -> HttpResponse:
    return allow_framing(HttpResponse("<p>framable</p>"), request.GET.getlist("origin"))


urlpatterns = [
    path("framed/fixed/", fixed),
    path("framed/per-request/", per_request),
    *site_urls,
]
