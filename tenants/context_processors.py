from __future__ import annotations

from django.http import HttpRequest

from tenants.branding import provider_brand
from tenants.models import Brand


def brand(request: HttpRequest) -> dict[str, Brand]:
    """``brand`` in every page. Requests refused before the brand middleware ran (a 400 for an
    unknown host) get the provider's, without looking at their host again."""
    return {"brand": getattr(request, "brand", None) or provider_brand()}
