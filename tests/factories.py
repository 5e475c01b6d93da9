"""Small builders for the tests that need a world other than the demo one."""

from __future__ import annotations

from datetime import datetime

import factory
import time_machine

from helpdesk import services, tasks
from helpdesk.models import Case, Channel, NotificationIntent, Severity
from tenants.models import Membership, Role, Tenant, TenantKind, User


def provider() -> Tenant:
    # Made by the data migration; a transactional test's flush may have removed it.
    return Tenant.objects.get_or_create(
        kind=TenantKind.PROVIDER, defaults={"name": "Phonism", "slug": "phonism"}
    )[0]


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Customer {n}")
    slug = factory.Sequence(lambda n: f"customer-{n}")
    kind = TenantKind.CUSTOMER
    parent = factory.LazyFunction(provider)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    password = factory.django.Password("pw-for-tests-123")


def member(tenant: Tenant, role: str = Role.AGENT, **fields) -> User:
    user = UserFactory(**fields)
    Membership.objects.create(user=user, tenant=tenant, role=role)
    return user


def staff(**fields) -> User:
    return UserFactory(is_staff=True, **fields)


def open_case(
    tenant: Tenant,
    requester: User,
    severity: int = Severity.MAJOR,
    *,
    at: datetime | None = None,
    **fields,
) -> Case:
    """The tests' one way to open a case: through ``services.case_open``, as ``requester`` on
    the portal, opened ``at`` an instant when given (the clock frozen there)."""
    if at is not None:
        with time_machine.travel(at, tick=False):
            return open_case(tenant, requester, severity, **fields)
    return services.case_open(
        tenant=tenant,
        subject=fields.pop("subject", "Phones cannot register"),
        description=fields.pop("description", "Since 9am every handset shows 'No service'."),
        channel=fields.pop("channel", Channel.PORTAL),
        severity=severity,
        requester=requester,
        opened_by=requester,
        **fields,
    )


def worker_expands(case: Case) -> None:
    """What the worker does after ``case`` is opened: expand its notification intent into
    outbox rows (``helpdesk.tasks.notification_expand``, run here as the tests run tasks)."""
    for pk in NotificationIntent.objects.filter(case=case).values_list("pk", flat=True):
        tasks.notification_expand.apply(args=(pk,))


def case_by(person: User, severity: int = Severity.MAJOR, **fields) -> Case:
    """``open_case`` for ``person``'s own organisation."""
    return open_case(person.membership.tenant, person, severity, **fields)
