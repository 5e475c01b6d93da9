from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Cases"

    def ready(self) -> None:
        # Imports here, not at the top: they need the app registry, which is ready only now.
        # The outbox's admin lives beside the case desk's (helpdesk/admin.py), not inside it.
        from helpdesk import admin_notifications  # noqa: F401
        # The outbox enqueues its tasks by name from the Celery registry (it must not import
        # the tasks, which import it): register them in every process, web and commands too,
        # not only in workers, where Celery's autodiscovery would do it.
        from helpdesk import tasks  # noqa: F401
