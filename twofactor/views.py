"""Second-factor pages: give a code after the password, set up an authenticator app, and (for
people who are not staff) turn it on or off for themselves."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from twofactor import devices
from twofactor.forms import CodeForm, ConfirmAppForm


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("admin:index") if request.user.is_staff else reverse("home")


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of signing in."""
    if request.user.is_verified():
        return redirect(_next_url(request))
    if not devices.has_second_factor(request.user):
        return redirect(f"{reverse('two-factor-setup')}?{request.GET.urlencode()}")
    form = CodeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        otp_login(request, form.device)
        if form.device.name == devices.RECOVERY_DEVICE_NAME:
            left = devices.recovery_codes_left(request.user)
            messages.warning(
                request,
                f"You signed in with a recovery code; {left} left. "
                "Make new ones on the two-factor page if you are running out.",
            )
        return redirect(_next_url(request))
    status = 400 if request.method == "POST" else 200
    return render(
        request, "twofactor/verify.html", {"form": form, "next": _next_url(request)}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def setup(request: HttpRequest) -> HttpResponse:
    """Add an authenticator app: scan the QR code (or type the key), give one code, keep the
    recovery codes. Someone who already has one must give a code instead: a password alone never
    replaces a second factor."""
    if devices.has_second_factor(request.user):
        if request.user.is_verified():
            return redirect("two-factor")
        return redirect(f"{reverse('two-factor-verify')}?{request.GET.urlencode()}")
    device = devices.app_device_pending(user=request.user)
    form = ConfirmAppForm(request.POST or None)
    if request.method == "POST" and device is not None and form.is_valid():
        codes, error = devices.app_device_confirm(device=device, code=form.cleaned_data["code"])
        if codes:
            otp_login(request, device)
            return render(
                request,
                "twofactor/recovery_codes.html",
                {"codes": codes, "next": _next_url(request), "new": True},
            )
        form.add_error("code", error)
    if device is None or request.method == "GET":
        device = devices.app_device_start(user=request.user)
    issuer = f"{request.brand.name} support"  # the viewer's brand: never Phonism to a reseller's
    url = devices.totp_config_url(device, issuer=issuer)
    context = {
        "issuer": issuer,
        "form": form,
        "next": _next_url(request),
        "secret": devices.secret_base32(device),
        "qr": segno.make(url, error="m").svg_inline(scale=4, title="QR code for your app"),
        "required": request.user.is_staff,
    }
    return render(request, "twofactor/setup.html", context, status=400 if form.errors else 200)


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The person's own two-factor page: on or off, recovery codes left."""
    context = {
        "enabled": devices.has_second_factor(request.user),
        "codes_left": devices.recovery_codes_left(request.user),
        "can_turn_off": not request.user.is_staff,
        "form": CodeForm(user=request.user),
    }
    return render(request, "twofactor/overview.html", context)


@login_required
@require_POST
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    if not devices.has_second_factor(request.user):
        return redirect("two-factor")
    codes = devices.recovery_codes_issue(user=request.user)
    return render(
        request, "twofactor/recovery_codes.html", {"codes": codes, "next": reverse("two-factor")}
    )


@login_required
@require_POST
def turn_off(request: HttpRequest) -> HttpResponse:
    """Customers may turn it off again, with a code; staff may not (the admin needs it)."""
    if request.user.is_staff:
        messages.error(request, "Staff accounts need two-factor sign-in; it cannot be turned off.")
        return redirect("two-factor")
    form = CodeForm(request.POST, user=request.user)
    if not form.is_valid():
        context = {
            "enabled": True,
            "codes_left": devices.recovery_codes_left(request.user),
            "can_turn_off": True,
            "form": form,
        }
        return render(request, "twofactor/overview.html", context, status=400)
    devices.second_factor_turn_off(user=request.user)
    messages.success(request, "Two-factor sign-in is off.")
    return redirect("two-factor")
