from django.apps import AppConfig


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = "Cases"

    def ready(self) -> None:
        # Imports here, not at the top: they need the app registry, which is ready only now.
        # - admin_notifications: the outbox's admin lives beside the case desk's
        #   (helpdesk/admin.py), not inside it;
        # - tasks: the outbox enqueues its tasks by name from the Celery registry (it must not
        #   import the tasks, which import it), so they are registered in every process, web
        #   and commands too, not only in workers, where Celery's autodiscovery would do it.
        from helpdesk import admin_notifications, canned, tasks, webhooks  # noqa: F401, PLC0415

        # Remembered webhook subscriptions and canned replies are forgotten whenever one is
        # written.
        webhooks.connect_signals()
        canned.connect_signals()
