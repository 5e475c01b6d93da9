"""What the running system tells staff about itself (kept apart from the case data)."""

from __future__ import annotations

from django.db import models


class PublishFailures(models.Model):
    """How often handing work to the Celery broker failed, one row per kind of work (``key``).

    In the database rather than the cache: the cache is the same Redis as the broker, so it is
    down exactly when this must be counted, and web processes, workers and beat all write it.
    """

    key = models.CharField(max_length=50, unique=True)
    count = models.PositiveBigIntegerField("failed publishes", default=0)
    items = models.PositiveBigIntegerField("items not handed over", default=0)
    first_at = models.DateTimeField("first failure")
    last_at = models.DateTimeField("last failure")
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = "publish failures"
        verbose_name_plural = "publish failures"

    def __str__(self) -> str:
        return f"{self.key}: {self.count} failed publish(es)"
