from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Cases"

    def ready(self) -> None:
        # The outbox's admin lives beside the case desk's (helpdesk/admin.py), not inside it.
        # Imported in ready(): admin modules need the app registry loaded.
        from helpdesk import admin_notifications  # noqa: F401, PLC0415
