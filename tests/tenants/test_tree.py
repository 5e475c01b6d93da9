import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tenants.models import Tenant, TenantKind
from tests.factories import TenantFactory, provider

pytestmark = pytest.mark.django_db


def build(kind: str, parent: Tenant | None, slug: str = "x") -> Tenant:
    return Tenant(name=slug.title(), slug=slug, kind=kind, parent=parent)


def test_it_accepts_the_three_levels() -> None:
    reseller = TenantFactory(kind=TenantKind.RESELLER)
    sub = build(TenantKind.SUBCUSTOMER, reseller, "sub")
    sub.full_clean()
    sub.save()
    assert sub.tier_one == reseller
    assert TenantFactory().tier_one == provider()
    assert reseller.tier_one == provider()


def test_it_refuses_a_subcustomer_under_a_customer() -> None:
    customer = TenantFactory()
    with pytest.raises(ValidationError) as error:
        build(TenantKind.SUBCUSTOMER, customer).full_clean()
    assert error.value.message_dict["parent"] == [
        "A sub-customer must sit directly under a reseller."
    ]


def test_it_refuses_a_fourth_level() -> None:
    reseller = TenantFactory(kind=TenantKind.RESELLER)
    sub = TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)
    for kind in (TenantKind.SUBCUSTOMER, TenantKind.CUSTOMER, TenantKind.RESELLER):
        with pytest.raises(ValidationError) as error:
            build(kind, sub).full_clean()
        assert "must sit directly under" in error.value.message_dict["parent"][0]


def test_it_refuses_a_customer_or_reseller_without_the_provider_as_parent() -> None:
    with pytest.raises(ValidationError) as error:
        build(TenantKind.CUSTOMER, None).full_clean()
    assert error.value.message_dict["parent"] == [
        "A direct customer must sit directly under a provider."
    ]


def test_it_refuses_cycles() -> None:
    reseller = TenantFactory(kind=TenantKind.RESELLER)
    sub = TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)
    # Closing a loop means hanging the reseller under its own sub-customer.
    reseller.parent = sub
    with pytest.raises(ValidationError) as error:
        reseller.full_clean()
    assert error.value.message_dict["parent"] == ["A reseller must sit directly under a provider."]
    reseller.parent = reseller
    with pytest.raises(ValidationError) as error:
        reseller.full_clean()
    assert error.value.message_dict["parent"] == ["A tenant cannot be its own parent."]


def test_it_refuses_a_kind_change_that_strands_children() -> None:
    reseller = TenantFactory(kind=TenantKind.RESELLER)
    TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller, name="Initech")
    reseller.kind = TenantKind.CUSTOMER
    with pytest.raises(ValidationError) as error:
        reseller.full_clean()
    assert error.value.message_dict["kind"] == ["Initech cannot stay under a Direct customer."]


def test_the_database_refuses_a_second_provider_and_a_parentless_customer() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.create(name="Other", slug="other", kind=TenantKind.PROVIDER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Tenant.objects.create(name="Orphan", slug="orphan", kind=TenantKind.CUSTOMER)


def test_a_deactivated_reseller_makes_its_subcustomers_unusable() -> None:
    reseller = TenantFactory(kind=TenantKind.RESELLER)
    sub = TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)
    assert sub.is_usable()
    reseller.is_active = False
    reseller.save()
    sub.refresh_from_db()
    assert not sub.is_usable()
