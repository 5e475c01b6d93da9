"""Errors as JSON with a reason: the services' ValidationError and PermissionDenied become
400 and 403 bodies like the framework's own (``{"detail": ...}`` or ``{"field": [...]}``)."""

from __future__ import annotations

from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler


def exception_handler(exc, context):
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            body = {
                ("detail" if field == "__all__" else field): [str(m) for e in errors for m in e]
                for field, errors in exc.error_dict.items()
            }
        else:
            body = {"detail": " ".join(str(m) for m in exc.messages)}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")
    return drf_handler(exc, context)


# What the API says when Django answers before (or instead of) a view of ours: a path that
# matches no route or an id no column can hold (404), a refused parameter (400), a crash or a
# database outage (500, 503). Every answer under /api/ is JSON with a reason, never a page.
API_PREFIX = "/api/"
REASONS = {
    400: "Bad request.",
    404: "Not found: no such endpoint, or no such object.",
    500: "Server error: the request could not be completed.",
    503: "The service is briefly unavailable: try again in a moment.",
}


def json_for_api(page_handler):
    """Wrap a ``handler400/404/500``: API paths get JSON (the page's status and Retry-After
    kept), every other path the page itself."""

    def handler(request, *args, **kwargs):
        if not request.path_info.startswith(API_PREFIX):
            return page_handler(request, *args, **kwargs)
        exception = args[0] if args else kwargs.get("exception")
        if exception is None:  # handler500: the page knows an outage (503) from a crash
            page = page_handler(request)
            code, retry_after = page.status_code, page.get("Retry-After")
        else:
            code, retry_after = (404 if isinstance(exception, Http404) else 400), None
        reason = REASONS.get(code, REASONS[500])
        message = exception.args[0] if exception is not None and exception.args else None
        if isinstance(exception, (Http404, BadRequest)) and isinstance(message, str) and message:
            reason = message
        response = JsonResponse({"detail": reason}, status=code)
        if retry_after:
            response["Retry-After"] = retry_after
        return response

    return handler
