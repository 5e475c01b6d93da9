"""Each web process remembers the people who sign in (issue 10: no user query per request), and
every change that matters to a session reaches its next request at once: deactivation, a new
password, a deactivated organisation or reseller, a move to another organisation.

Committed (transactional) tests: the memory is only kept across transactions, as in
production."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tenants.backends import ActiveTenantBackend
from tenants.memo import StampedMemo
from tenants.models import PEOPLE, Membership, Tenant, TenantKind, User
from tests.factories import TenantFactory, member, open_case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _memo_on(settings) -> None:
    settings.PEOPLE_MEMO = True


@pytest.fixture
def world() -> dict:
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    initech = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    acme = TenantFactory(name="Acme")
    globex = TenantFactory(name="Globex")
    return {
        "reseller": reseller,
        "acme": acme,
        "globex": globex,
        "ann": member(acme),
        "gina": member(globex),
        "ivan": member(initech),
    }


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def may_see_cases(client: Client) -> bool:
    response = client.get(reverse("case-list"))
    assert response.status_code in (200, 302)
    return response.status_code == 200


def user_queries(queries: CaptureQueriesContext) -> list[str]:
    """The look-up of the request's person (not a page's lists of people)."""
    return [q["sql"] for q in queries if 'WHERE "tenants_user"."id" = ' in q["sql"]]


def test_the_second_request_reads_no_person_and_no_organisation(world) -> None:
    client = signed_in(world["ivan"])  # a sub-customer: its reseller and the provider above
    assert client.get(reverse("case-new")).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("case-new")).status_code == 200
    assert not user_queries(queries)
    assert not [q for q in queries if 'FROM "tenants_tenant"' in q["sql"]]


def test_a_deactivated_person_is_out_at_the_next_request(world) -> None:
    client = signed_in(world["ann"])
    assert may_see_cases(client)
    ann = User.objects.get(pk=world["ann"].pk)
    ann.is_active = False
    with transaction.atomic():  # as the admin saves
        ann.save()
    assert not may_see_cases(client)


def test_people_deactivated_in_bulk_are_out_at_the_next_request(world) -> None:
    client = signed_in(world["ann"])
    assert may_see_cases(client)
    User.objects.filter(membership__tenant=world["acme"]).update(is_active=False)
    assert not may_see_cases(client)


def test_a_new_password_ends_the_other_sessions(world) -> None:
    client = signed_in(world["ann"])
    assert may_see_cases(client)
    ann = User.objects.get(pk=world["ann"].pk)
    ann.set_password("a-brand-new-password-42")
    ann.save()
    assert not may_see_cases(client)


@pytest.mark.parametrize("who", ["acme", "reseller"])
def test_a_deactivated_organisation_or_reseller_signs_its_people_out(world, who) -> None:
    person = world["ann"] if who == "acme" else world["ivan"]
    client = signed_in(person)
    assert may_see_cases(client)
    tenant = Tenant.objects.get(pk=world[who].pk)
    tenant.is_active = False
    tenant.save()
    assert not may_see_cases(client)


def test_a_person_moved_to_another_organisation_sees_its_cases_at_once(world) -> None:
    acme_case = open_case(world["acme"], world["ann"])
    globex_case = open_case(world["globex"], world["gina"])
    client = signed_in(world["ann"])
    assert client.get(acme_case.get_absolute_url()).status_code == 200
    Membership.objects.filter(user=world["ann"]).update(tenant=world["globex"])
    assert client.get(acme_case.get_absolute_url()).status_code == 404
    assert client.get(globex_case.get_absolute_url()).status_code == 200


def test_each_request_gets_its_own_copy(world) -> None:
    backend = ActiveTenantBackend()
    first = backend.get_user(world["ann"].pk)
    first.otp_device = "set by one request"
    first.membership.tenant.name = "changed in memory only"
    second = backend.get_user(world["ann"].pk)
    assert second is not first and not hasattr(second, "otp_device")
    assert second.membership.tenant.name == "Acme"


def test_another_process_reads_people_again_after_a_change(world) -> None:
    other = StampedMemo(PEOPLE.name)
    loads: list[int] = []
    other.get(world["ann"].pk, lambda: loads.append(1))
    other.get(world["ann"].pk, lambda: loads.append(1))
    Tenant.objects.filter(pk=world["acme"].pk).update(emergency_entitlement=True)
    other.get(world["ann"].pk, lambda: loads.append(1))
    assert len(loads) == 2


def test_without_a_shared_cache_every_request_reads_the_person(world, settings) -> None:
    settings.PEOPLE_MEMO = False
    client = signed_in(world["ann"])
    may_see_cases(client)
    with CaptureQueriesContext(connection) as queries:
        assert may_see_cases(client)
    assert user_queries(queries)


def test_an_app_turned_on_elsewhere_asks_this_session_for_a_code(world) -> None:
    client = signed_in(world["ann"])
    assert may_see_cases(client)
    TOTPDevice.objects.create(user=world["ann"], name="Phone", confirmed=True)
    response = client.get(reverse("case-list"))
    assert response["Location"].startswith(reverse("two-factor-verify"))


def staff_with_group() -> tuple[User, Client]:
    """A staff member whose admin rights come from a group, signed in with their second
    factor (the admin opens for nobody else)."""
    from django.contrib.auth.models import Group  # noqa: PLC0415
    from django_otp import DEVICE_ID_SESSION_KEY  # noqa: PLC0415

    staff = User.objects.create_user("sam@phonism.test", "a-long-password-42", is_staff=True)
    group = Group.objects.create(name="Bench readers")
    staff.groups.add(group)
    device = TOTPDevice.objects.create(user=staff, name="app", confirmed=True)
    client = signed_in(staff)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return staff, client


def may_open_tenants(client: Client) -> bool:
    response = client.get(reverse("admin:tenants_tenant_changelist"))
    assert response.status_code in (200, 302, 403)
    return response.status_code == 200


def permission(codename: str):
    from django.contrib.auth.models import Permission  # noqa: PLC0415

    return Permission.objects.get(content_type__app_label="tenants", codename=codename)


def test_staff_permissions_are_read_once_and_follow_every_change(world) -> None:
    staff, client = staff_with_group()
    group = staff.groups.get()
    assert not may_open_tenants(client)
    # A permission given to the group: the next page has it.
    group.permissions.add(permission("view_tenant"))
    assert may_open_tenants(client)
    with CaptureQueriesContext(connection) as queries:
        assert may_open_tenants(client)
    assert not [q for q in queries if 'FROM "auth_permission"' in q["sql"]]
    # Taken from the group, the person taken out of the group, the group deleted: gone at once.
    group.permissions.remove(permission("view_tenant"))
    assert not may_open_tenants(client)
    group.permissions.add(permission("view_tenant"))
    assert may_open_tenants(client)
    staff.groups.clear()
    assert not may_open_tenants(client)
    # The person's own permission, given and taken.
    staff.user_permissions.add(permission("view_tenant"))
    assert may_open_tenants(client)
    staff.user_permissions.remove(permission("view_tenant"))
    assert not may_open_tenants(client)
    # From the group's side: its people set, then the group deleted.
    group.user_set.add(staff)
    assert may_open_tenants(client)
    group.delete()
    assert not may_open_tenants(client)
    # Made a superuser: everything, at once.
    User.objects.filter(pk=staff.pk).update(is_superuser=True)
    assert may_open_tenants(client)
