"""Sending webhook deliveries (transport only): signed per the Standard Webhooks scheme, one
attempt at a time per delivery, in order per subscription and case, retried with backoff, never
to a private or loopback address outside development (SSRF).

Signature: ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256
of "id.timestamp.body">`` with the subscription's secret (and its previous one during a
rotation), so any Standard Webhooks library verifies it.

DNS rebinding: the target's name is resolved once per attempt, every address checked, and the
connection made to exactly the checked address (the name kept for the Host header, and for SNI
and the certificate check over https), so a name that answers a public address to the check and
a private one to the connection reaches nothing private.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
from dataclasses import dataclass
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


class Unresolved(UnsafeTarget):
    """The host name does not resolve (now: at sending it may again later)."""


@dataclass(frozen=True)
class Target:
    """A webhook URL resolved once: the address that was checked is the one connected to."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def resolve_target(url: str) -> Target:
    """Resolve the URL's host once and refuse it unless it is http(s) and every address it
    resolves to is public (any address, unless WEBHOOKS_ALLOW_PRIVATE, for development).
    Raises UnsafeTarget (Unresolved if the name does not resolve) with the reason."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeTarget("Use an http:// or https:// URL with a host name.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as error:
        raise Unresolved(f"{parts.hostname} does not resolve: {error}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise Unresolved(f"{parts.hostname} does not resolve.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE:
        for address in addresses:
            if not address.is_global:
                raise UnsafeTarget(f"{parts.hostname} points at a non-public address ({address}).")
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        address=str(addresses[0]),
        path=f"{path}?{parts.query}" if parts.query else path,
    )


def check_target(url: str) -> None:
    """``resolve_target`` for a subscription's URL when it is written (UnsafeTarget if not)."""
    resolve_target(url)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked address, never a second lookup of the name (DNS rebinding): the
    Host header still carries the name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the name for SNI and the certificate check."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=tls_context())
        self.address = target.address

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


def tls_context() -> ssl.SSLContext:
    """The system's trusted authorities, certificates checked against the URL's host name."""
    return ssl.create_default_context()


def post(target: Target, body: bytes, headers: dict[str, str]) -> int:
    """POST once to the pinned address; the status code (redirects are not followed: one
    could lead anywhere)."""
    pinned = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = pinned(target, TIMEOUT_SECONDS)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


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
        code, error, permanent = None, "", False
        try:
            if not subscription.is_active:
                raise UnsafeTarget("The subscription is switched off.")
            target = resolve_target(subscription.url)
            code = post(
                target,
                body.encode(),
                {
                    "Content-Type": "application/json",
                    "User-Agent": "helpdesk-webhooks/1",
                    "webhook-id": delivery.message_id,
                    "webhook-timestamp": str(stamp),
                    "webhook-signature": " ".join(signatures),
                },
            )
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except UnsafeTarget as refused:
            error = f"{type(refused).__name__}: {refused}"
            permanent = not isinstance(refused, Unresolved)
        except (OSError, ValueError, http.client.HTTPException) as failure:
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
            if delivery.attempts >= MAX_ATTEMPTS or permanent:
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
