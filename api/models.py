"""API keys (issue 17): created by tenant admins, resellers and staff, each acting as a named
person within that person's reach. The secret is shown once; only its SHA-256 is stored (a key is
160 random bits, so a fast hash is enough: nobody can guess one to brute-force against)."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX = "phk"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
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
