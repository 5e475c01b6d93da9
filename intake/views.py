"""``POST /intake/email``: a raw message (``Content-Type: message/rfc822``) from a provider's
inbound webhook or a relay, guarded by the shared secret ``INTAKE_SECRET`` (sent as
``Authorization: Bearer <secret>``), compared in constant time.

202 once the message is stored (JSON: its id, outcome, reason); 503 when it could not be
stored, so the sender retries; 4xx with a reason for a bad request. Never a 500."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from intake.models import Source
from intake.services import email_ingest

logger = logging.getLogger(__name__)
ACCEPTED_TYPES = {"message/rfc822", "application/octet-stream", "text/plain"}


def _error(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _secret_given(request: HttpRequest) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return request.headers.get("X-Intake-Secret", "")


@csrf_exempt
@require_POST
def inbound_email(request: HttpRequest) -> HttpResponse:
    secret = settings.INTAKE_SECRET
    if not secret:
        return _error(404, "The email endpoint is not enabled (INTAKE_SECRET is not set).")
    if not constant_time_compare(_secret_given(request), secret):
        return _error(403, "Wrong or missing shared secret.")
    length = int(request.headers.get("Content-Length") or 0)
    if length > settings.INTAKE_MAX_BYTES:
        return _error(413, f"The message is larger than {settings.INTAKE_MAX_BYTES} bytes.")
    raw = request.read(settings.INTAKE_MAX_BYTES + 1)
    if len(raw) > settings.INTAKE_MAX_BYTES:
        return _error(413, f"The message is larger than {settings.INTAKE_MAX_BYTES} bytes.")
    if not raw.strip():
        return _error(400, "The request body is empty: send the raw message.")
    if (request.content_type or "").lower() not in ACCEPTED_TYPES:
        return _error(415, "Send the raw message with Content-Type: message/rfc822.")
    recipient = request.GET.get("recipient", "")[:255]
    try:
        row = email_ingest(raw=raw, source=Source.HTTP, recipient=recipient)
    except DatabaseError:
        logger.exception("Inbound email not stored")
        return _error(503, "The message could not be stored; try again later.")
    return JsonResponse({"id": row.pk, "outcome": row.outcome, "reason": row.reason}, status=202)
