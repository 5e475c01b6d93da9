"""The demo world's white label (called by ``seed_demo``): VoiceHub's brand, with a logo drawn
here and the host name ``voicehub.localhost`` (any *.localhost name reaches 127.0.0.1)."""

from __future__ import annotations

import io

from django.apps import apps as django_apps
from django.core.files.base import ContentFile

from tenants.defaults import ensure_brand_defaults
from tenants.models import Brand, BrandDomain, Tenant

VOICEHUB_HOST = "voicehub.localhost"
VOICEHUB_BRAND = {
    "name": "VoiceHub",
    "primary_colour": "#5b21b6",  # white on it: 8.6:1
    "text_colour": "#ffffff",
    "support_email": "support@voicehub.test",
}


def draw_logo(text: str, colour: str) -> bytes:
    """A PNG word mark: the brand colour on a white rounded tile, readable on the header."""
    # Pillow loads when the demo is seeded, not at every process's start.
    from PIL import Image, ImageDraw, ImageFont  # noqa: PLC0415

    font = ImageFont.load_default(size=30)
    left, top, right, bottom = font.getbbox(text)
    width, height = int(right - left) + 28, 48
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=10, fill="#ffffff")
    draw.text((14 - left, (height - (bottom - top)) // 2 - top), text, font=font, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def seed_brands(tenants: dict[str, Tenant]) -> None:
    ensure_brand_defaults(django_apps)
    brand, _ = Brand.objects.get_or_create(tenant=tenants["voicehub"], defaults=VOICEHUB_BRAND)
    if not brand.logo.name or not brand.logo.storage.exists(brand.logo.name):
        logo = draw_logo(brand.name, brand.primary_colour)
        brand.logo.save("voicehub.png", ContentFile(logo), save=True)
    BrandDomain.objects.get_or_create(host=VOICEHUB_HOST, defaults={"brand": brand})
