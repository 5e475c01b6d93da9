"""Views that fail like an outage and like a bug, for tests/helpdesk/test_errors.py."""

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from helpdesk.urls import handler500  # noqa: F401 - the handler
from helpdesk.urls import urlpatterns as site_urls


def database_down(request: HttpRequest) -> HttpResponse:
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def bug(request: HttpRequest) -> HttpResponse:
    raise ValueError("a bug")


urlpatterns = [
    path("boom/db/", database_down),
    path("boom/bug/", bug),
    path("api/v1/boom/db/", database_down),
    path("api/v1/boom/bug/", bug),
    *site_urls,
]
