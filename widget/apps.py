from django.apps import AppConfig


class WidgetConfig(AppConfig):
    name = "widget"
    verbose_name = "Widget"
    default_auto_field = "django.db.models.BigAutoField"
