from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registered in every process: helpdesk.webhooks enqueues them by name.
        from api import tasks  # noqa: F401, PLC0415
