"""The widget's data (SPEC §7, issue 13): signing keys, per-tenant settings, spent token ids and
the opaque sessions a token is exchanged for.

- A ``WidgetKey`` belongs to the tenant whose host portal signs with it. A customer's key is
  trusted for that customer's agents only; a reseller's key for the reseller's own people and
  its sub-customers' (the reseller's rebranded portal hosts them all). The secret is stored
  encrypted (``widget.crypto``): a database leak alone does not give a usable key.
- ``WidgetSettings``: the origins allowed to frame the widget (data, edited by tenant admins)
  and the just-in-time creation of agents, off by default.
- ``SpentToken``: each token id (``jti``) used, kept until the token's expiry so a replay is
  refused; a unique constraint, not luck, makes two concurrent uses of one token fail.
- ``WidgetSession``: what the iframe carries in its URL path instead of a cookie. Only a hash
  of it is stored.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class WidgetKeyQuerySet(models.QuerySet):
    def valid(self, now=None) -> WidgetKeyQuerySet:
        """Keys a token may name now: not revoked, and not past the end of a rotation."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(retires_at__isnull=True) | Q(retires_at__gt=now)
        )


class WidgetKey(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="widget_keys"
    )
    kid = models.CharField("key id", max_length=40, unique=True)
    label = models.CharField(max_length=100, blank=True)
    secret_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a newer key replaces this one: both are valid until then (a rotation).
    retires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = WidgetKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kid} ({self.tenant})"

    def __repr__(self) -> str:  # never the secret, even encrypted
        return f"<WidgetKey {self.kid}>"

    def is_valid(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.retires_at is None or self.retires_at > now)


class WidgetSettings(models.Model):
    tenant = models.OneToOneField(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="widget_settings"
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text="The host portal's origins that may show the widget, one per line "
        "(scheme, host and port, e.g. https://portal.example.com).",
    )
    create_agents = models.BooleanField(
        "create agents on first use",
        default=False,
        help_text="A signed user who is not yet an agent becomes one on first use. Off: only "
        "existing, active agents get in.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "widget settings"

    def __str__(self) -> str:
        return f"Widget settings of {self.tenant}"

    @property
    def origins(self) -> list[str]:
        return [line.strip() for line in self.allowed_origins.splitlines() if line.strip()]


class SpentToken(models.Model):
    key = models.ForeignKey(WidgetKey, on_delete=models.CASCADE, related_name="+")
    jti = models.CharField(max_length=200)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "jti"], name="widget_jti_once")]

    def __str__(self) -> str:
        return f"{self.jti} (until {self.expires_at:%Y-%m-%d %H:%M})"


class WidgetSession(models.Model):
    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="widget_sessions"
    )
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    key = models.ForeignKey(WidgetKey, on_delete=models.CASCADE, related_name="sessions")
    host_origin = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"Widget session of {self.user} until {self.expires_at:%Y-%m-%d %H:%M}"
