"""Errors as JSON with a reason: the services' ValidationError and PermissionDenied become
400 and 403 bodies like the framework's own (``{"detail": ...}`` or ``{"field": [...]}``)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
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
