"""White label (SPEC §8): a brand for the provider and for each reseller, and the host names
that show it. Imported by tenants.models, which is the app's models module; this file only keeps
tenants/models.py short. ``tenants.branding`` picks the brand for a request, a user or a tenant.
"""

from __future__ import annotations

import os
import re
from email.utils import formataddr
from functools import cached_property
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, Storage
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse

from tenants.colours import MIN_CONTRAST, contrast_ratio, is_hex_colour

# TenantKind values of the tenants that have a brand: the provider and resellers (plain strings,
# since tenants.models imports this module).
BRANDED_KINDS = ("provider", "reseller")
LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_PIXELS = 2000
# Raster formats only: an SVG can carry scripts and links, and a logo is shown to everyone.
LOGO_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
LOGO_EXTENSIONS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}
DEFAULT_PRIMARY = "#0b5cad"
DEFAULT_INK = "#ffffff"
# What links sit on (static/css/helpdesk.css: --bg of the page, --card of cards) and the body
# text colour links fall back to.
BACKGROUNDS = ("#f6f8fb", "#ffffff")
BODY_INK = "#1d2430"
HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


# Brands are read on every page and every email but change rarely: they are kept in the shared
# cache for a minute (read by ``tenants.branding``), and Brand.save/delete forget them at once.
BRAND_CACHE_SECONDS = 60


# Which brand each support address belongs to (the email intake routes by it), kept alike.
BRAND_ADDRESSES_KEY = "brand:addresses"


def brand_cache_key(tenant_id: int | None) -> str:
    return f"brand:{tenant_id or 'provider'}"


def forget_brand(tenant_id: int | None) -> None:
    cache.delete_many([brand_cache_key(tenant_id), brand_cache_key(None), BRAND_ADDRESSES_KEY])


def validate_hex_colour(value: str) -> None:
    if not is_hex_colour(value):
        raise ValidationError(f"“{value}” is not a colour like #5b21b6 (# and six hex digits).")


def validate_logo(file) -> None:
    """PNG, JPEG or WebP for real (Pillow reads it), small, of a sensible size.

    Only a new upload is checked: a stored logo passed this when it came in.
    """
    if getattr(file, "_committed", False):
        return
    extension = os.path.splitext(file.name or "")[1].lower().lstrip(".")
    if extension == "svg":
        raise ValidationError(
            "SVG logos are not accepted (an SVG can carry scripts); upload a PNG, JPEG or WebP "
            "image.",
            code="svg",
        )
    if extension not in LOGO_EXTENSIONS:
        raise ValidationError("Upload the logo as a PNG, JPEG or WebP image.", code="type")
    if file.size > LOGO_MAX_BYTES:
        raise ValidationError(
            f"The logo is {file.size // 1024} KB; the limit is {LOGO_MAX_BYTES // 1024} KB.",
            code="size",
        )
    # Pillow loads on the first logo upload, not at every process's start.
    from PIL import Image  # noqa: PLC0415

    try:
        file.seek(0)
        with Image.open(file) as image:
            image_format, (width, height) = image.format, image.size
            image.verify()
    except Exception as error:  # Pillow raises many kinds for a file that is not an image
        raise ValidationError(
            "This file is not a PNG, JPEG or WebP image.", code="not_image"
        ) from error
    finally:
        file.seek(0)
    if image_format not in LOGO_FORMATS:
        raise ValidationError("Upload the logo as a PNG, JPEG or WebP image.", code="type")
    if max(width, height) > LOGO_MAX_PIXELS:
        raise ValidationError(
            f"The logo is {width}×{height} pixels; at most {LOGO_MAX_PIXELS} on each side.",
            code="dimensions",
        )


def normalise_host(value: str) -> str:
    return (value or "").strip().lower().rstrip(".")


def validate_host(value: str) -> None:
    host = normalise_host(value)
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(HOST_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            f"“{value}” is not a host name like support.voicehub.com (no scheme, port or path)."
        )


