"""The portal page where a direct customer's or a reseller's admins manage their widget: the
origins allowed to frame it, just-in-time agents, and signing keys (create, rotate, revoke).
A new secret is shown once, in the response that made it, and is never stored in clear."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.forms import apply_service_errors
from tenants.models import Tenant
from widget import services
from widget.forms import NewKeyForm, WidgetSettingsForm
from widget.models import WidgetKey


def _tenant(request: HttpRequest) -> Tenant:
    tenant = services.widget_tenant_of(request.user)
    if tenant is None:
        raise PermissionDenied(
            "The widget is managed by the admins of a direct customer or of a reseller."
        )
    return tenant


def _page(request: HttpRequest, tenant: Tenant, status: int = 200, **extra) -> HttpResponse:
    row = services.settings_for(tenant)
    context = {
        "tenant": tenant,
        "keys": WidgetKey.objects.filter(tenant=tenant),
        "settings_form": extra.pop("settings_form", None)
        or WidgetSettingsForm(
            initial={"allowed_origins": row.allowed_origins, "create_agents": row.create_agents}
        ),
        "key_form": extra.pop("key_form", None) or NewKeyForm(),
        **extra,
    }
    response = render(request, "widget/manage.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may carry a new secret
    return response


@login_required
@require_http_methods(["GET", "POST"])
def manage(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    if request.method == "POST":
        form = WidgetSettingsForm(request.POST)
        if form.is_valid():
            services.settings_update(
                tenant=tenant,
                actor=request.user,
                origins=form.cleaned_data["allowed_origins"],
                create_agents=form.cleaned_data["create_agents"],
            )
            return redirect("widget-manage")
        return _page(request, tenant, 400, settings_form=form)
    return _page(request, tenant)


@login_required
@require_POST
def key_new(request: HttpRequest) -> HttpResponse:
    tenant = _tenant(request)
    form = NewKeyForm(request.POST)
    if form.is_valid():
        try:
            key, secret = services.key_create(
                tenant=tenant, actor=request.user, label=form.cleaned_data["label"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            return _page(request, tenant, new_key=key, new_secret=secret)
    return _page(request, tenant, 400, key_form=form)


def _key(request: HttpRequest, tenant: Tenant, pk: int) -> WidgetKey:
    # Another organisation's key is not found (404), like every object outside one's reach.
    return get_object_or_404(WidgetKey.objects.filter(tenant=tenant), pk=pk)


@login_required
@require_POST
def key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant(request)
    key = _key(request, tenant, pk)
    try:
        successor, secret = services.key_rotate(key=key, actor=request.user)
    except ValidationError as error:
        return _page(request, tenant, 400, key_error=" ".join(error.messages))
    return _page(request, tenant, new_key=successor, new_secret=secret, rotated=key)


@login_required
@require_POST
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant(request)
    services.key_revoke(key=_key(request, tenant, pk), actor=request.user)
    return redirect("widget-manage")
