"""The demo host portal (``make run``, ``WIDGET_DEMO``): a page playing the product's admin
portal on another site than the helpdesk, with the snippet and a token signed for a demo agent
as the host portal's server would. Never on in production (404)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tenants.branding import brand_for_tenant
from tenants.models import Tenant
from widget.demo import DEMO_HOST, DEMO_PORTALS
from widget.models import WidgetKey
from widget.tokens import sign


@require_GET
def host_portal(request: HttpRequest, portal: str) -> HttpResponse:
    if not settings.WIDGET_DEMO or portal not in DEMO_PORTALS:
        raise Http404("No such demo portal.")
    signer_slug, email, helpdesk_host = DEMO_PORTALS[portal]
    domain, port = split_domain_port(request.get_host())
    suffix = f":{port}" if port else ""
    if domain != DEMO_HOST:
        # The host portal must be another site than the helpdesk it embeds.
        return redirect(f"{request.scheme}://{DEMO_HOST}{suffix}{request.path}")
    signer = Tenant.objects.get(slug=signer_slug)
    key = WidgetKey.objects.valid().filter(tenant=signer).order_by("-created_at").first()
    if key is None:
        raise Http404("The demo portal has no widget key: run seed_demo.")
    customer = Tenant.objects.get(slug=portal)
    context = {
        "portal": portal,
        "customer": customer,
        "portal_name": brand_for_tenant(customer).name,
        "email": email,
        "token": sign(key, email=email, name=email.split("@")[0].title()),
        "embed_url": f"{request.scheme}://{helpdesk_host}{suffix}{reverse('widget-embed')}",
    }
    response = render(request, "widget/demo_host.html", context)
    # This page plays another site, whose own policy must let the snippet load, frame the
    # helpdesk and post the token into that frame: what a host portal with a CSP must allow.
    helpdesk_origin = f"{request.scheme}://{helpdesk_host}{suffix}"
    extra = {key: [helpdesk_origin] for key in ("script-src", "frame-src", "form-action")}
    response._csp_update = response._csp_update_ro = extra
    return response