class PrivateFileStorage(FileSystemStorage):
    """Files under settings.ATTACHMENTS_ROOT, the private volume every web machine shares and
    that has no URL (read on each use so tests can move it): each kind of file is served by its
    own view, which ``served_by`` names. Case attachments (``helpdesk.models``) and brand logos
    both live here."""

    def __init__(self, served_by: str) -> None:
        super().__init__()
        self.served_by = served_by

    @property
    def base_location(self) -> str:
        return str(settings.ATTACHMENTS_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    def url(self, name: str | None) -> str:
        raise NotImplementedError(f"No public URL: {self.served_by}.")


def logo_storage() -> Storage:
    # Logos are public, but served by the ``brand-logo`` view with caching headers: no media
    # URL or server to configure.
    return PrivateFileStorage("logos are served by a view, use Brand.logo_url")


def logo_path(instance: Brand, filename: str) -> str:
    return f"brands/{instance.tenant.slug}/{os.path.basename(filename)}"


class Brand(models.Model):
    """How the portal and the emails look to the people of one tier one: the provider's brand,
    or a reseller's, which its sub-customers always see (``tenants.branding`` picks it)."""

    tenant = models.OneToOneField(
        "tenants.Tenant",
        on_delete=models.CASCADE,
        related_name="brand",
        limit_choices_to={"kind__in": BRANDED_KINDS},
        help_text="The provider or a reseller.",
    )
    name = models.CharField("display name", max_length=80)
    logo = models.ImageField(
        upload_to=logo_path,
        storage=logo_storage,
        max_length=300,
        blank=True,
        validators=[validate_logo],
        help_text=f"PNG, JPEG or WebP, at most {LOGO_MAX_BYTES // 1024} KB, shown 40 pixels high "
        "in the page header. No SVG.",
    )
    primary_colour = models.CharField(
        max_length=7,
        default=DEFAULT_PRIMARY,
        validators=[validate_hex_colour],
        help_text="Header and buttons, e.g. #5b21b6.",
    )
    text_colour = models.CharField(
        max_length=7,
        default=DEFAULT_INK,
        validators=[validate_hex_colour],
        help_text=f"Text on the primary colour: a contrast of at least {MIN_CONTRAST}:1 with it.",
    )
    support_email = models.EmailField(
        "support email address", help_text="The From address of this brand's notifications."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        forget_brand(self.tenant_id)

    def clean(self) -> None:
        super().clean()
        if self.tenant_id is not None and self.tenant.kind not in BRANDED_KINDS:
            raise ValidationError({"tenant": "Only the provider and resellers have a brand."})
        colours = (self.primary_colour or "", self.text_colour or "")
        if not all(is_hex_colour(c) for c in colours):
            return  # the field validators said what is wrong
        self.primary_colour, self.text_colour = (c.lower() for c in colours)
        ratio = contrast_ratio(self.primary_colour, self.text_colour)
        if ratio < MIN_CONTRAST:
            raise ValidationError(
                {
                    "text_colour": f"Text in {self.text_colour} on {self.primary_colour} has a "
                    f"contrast ratio of {ratio:.1f}:1; it must be at least {MIN_CONTRAST}:1 to "
                    "be readable (WCAG AA). Choose a lighter or darker colour."
                }
            )

    @property
    def from_email(self) -> str:
        """The From header of this brand's emails, e.g. ``VoiceHub <support@voicehub.test>``."""
        return formataddr((self.name, self.support_email or settings.DEFAULT_FROM_EMAIL))

    @property
    def logo_url(self) -> str:
        """The logo's path, versioned so that a replaced logo shows at once despite caching."""
        if not self.pk or not self.logo:
            return ""
        version = int(self.updated_at.timestamp()) if self.updated_at else 0
        return f"{reverse('brand-logo', args=[self.pk])}?v={version}"

    @property
    def theme(self) -> dict[str, str]:
        """CSS colours for the pages; a row written without full_clean still gives valid CSS."""
        primary = self.primary_colour if is_hex_colour(self.primary_colour) else DEFAULT_PRIMARY
        ink = self.text_colour if is_hex_colour(self.text_colour) else DEFAULT_INK
        # Links and outline buttons put a colour on the page background, where a light brand
        # colour would be unreadable: then the brand's text colour, else body ink, is used.
        link = next(
            (
                c
                for c in (primary, ink)
                if all(contrast_ratio(c, bg) >= MIN_CONTRAST for bg in BACKGROUNDS)
            ),
            BODY_INK,
        )
        return {"primary": primary.lower(), "ink": ink.lower(), "link": link.lower()}

    @cached_property
    def primary_host(self) -> str | None:
        """The first host name given to the brand: the one links in its emails point to."""
        if not self.pk:
            return None
        return self.domains.order_by("pk").values_list("host", flat=True).first()

    @property
    def site_url(self) -> str:
        """Where this brand's people open the portal, for links in emails: its first host name
        with SITE_URL's scheme and port (``http://voicehub.localhost:8000`` in development),
        else SITE_URL itself."""
        if self.primary_host is None:
            return settings.SITE_URL
        site = urlsplit(settings.SITE_URL)
        port = f":{site.port}" if site.port else ""
        return f"{site.scheme}://{self.primary_host}{port}"


class BrandDomain(models.Model):
    """A host name that shows a brand to visitors who are not signed in (sign-in page, password
    reset, invitations). Signed-in people always get the brand of their tier one."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="domains")
    host = models.CharField(
        max_length=253,
        unique=True,
        validators=[validate_host],
        help_text="e.g. support.voicehub.com, without scheme or port; it must also be in "
        "ALLOWED_HOSTS. The first one is used in the links of the brand's emails.",
    )

    class Meta:
        ordering = ["host"]
        constraints = [
            # Hosts are matched exactly against the lowercased request host.
            models.CheckConstraint(
                name="branddomain_host_lowercase",
                condition=Q(host=Lower("host")),
                violation_error_message="Host names are stored in lower case.",
            ),
        ]

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        super().clean()
        self.host = normalise_host(self.host)


@receiver(post_delete, sender=Brand)
def _forget_deleted_brand(sender, instance: Brand, **kwargs) -> None:
    """A signal, not a ``delete`` override: the admin's bulk delete, a queryset's ``delete()``
    and a tenant's cascade forget the brand too (a receiver makes Django delete row by row)."""
    forget_brand(instance.tenant_id)
