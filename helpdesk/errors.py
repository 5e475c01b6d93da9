"""The server-error handler (urls.handler500): a database that is down or restarting is not a
bug but an outage, answered with a clear 503 ("try again in a moment", Retry-After) instead of
a 500. Nothing is half-written: every change is one transaction, so a request that failed on
the database committed nothing (or, if the failure came after its commit, all of it).
"""

from __future__ import annotations

import logging
import sys

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader

logger = logging.getLogger(__name__)

# The database could not be reached or the connection broke (restart, failover, network).
OUTAGES = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if isinstance(error, OUTAGES):
        return database_unavailable(request)
    return HttpResponseServerError(loader.get_template("500.html").render())


def database_unavailable(request: HttpRequest) -> HttpResponse:
    logger.warning("Database unavailable: answered 503 to %s %s", request.method, request.path)
    context = {"brand_name": _brand_name(request)}
    response = HttpResponse(
        loader.get_template("503.html").render(context), status=503, content_type="text/html"
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _brand_name(request: HttpRequest) -> str:
    """The viewer's brand when it can still be had (the brand cache, a session already read);
    else no name at all: never the provider's, which a reseller's customer must not see."""
    try:
        return request.brand.name  # type: ignore[attr-defined]  # set by BrandMiddleware
    except (DatabaseError, AttributeError):
        return ""
    except Exception:  # the cache may be down with the database (Redis); looks are optional
        logger.debug("No brand for the 503 page", exc_info=True)
        return ""
