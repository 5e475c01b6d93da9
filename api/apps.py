from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # tasks: registered in every process (helpdesk.webhooks enqueues them by name);
        # keycache: forgets cached keys when they, their person or organisation change.
        from api import keycache, tasks  # noqa: F401, PLC0415
