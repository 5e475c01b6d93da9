"""Sending webhook deliveries (transport only): signed per the Standard Webhooks scheme, one
attempt at a time per delivery, in order per subscription and case, retried with backoff, never
to a private or loopback address outside development (SSRF).

Signature: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256
of "id.timestamp.body">`` with the subscription's secret (and its previous one during a
rotation), so any Standard Webhooks library verifies it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
TIMEOUT_SECONDS = 10


class UnsafeTarget(ValueError):
    """The URL points at a private, loopback or otherwise non-public address."""


def check_target(url: str) -> None:
    """Refuse URLs that are not http(s) or that resolve to a non-public address (unless
    WEBHOOKS_ALLOW_PRIVATE, for development). Raises UnsafeTarget with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("Use an http:// or https:// URL with a host name.")
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise UnsafeTarget(f"{parts.hostname} does not resolve: {error}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise UnsafeTarget(f"{parts.hostname} points at a non-public address ({address}).")


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead anywhere: not followed
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _earlier_pending(delivery: WebhookDelivery) -> bool:
    return WebhookDelivery.objects.filter(
        subscription_id=delivery.subscription_id,
        case_reference=delivery.case_reference,
        status=DeliveryStatus.PENDING,
        id__lt=delivery.pk,
    ).exists()


def deliver(pk: int) -> bool:
    """Try delivery ``pk`` once if it is due. True if it was delivered by this call."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("subscription")
            .filter(pk=pk, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None or (delivery.case_reference and _earlier_pending(delivery)):
            return False  # done, not due, being sent, or waiting for an earlier event
        subscription = delivery.subscription
        body = json.dumps(
            {**delivery.payload, "timestamp": delivery.created_at.isoformat()},
            separators=(",", ":"),
        )
        stamp = int(now.timestamp())
        signatures = [sign(subscription.secret, delivery.message_id, stamp, body)]
        if subscription.previous_secret:
            signatures.append(sign(subscription.previous_secret, delivery.message_id, stamp, body))
        delivery.attempts += 1
        code, error = None, ""
        try:
            if not subscription.is_active:
                raise UnsafeTarget("The subscription is switched off.")
            check_target(subscription.url)
            request = urllib.request.Request(  # noqa: S310 - scheme checked above
                subscription.url,
                data=body.encode(),
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "helpdesk-webhooks/1",
                    "webhook-id": delivery.message_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": " ".join(signatures),
                },
            )
            with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
                code = response.status
        except urllib.error.HTTPError as failure:
            code, error = failure.code, f"HTTP {failure.code}"
        except (UnsafeTarget, OSError, ValueError) as failure:
            error = f"{type(failure).__name__}: {failure}"
        delivery.last_status_code = code
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.delivered_at, delivery.last_error = (
                DeliveryStatus.DELIVERED,
                timezone.now(),
                "",
            )
        else:
            delivery.last_error = error[:1000] or f"HTTP {code}"
            if (
                delivery.attempts >= MAX_ATTEMPTS
                or isinstance(error, str)
                and "UnsafeTarget" in error
            ):
                delivery.status = DeliveryStatus.FAILED
            else:
                backoff = min(30 * 2 ** (delivery.attempts - 1), 6 * 3600)
                delivery.next_attempt_at = now + timedelta(seconds=backoff)
        delivery.save()
    if delivery.status == DeliveryStatus.DELIVERED:
        _next_in_line(delivery)
        return True
    logger.warning(
        "Webhook %s to %s failed: %s", delivery.pk, subscription.url, delivery.last_error
    )
    return False


def _next_in_line(delivery: WebhookDelivery) -> None:
    """The next pending event of the same case and subscription may go now."""
    following = (
        WebhookDelivery.objects.filter(
            subscription_id=delivery.subscription_id,
            case_reference=delivery.case_reference,
            status=DeliveryStatus.PENDING,
            id__gt=delivery.pk,
        )
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if following is not None:
        deliver(following)


def due_ids(*, now=None, batch: int = 500) -> list[int]:
    """Pending deliveries whose time has come, oldest first, for the drain."""
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(Q(status=DeliveryStatus.PENDING), next_attempt_at__lte=now)
        .order_by("id")
        .values_list("pk", flat=True)[:batch]
    )


def replay(ids: list[int]) -> int:
    """Staff's "send again": back to pending, due now, with a fresh attempt count."""
    return WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
