"""What staff may do in the admin is read in one query (tenants.backends): their own permissions
and their groups', the same answers as Django's two queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import User
from tests.factories import staff

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)  # no permissions remembered on the instance


def test_own_and_group_permissions_in_one_query() -> None:
    agent = staff(email="agent@phonism.test")
    group = Group.objects.create(name="Support")
    group.permissions.add(Permission.objects.get(codename="change_case"))
    agent.groups.add(group)
    agent.user_permissions.add(Permission.objects.get(codename="view_cannedreply"))
    agent = fresh(agent)

    with CaptureQueriesContext(connection) as queries:
        assert agent.has_perm("helpdesk.change_case")
        assert agent.has_perm("helpdesk.view_cannedreply")
        assert not agent.has_perm("helpdesk.delete_case")
        assert agent.has_module_perms("helpdesk")
    assert len(queries) == 1
    assert agent.get_all_permissions() == {"helpdesk.change_case", "helpdesk.view_cannedreply"}
    assert agent.get_group_permissions() == {"helpdesk.change_case"}
    assert agent.get_user_permissions() == {"helpdesk.view_cannedreply"}


def test_none_for_the_inactive_and_everything_for_superusers() -> None:
    agent = staff(email="gone@phonism.test")
    agent.user_permissions.add(Permission.objects.get(codename="change_case"))
    agent.is_active = False
    agent.save()
    assert fresh(agent).get_all_permissions() == set()
    boss = fresh(staff(email="boss@phonism.test", is_superuser=True))
    assert len(boss.get_all_permissions()) == Permission.objects.count()
