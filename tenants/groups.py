"""Provider staff groups (Support agent, Support manager) and their permissions, for the data
migrations and seeds of every app."""

from __future__ import annotations

from django.contrib.auth.management import create_permissions


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
