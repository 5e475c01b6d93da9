"""API keys (issue 17): created by tenant admins, resellers and staff, each acting as a named
person within that person's reach. The secret is shown once; only its SHA-256 is stored (a key is
160 random bits, so a fast hash is enough: nobody can guess one to brute-force against)."""

from __future__ import annotations

import base64
import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import NoticedQuerySet

PREFIX = "phk"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(NoticedQuerySet):
    # A bulk write (the admin's "revoke" action) reaches the cache of live keys (api.keycache);
    # the time of last use is bookkeeping no cache holds.
    quiet_fields = frozenset({"last_used_at"})

    def usable(self) -> ApiKeyQuerySet:
        return self.filter(revoked_at__isnull=True, user__is_active=True)


class ApiKey(models.Model):
    name = models.CharField(max_length=100, help_text="What the key is for, e.g. “Billing sync”.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_keys",
        help_text="The person the key acts as: it sees and does exactly what they may.",
    )
    lookup = models.CharField(max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({PREFIX}_{self.lookup}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, *, user, name: str, created_by=None) -> tuple[ApiKey, str]:
        """Create a key; returns it and the token, which is never stored and shown once."""
        lookup = secrets.token_hex(8)
        secret = secrets.token_urlsafe(20)
        key = cls.objects.create(
            name=name.strip() or "API key",
            user=user,
            lookup=lookup,
            secret_hash=hash_secret(secret),
            created_by=created_by,
        )
        return key, f"{PREFIX}_{lookup}_{secret}"


# --- webhooks ---------------------------------------------------------------------------------


class WebhookEvent(models.TextChoices):
    OPENED = "case.opened", "Case opened"
    UPDATED = "case.updated", "Reply or note added"
    SEVERITY_CHANGED = "case.severity_changed", "Severity changed"
    STATUS_CHANGED = "case.status_changed", "Status changed"
    ESCALATED = "case.escalated", "Escalated to the provider"
    AT_RISK = "case.at_risk", "Response at risk"
    BREACHED = "case.breached", "Response target breached"
    RESOLVED = "case.resolved", "Case resolved"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookSubscription(models.Model):
    """A URL of a tenant's that receives signed events about the tenant's cases (a reseller's:
    also its customers' cases)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="webhook_subscriptions"
    )
    url = models.URLField(max_length=500)
    events = models.CharField(
        max_length=500,
        blank=True,  # all of them: the admin's form must take it empty
        help_text="Comma-separated event types; empty means all of them.",
    )
    secret = models.CharField(max_length=80, editable=False, default=new_webhook_secret)
    # During a rotation both secrets sign each delivery, so receivers can switch without a gap.
    previous_secret = models.CharField(max_length=80, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["tenant", "url"]

    def __str__(self) -> str:
        return f"{self.url} ({self.tenant})"

    def wants(self, event: str) -> bool:
        chosen = {e.strip() for e in self.events.split(",") if e.strip()}
        return not chosen or event in chosen


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one subscription: written in the transaction of the change, sent by a
    worker, retried with backoff, kept as the delivery log."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    case_reference = models.CharField(max_length=20, blank=True, db_index=True)
    message_id = models.CharField(max_length=40, unique=True, editable=False)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="webhook_pending_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(fields=["subscription", "case_reference", "id"], name="webhook_order"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription.url}"
