"""Tenant admins manage their organisation's people; invitations set a first password; brand
logos and the brand of password pages."""

from __future__ import annotations

import os

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import services as case_services
from helpdesk.forms import apply_service_errors
from tenants import services
from tenants.access import SignedInRequest, membership_of
from tenants.brand_models import LOGO_EXTENSIONS, LOGO_FORMATS
from tenants.branding import brand_for_user
from tenants.forms import InviteForm, RoleForm
from tenants.models import Brand, Membership, Role, Tenant


def _admin_tenant(request: SignedInRequest) -> Tenant:
    membership = membership_of(request.user)
    if membership is None or not membership.is_admin or membership.tenant.is_provider:
        raise PermissionDenied("Only your organisation's admins manage its people.")
    return membership.tenant


def active_flag(request: HttpRequest) -> bool:
    """The ``active`` field of a (de)activation form: "1" or "0", anything else a 400 (it used
    to mean "deactivate")."""
    value = request.POST.get("active")
    if value not in ("0", "1"):
        raise BadRequest("Say active=1 to reactivate or active=0 to deactivate.")
    return value == "1"


def invite_from_form(request: SignedInRequest, tenant: Tenant, form: InviteForm) -> bool:
    """Invite the person ``form`` names into ``tenant``; say so, or put the error on the form."""
    if not form.is_valid():
        return False
    try:
        user = case_services.member_invite(
            actor=request.user,
            tenant=tenant,
            **form.cleaned_data,
        )
    except ValidationError as error:
        apply_service_errors(form, error)
        return False
    messages.success(request, f"Invitation sent to {user.email}.")
    return True


@login_required
@require_http_methods(["GET", "POST"])
def team(request: SignedInRequest) -> HttpResponse:
    tenant = _admin_tenant(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and invite_from_form(request, tenant, form):
        return redirect("team")
    members = (
        Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")
    )
    return render(
        request,
        "tenants/team.html",
        {"tenant": tenant, "members": members, "form": form, "roles": Role.choices},
        status=400 if form.errors else 200,
    )


def confirm_deactivation(
    request: HttpRequest, *, name: str, consequence: str, cancel_url: str
) -> HttpResponse:
    """The page that asks before access is taken away (the list's button links here)."""
    context = {
        "name": name,
        "consequence": consequence,
        "action": request.path,
        "cancel_url": cancel_url,
    }
    return render(request, "tenants/confirm_deactivate.html", context)


def resend_invitation(request: SignedInRequest, membership: Membership) -> None:
    """A fresh set-password link for someone invited who has not signed in yet."""
    user = membership.user
    if user.has_usable_password() or not user.is_active:
        messages.error(request, f"{user.email} already has an account: nothing to resend.")
        return
    try:
        case_services.member_invite(
            actor=request.user,
            tenant=membership.tenant,
            email=user.email,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"A new invitation is on its way to {user.email}.")


def change_role(request: SignedInRequest, membership: Membership) -> None:
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose agent or admin.")
        return
    try:
        services.member_set_role(
            actor=request.user, member=membership.user, role=form.cleaned_data["role"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        membership.refresh_from_db()
        messages.success(
            request, f"{membership.user.email} is now {membership.get_role_display().lower()}."
        )


def _team_member(request: SignedInRequest, user_id: int) -> Membership:
    tenant = _admin_tenant(request)
    return get_object_or_404(
        Membership.objects.filter(tenant=tenant).select_related("user", "tenant"), user_id=user_id
    )


@login_required
@require_POST
def member_resend(request: SignedInRequest, user_id: int) -> HttpResponse:
    resend_invitation(request, _team_member(request, user_id))
    return redirect("team")


@login_required
@require_POST
def member_role(request: SignedInRequest, user_id: int) -> HttpResponse:
    change_role(request, _team_member(request, user_id))
    return redirect("team")


@login_required
@require_http_methods(["GET", "POST"])
def member_active(request: SignedInRequest, user_id: int) -> HttpResponse:
    tenant = _admin_tenant(request)
    membership = get_object_or_404(
        Membership.objects.filter(tenant=tenant).select_related("user"), user_id=user_id
    )
    if request.method == "GET":
        return confirm_deactivation(
            request,
            name=membership.user.email,
            consequence=f"{membership.user.email} will no longer be able to sign in to "
            f"{tenant.name}'s cases.",
            cancel_url=reverse("team"),
        )
    active = active_flag(request)
    try:
        services.member_set_active(actor=request.user, member=membership.user, active=active)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        state = "reactivated" if active else "deactivated"
        messages.success(request, f"{membership.user.email} is {state}.")
    return redirect("team")


class BrandedPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """A valid link names its person: the page wears their brand whatever the host, so a
    sub-customer following an old link to the default host still sees their reseller's."""

    def get_context_data(self, **kwargs) -> dict:
        context = super().get_context_data(**kwargs)
        # Only for a valid token: a bare user id must not reveal whose customer someone is.
        if context.get("validlink") and self.user is not None:
            context["brand"] = brand_for_user(self.user)
        return context


class InvitationAcceptView(BrandedPasswordResetConfirmView):
    """An invitation is a first password reset: the same one-time token, its own wording."""

    template_name = "registration/invitation_accept.html"
    post_reset_login = True
    post_reset_login_backend = "tenants.backends.ActiveTenantBackend"
    success_url = reverse_lazy("home")
    reset_url_token = "set-password"  # noqa: S105 - a URL segment, not a secret


# A year for a versioned URL (Brand.logo_url changes with each new logo), five minutes otherwise.
LOGO_CACHE_SECONDS = 365 * 24 * 3600
LOGO_UNVERSIONED_CACHE_SECONDS = 300


@require_GET
def brand_logo(request: HttpRequest, pk: int) -> FileResponse:
    # No access check on purpose: a logo is public (sign-in pages show it to anyone), and
    # serving it here rather than from a media URL keeps uploads off any public folder.
    brand = get_object_or_404(Brand.objects.exclude(logo=""), pk=pk)
    extension = os.path.splitext(brand.logo.name or "")[1].lower().lstrip(".")
    image_format = LOGO_EXTENSIONS.get(extension)
    if image_format is None:
        raise Http404("No logo.")
    try:
        handle = brand.logo.open("rb")
    except FileNotFoundError as error:
        raise Http404("No logo.") from error
    response = FileResponse(handle, content_type=LOGO_FORMATS[image_format])
    versioned = request.GET.get("v") == brand.logo_url.rsplit("=", 1)[-1]
    if versioned:
        response["Cache-Control"] = f"public, max-age={LOGO_CACHE_SECONDS}, immutable"
    else:
        response["Cache-Control"] = f"public, max-age={LOGO_UNVERSIONED_CACHE_SECONDS}"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
