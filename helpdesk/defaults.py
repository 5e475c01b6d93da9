"""Data defaults: the case-reference counter, the provider tenant and the staff groups.

Run by the data migration (with historical models) and again by ``seed_demo`` (with the live
registry), so a database that was flushed, as transactional tests do, gets them back.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions

# Django group → permissions (codename, app label). Support agents work cases; support managers
# also manage tenants, memberships and people.
GROUPS: dict[str, list[tuple[str, str]]] = {
    "Support agent": [
        ("view_case", "helpdesk"),
        ("add_case", "helpdesk"),
        ("change_case", "helpdesk"),
        ("view_caseupdate", "helpdesk"),
        ("add_caseupdate", "helpdesk"),
        ("view_caseevent", "helpdesk"),
        ("view_attachment", "helpdesk"),
        ("view_tenant", "tenants"),
        ("view_membership", "tenants"),
        ("view_user", "tenants"),
    ],
}
GROUPS["Support manager"] = GROUPS["Support agent"] + [
    ("add_tenant", "tenants"),
    ("change_tenant", "tenants"),
    ("add_membership", "tenants"),
    ("change_membership", "tenants"),
    ("delete_membership", "tenants"),
    ("add_user", "tenants"),
    ("change_user", "tenants"),
    # Managers see the outgoing emails (delivery problems land with them).
    ("view_outboundemail", "helpdesk"),
]


def ensure_defaults(apps) -> None:
    Counter = apps.get_model("helpdesk", "Counter")
    Counter.objects.get_or_create(name="case_reference", defaults={"value": 10000})

    Tenant = apps.get_model("tenants", "Tenant")
    if not Tenant.objects.filter(kind="provider").exists():
        Tenant.objects.create(name="Phonism", slug="phonism", kind="provider")

    create_permissions_now(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for codename, app_label in perms:
            permission = Permission.objects.filter(
                codename=codename, content_type__app_label=app_label
            ).first()
            # An earlier migration runs this with the models of its time: a permission of a
            # model added later is granted by that later migration's own run.
            if permission is not None:
                group.permissions.add(permission)


def create_permissions_now(apps, app_label: str | None = None) -> None:
    """Permissions are normally created after migrate; data migrations that give them to groups
    need them now. create_permissions skips app configs without a models module, which is what
    migration state's stubs look like: mark them for the call and restore them after."""
    configs = [apps.get_app_config(app_label)] if app_label else apps.get_app_configs()
    for app_config in configs:
        stub = getattr(app_config, "models_module", None) is None
        if stub:
            app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        if stub:
            app_config.models_module = None


def grant_group_permissions(apps, app_label: str, groups: dict[str, list[str]]) -> None:
    """Give each staff group (created if missing) these permissions of one app."""
    create_permissions_now(apps, app_label)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in groups.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
