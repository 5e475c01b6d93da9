"""Staff, and anyone who turned two-factor sign-in on, reach nothing but the second-factor pages
(and signing out) until they have given a code in this session."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.deprecation import MiddlewareMixin

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
