"""Data defaults of the white label: the provider's brand, and the staff groups' permissions on
brands. Run by the data migration (historical models) and by ``seed_demo`` (live registry), so a
flushed database, as transactional tests leave, gets them back."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.management import create_permissions

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

    # Permissions are created after migrate; create the tenants app's now so groups get them.
    # Migration state's app configs have no models module, which create_permissions skips.
    app_config = apps.get_app_config("tenants")
    stub = getattr(app_config, "models_module", None) is None
    if stub:
        app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    if stub:
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="tenants", codename__in=codenames)
        )
