from django.urls import path

from twofactor import views

urlpatterns = [
    path("accounts/two-factor/", views.overview, name="two-factor"),
    path("accounts/two-factor/verify/", views.verify, name="two-factor-verify"),
    path("accounts/two-factor/setup/", views.setup, name="two-factor-setup"),
    path(
        "accounts/two-factor/recovery-codes/",
        views.recovery_codes_new,
        name="two-factor-recovery-codes",
    ),
    path("accounts/two-factor/off/", views.turn_off, name="two-factor-off"),
]
