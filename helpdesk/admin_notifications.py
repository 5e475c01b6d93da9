"""Outgoing email in the admin: read-only, filterable by status, with "send again" for rows
that failed, and above the list the failures staff must hear of: publishes the broker refused
and notifications the drain could not work out (with "try them again"). Registered by
``HelpdeskConfig.ready`` (kept apart from the case desk's admin)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from helpdesk import notifications, outbox
from helpdesk.models import OutboundEmail
from ops.publish import publish_failures
from sla.admin import ReadOnlyAdmin


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdmin):  # viewing only; the action stays available to viewers
    list_display = ["created_at", "kind", "case_ref", "to", "subject", "status", "attempts"]
    list_filter = ["status", "kind", "audience", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["case"]
    search_fields = ["=case__reference", "=message_id", "subject"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["send_again"]
    fields = readonly_fields = (
        "case_ref",
        "kind",
        "audience",
        "recipients",
        "subject",
        "message_id",
        "auto_submitted",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "queued_at",
        "claimed_at",
        "sent_at",
        "context",
    )

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # Shown above the list: how often handing emails to the broker failed (ops.publish),
        # and the notifications the drain gave up working out (notifications.intents_drain).
        failed = notifications.intents_failed()
        extra_context = {
            **(extra_context or {}),
            "publish_failures": publish_failures(),
            "failed_intents": failed.count(),
            "last_failed_intent": failed.first(),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        retry = path(
            "retry-notifications/",
            self.admin_site.admin_view(self.retry_notifications),
            name="helpdesk_outboundemail_retry_notifications",
        )
        return [retry, *super().get_urls()]

    @method_decorator(require_POST)
    def retry_notifications(self, request: HttpRequest) -> HttpResponse:
        # Like "send again": open to whoever may read the outbox (managers).
        if not self.has_view_permission(request):
            raise PermissionDenied
        count = notifications.intents_retry()
        messages.success(request, f"{count} notification(s) will be worked out again.")
        return redirect("admin:helpdesk_outboundemail_changelist")

    @admin.display(description="case", ordering="case__reference")
    def case_ref(self, row: OutboundEmail) -> str:
        if row.case is None:
            return "—"
        url = reverse("admin:helpdesk_case_change", args=[row.case_id])
        return format_html('<a href="{}">{}</a>', url, row.case.reference)

    @admin.display(description="to")
    def to(self, row: OutboundEmail) -> str:
        return ", ".join(row.recipients)

    @admin.action(description="Send the selected failed emails again")
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutboundEmail]) -> None:
        count = outbox.outbox_retry(ids=list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"{count} failed email(s) queued again.")
