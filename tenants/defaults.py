"""Data defaults of the white label: the provider's brand, and the staff groups' permissions on
brands. Run by the data migration (historical models) and by ``seed_demo`` (live registry), so a
flushed database, as transactional tests leave, gets them back."""

from __future__ import annotations

from django.conf import settings

from tenants.groups import grant_group_permissions

# Support managers keep the brands (SPEC §8 "Admin: ... brands"); support agents look them up.
GROUP_PERMISSIONS: dict[str, list[str]] = {
    "Support agent": ["view_brand", "view_branddomain"],
    "Support manager": [
        f"{action}_{model}"
        for model in ("brand", "branddomain")
        for action in ("view", "add", "change", "delete")
    ],
}


def ensure_brand_defaults(apps) -> None:
    Tenant = apps.get_model("tenants", "Tenant")
    Brand = apps.get_model("tenants", "Brand")
    provider = Tenant.objects.filter(kind="provider").first()
    if provider is not None and not Brand.objects.filter(tenant=provider).exists():
        Brand.objects.create(
            tenant=provider, name=provider.name, support_email=settings.DEFAULT_FROM_EMAIL
        )

    grant_group_permissions(apps, "tenants", GROUP_PERMISSIONS)
