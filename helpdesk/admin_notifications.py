"""Outgoing email in the admin: read-only, filterable by status, with "send again" for rows
that failed. Registered by ``HelpdeskConfig.ready`` (kept apart from the case desk's admin)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from helpdesk import outbox
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
        # Shown above the list: how often handing emails to the broker failed (ops.publish).
        extra_context = {**(extra_context or {}), "publish_failures": publish_failures()}
        return super().changelist_view(request, extra_context)

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
