"""The widget's part of the demo world (``seed_demo``): a signing key and allowed origins for
Acme (Phonism's admin portal) and for VoiceHub (its rebranded portal, signing for Initech).

The demo host portal answers on 127.0.0.1 and the helpdesk on localhost (or, for VoiceHub, on
voicehub.localhost): two different sites, so the browser treats the widget as a third party."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from tenants.models import Tenant
from widget import services
from widget.models import WidgetKey

# host portal page: (signing tenant, demo agent, the helpdesk host the snippet loads from)
DEMO_PORTALS = {
    "acme": ("acme", "ann@acme.test", "localhost"),
    "initech": ("voicehub", "ivan@initech.test", "voicehub.localhost"),
}
DEMO_HOST = "127.0.0.1"


def demo_origin() -> str:
    """Where the demo host portal runs: SITE_URL's scheme and port on 127.0.0.1."""
    parts = urlsplit(settings.SITE_URL)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{DEMO_HOST}{port}"


def seed_widget_demo() -> None:
    for slug in ("acme", "voicehub"):
        tenant = Tenant.objects.get(slug=slug)
        row = services.settings_for(tenant)
        origins = row.origins if row.pk else []
        if demo_origin() not in origins:
            origins.append(demo_origin())
        services.settings_update(
            tenant=tenant, actor=None, origins=origins, create_agents=row.create_agents
        )
        if not WidgetKey.objects.valid().filter(tenant=tenant).exists():
            services.key_create(tenant=tenant, actor=None, label="demo host portal")
