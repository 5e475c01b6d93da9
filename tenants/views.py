"""Tenant admins manage their organisation's people; invitations set a first password."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.forms import apply_service_errors
from tenants import services
from tenants.access import membership_of
from tenants.forms import InviteForm
from tenants.models import Membership, Tenant


def _admin_tenant(request: HttpRequest) -> Tenant:
    membership = membership_of(request.user)
    if membership is None or not membership.is_admin or membership.tenant.is_provider:
        raise PermissionDenied("Only your organisation's admins manage its people.")
    return membership.tenant


@login_required
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    tenant = _admin_tenant(request)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.member_invite(
                actor=request.user,
                tenant=tenant,
                base_url=request.build_absolute_uri("/"),
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {user.email}.")
            return redirect("team")
    members = (
        Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")
    )
    return render(
        request,
        "tenants/team.html",
        {"tenant": tenant, "members": members, "form": form},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def member_active(request: HttpRequest, user_id: int) -> HttpResponse:
    tenant = _admin_tenant(request)
    membership = get_object_or_404(
        Membership.objects.filter(tenant=tenant).select_related("user"), user_id=user_id
    )
    active = request.POST.get("active") == "1"
    try:
        services.member_set_active(actor=request.user, member=membership.user, active=active)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        state = "reactivated" if active else "deactivated"
        messages.success(request, f"{membership.user.email} is {state}.")
    return redirect("team")


class InvitationAcceptView(auth_views.PasswordResetConfirmView):
    """An invitation is a first password reset: the same one-time token, its own wording."""

    template_name = "registration/invitation_accept.html"
    post_reset_login = True
    post_reset_login_backend = "tenants.backends.ActiveTenantBackend"
    success_url = reverse_lazy("home")
    reset_url_token = "set-password"  # noqa: S105 - a URL segment, not a secret
