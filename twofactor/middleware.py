"""Staff, and anyone who turned two-factor sign-in on, reach nothing but the second-factor pages
(and signing out) until they have given a code in this session."""

from __future__ import annotations

import copy
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin
from django_otp.middleware import OTPMiddleware

from twofactor import devices

# Views open to a person who has signed in with a password but not yet given a second factor.
OPEN_VIEWS = {
    "two-factor-verify",
    "two-factor-setup",
    "logout",
    "admin:logout",
    "healthz",
    "brand-logo",
}


class SecondFactorRequiredMiddleware(MiddlewareMixin):
    def process_view(self, request: HttpRequest, view_func, args, kwargs) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if match is not None and match.view_name in OPEN_VIEWS:
            return None
        if user.is_staff:
            target = "two-factor-verify" if devices.has_second_factor(user) else "two-factor-setup"
        elif user.second_factor_on:  # (the devices, as kept in the row: no query)
            target = "two-factor-verify"
        else:
            return None
        query = urlencode({"next": request.get_full_path()})
        return HttpResponseRedirect(f"{reverse(target)}?{query}")


class RememberedOTPMiddleware(OTPMiddleware):
    """django-otp's middleware (``request.user.otp_device``, ``is_verified()``), with the
    session's device read from memory (``twofactor.devices.DEVICES``, forgotten in every
    process whenever a device is saved or deleted) instead of a query on every request of
    everyone who gave a second factor: staff on every admin page. The checks stay django-otp's
    own: the device must still be the person's and confirmed, or the session loses it."""

    def _device_from_persistent_id(self, persistent_id: str):
        if not settings.PEOPLE_MEMO:  # no shared cache: every process would keep its own
            return super()._device_from_persistent_id(persistent_id)
        device = devices.DEVICES.get(
            persistent_id,
            lambda: super(RememberedOTPMiddleware, self)._device_from_persistent_id(persistent_id),
        )
        # A copy: what a request does with its device never changes the next request's.
        return None if device is None else copy.copy(device)
