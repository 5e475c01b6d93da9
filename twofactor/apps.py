from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    name = "twofactor"
    verbose_name = "Two-factor sign-in"

    def ready(self) -> None:
        from twofactor.devices import connect_signals  # noqa: PLC0415 - models are ready now

        connect_signals()
