from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Cases"

    def ready(self) -> None:
        # The outbox's admin lives beside the case desk's (helpdesk/admin.py), not inside it.
        # Imported in ready(): admin modules need the app registry loaded.
        from helpdesk import admin_notifications  # noqa: F401, PLC0415

        # The outbox finds its send tasks in the Celery app's registry (it may not import a
        # surface): register them in every process, web and commands included, not only in
        # workers (whose autodiscovery would import them). Without this a web process cannot
        # enqueue and every email waits for the drain.
        from helpdesk import tasks  # noqa: F401, PLC0415
