"""Data defaults: the case-reference counter, the provider tenant and the staff groups.
(``grant_group_permissions`` is re-exported for the data migrations that import it here.)

Run by the data migration (with historical models) and again by ``seed_demo`` (with the live
registry), so a database that was flushed, as transactional tests do, gets them back.
"""

from __future__ import annotations

from tenants.groups import create_permissions_now, grant_group_permissions

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


__all__ = ["create_permissions_now", "ensure_defaults", "grant_group_permissions"]
