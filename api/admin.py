"""API keys in the admin: staff create keys for any person (the secret is shown once, in the
confirmation message), see when each was last used, and revoke them."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from api import webhook_sender
from api.models import ApiKey, WebhookDelivery, WebhookSubscription
from api.tasks import deliver_webhook
from api.webhook_sender import UnsafeTarget, check_target


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "lookup", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__email", "=lookup"]
    list_select_related = ["user"]
    fields = ["name", "user", "lookup", "created_by", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["lookup", "created_by", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return [*self.readonly_fields, "user"] if obj else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        key, token = ApiKey.issue(user=obj.user, name=obj.name, created_by=request.user)
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(
            request, f"Copy the key now, it is not shown again: {token}", extra_tags="api-key"
        )

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoke instead: the key's history (last use) stays

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{count} key(s) revoked.")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "tenant", "events", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
    readonly_fields = ["created_by", "created_at"]
    fields = ["tenant", "url", "events", "is_active", "created_by", "created_at"]
    # An address typed without its scheme is taken as https (Django 6's default; 5.2 assumed
    # http and warned).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form, change) -> None:
        try:
            check_target(obj.url)
        except UnsafeTarget as refused:
            messages.error(request, f"Not saved: {refused}")
            return
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The delivery log; "send again" replays a delivery (same id: receivers can de-duplicate)."""

    list_display = [
        "created_at",
        "event",
        "case_reference",
        "subscription",
        "status",
        "attempts",
        "last_status_code",
        "delivered_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["=case_reference", "=message_id", "subscription__url"]
    list_select_related = ["subscription__tenant"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Send the selected deliveries again")
    def send_again(self, request: HttpRequest, queryset) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = webhook_sender.replay(ids)
        for pk in ids:
            deliver_webhook.delay(pk)
        self.message_user(request, f"{count} delivery(ies) queued again.")
