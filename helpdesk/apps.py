from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Cases"

    def ready(self) -> None:
        # Imported in ready(), once the app registry is loaded:
        # - admin_notifications: the outbox's admin lives beside the case desk's
        #   (helpdesk/admin.py), not inside it;
        # - tasks: the outbox finds its send tasks in the Celery app's registry (it may not
        #   import a surface), so they are registered in every process, web and commands
        #   included, not only in workers (whose autodiscovery imports them). Without this a web
        #   process cannot enqueue and every email waits for the drain.
        from helpdesk import admin_notifications, tasks  # noqa: F401, PLC0415
