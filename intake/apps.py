from django.apps import AppConfig


class IntakeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "intake"
    verbose_name = "Email intake"

    def ready(self) -> None:
        # Its signal receivers: every process that saves users, tenants or brands (the admin
        # too) tells the intake's remembered senders and brands that they changed.
        from intake import directory  # noqa: F401, PLC0415
