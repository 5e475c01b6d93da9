from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Cases"

    def ready(self) -> None:
        # The outbox's admin lives beside the case desk's (helpdesk/admin.py), not inside it.
        # The web process publishes tasks by name (helpdesk.outbox): the Celery app's registry
        # must hold them there too, and autodiscovery only runs in workers. Without the tasks
        # import every publish from a request raised NotRegistered and waited for the drain.
        from helpdesk import admin_notifications, tasks  # noqa: F401
