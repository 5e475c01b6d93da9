"""Staff see widget keys and settings; secrets never appear (they are only ever shown once, to
the tenant admin who made the key). Keys are made by tenant admins on the Widget page."""

from django.contrib import admin

from widget.models import WidgetKey, WidgetSettings


@admin.register(WidgetKey)
class WidgetKeyAdmin(admin.ModelAdmin):
    list_display = ["kid", "tenant", "label", "created_at", "retires_at", "revoked_at"]
    list_filter = ["tenant"]
    search_fields = ["kid", "tenant__name"]
    fields = ["kid", "tenant", "label", "created_at", "created_by", "retires_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WidgetSettings)
class WidgetSettingsAdmin(admin.ModelAdmin):
    list_display = ["tenant", "create_agents", "updated_at"]
    search_fields = ["tenant__name"]
