"""Second factors: an authenticator app (django-otp's TOTP device) and one-time recovery codes
(its static device). Staff must have one before the admin opens; anyone else may turn it on.

The only writes to the devices; views and seed_demo call these.
"""

from __future__ import annotations

import math
import re
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.signals import post_delete, post_init, post_save
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.memo import StampedMemo
from tenants.models import User

APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODE_COUNT = 10
TOTP_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of a code: the device it matched, or why it was refused."""

    device: TOTPDevice | StaticDevice | None = None
    error: str = ""
    locked_until: datetime | None = None


def second_factor_required(user: User) -> bool:
    """Staff always; anyone else once they have turned it on (a confirmed app)."""
    return user.is_staff or has_second_factor(user)


def has_second_factor(user: User) -> bool:
    """Asks the devices themselves. Every request reads ``user.second_factor_on`` instead, the
    same answer kept in the user's row (``second_factor_sync``)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def second_factor_sync(user_id: int | None) -> None:
    """Make ``User.second_factor_on`` say again whether the person has a confirmed app; run
    after every save and delete of an app (``connect_signals``), so the services, the admin's
    device pages and cascades all keep it in step. Computed by the database in the same
    transaction as the write, so two writes at once cannot leave it wrong."""
    if user_id is None:
        return
    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    User.objects.filter(pk=user_id).update(second_factor_on=Exists(confirmed))


def _device_loaded(sender, instance: TOTPDevice, **kwargs) -> None:
    # Whose it was when read: the admin can give a device to someone else.
    instance._user_id_when_loaded = instance.user_id  # type: ignore[attr-defined]


def _device_changed(sender, instance: TOTPDevice, **kwargs) -> None:
    second_factor_sync(instance.user_id)
    previous = getattr(instance, "_user_id_when_loaded", None)
    if previous != instance.user_id:
        second_factor_sync(previous)
    instance._user_id_when_loaded = instance.user_id  # type: ignore[attr-defined]


# The devices sessions were verified with, by persistent id (``RememberedOTPMiddleware``):
# every request of a person with a second factor reads theirs. Forgotten in every process
# whenever a device is saved (set up, confirmed, verified, throttled) or deleted.
DEVICES = StampedMemo("otp-devices")


def _device_written(sender, **kwargs) -> None:
    DEVICES.forget()


def connect_signals() -> None:
    """From ``TwoFactorConfig.ready``: every write of an authenticator app syncs the flag, and
    every write of a device forgets the remembered ones."""
    for model in (TOTPDevice, StaticDevice):
        name = model.__name__
        post_save.connect(_device_written, sender=model, dispatch_uid=f"otp_saved_{name}")
        post_delete.connect(_device_written, sender=model, dispatch_uid=f"otp_deleted_{name}")
    post_init.connect(_device_loaded, sender=TOTPDevice, dispatch_uid="second_factor_loaded")
    post_save.connect(_device_changed, sender=TOTPDevice, dispatch_uid="second_factor_saved")
    post_delete.connect(_device_changed, sender=TOTPDevice, dispatch_uid="second_factor_deleted")


def app_device_start(*, user: User) -> TOTPDevice:
    """The app being set up: a new secret, unconfirmed until a code from it is given."""
    if has_second_factor(user):
        raise ValueError("two-factor sign-in is already on")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)


def app_device_pending(*, user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


@transaction.atomic
def app_device_confirm(*, device: TOTPDevice, code: str) -> tuple[list[str], str]:
    """Turn two-factor on with the first code from the app: the recovery codes (shown once),
    or why the code was refused."""
    allowed, why = device.verify_is_allowed()
    if not allowed:
        return [], throttled_message((why or {}).get("locked_until"))
    code = re.sub(r"\s+", "", code)
    if not TOTP_CODE.match(code) or not device.verify_token(code):
        if not TOTP_CODE.match(code):
            device.throttle_increment()
        return [], "That code is not right. Check your phone's clock, then try the next code."
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_issue(user=device.user), ""


@transaction.atomic
def recovery_codes_issue(*, user: User, codes: list[str] | None = None) -> list[str]:
    """New recovery codes replace the old ones (each works once)."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = codes or [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def second_factor_turn_off(*, user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


def totp_config_url(device: TOTPDevice, *, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code, naming the viewer's
    brand (a sub-customer's app never says Phonism)."""
    issuer = issuer.replace(":", "")
    label = quote(f"{issuer}:{device.user.get_username()}")
    params = urlencode(
        {
            "secret": secret_base32(device),
            "algorithm": "SHA1",
            "digits": device.digits,
            "period": device.step,
        }
    )
    return f"otpauth://totp/{label}?{params}&issuer={quote(issuer)}"


def secret_base32(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode("ascii").rstrip("=")


def code_check(*, user: User, code: str) -> CodeCheck:
    """A six-digit code is checked against the app, anything else against the recovery codes.
    Wrong codes slow down further tries (django-otp's throttling: 1, 2, 4, 8 ... seconds times
    OTP_TOTP_THROTTLE_FACTOR), shared by both kinds so one cannot be used to guess the other."""
    code = re.sub(r"\s+", "", code).lower()
    app = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    devices = [d for d in (app, recovery) if d is not None]
    if not devices:
        return CodeCheck(error="Two-factor sign-in is not set up for this account.")
    for device in devices:
        allowed, why = device.verify_is_allowed()
        if not allowed:
            until = (why or {}).get("locked_until")
            return CodeCheck(error=throttled_message(until), locked_until=until)
    if TOTP_CODE.match(code):
        if app is not None and app.verify_token(code):
            return CodeCheck(device=app)
        return CodeCheck(error="That code is not right, or has been used. Try the next one.")
    if recovery is not None:
        # One DELETE decides: two requests with the same code cannot both succeed.
        used, _ = StaticToken.objects.filter(device=recovery, token=code).delete()
        if used:
            recovery.throttle_reset()
            return CodeCheck(device=recovery)
        recovery.throttle_increment()
    return CodeCheck(error="That recovery code is not right, or has been used already.")


def throttled_message(until: datetime | None) -> str:
    seconds = max(1, math.ceil((until - timezone.now()).total_seconds())) if until else 1
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many wrong codes. Wait {seconds} {unit}, then try again."


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def second_factor_install(*, user: User, key_hex: str, recovery_codes: list[str]) -> TOTPDevice:
    """A known secret and known codes, for the demo world only (seed_demo): the README prints
    them so a newcomer can sign in to the admin."""
    second_factor_turn_off(user=user)
    device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, key=key_hex, confirmed=True)
    recovery_codes_issue(user=user, codes=recovery_codes)
    return device
