"""Questions about people and tenants (SPEC §3): who belongs where, who is provider staff, which
tenants a person's work covers, who manages whose people. The case half of the access policy
(which cases, updates, events and attachments a person sees and acts on) is
``helpdesk.access``, built on these answers.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from tenants.brand_models import Brand
from tenants.models import Membership, Tenant, TenantKind, User


class BrandedRequest(HttpRequest):
    """A request as views see it (a type only): ``BrandMiddleware`` has set ``brand``."""

    brand: Brand


class SignedInRequest(BrandedRequest):
    """A request of a view behind ``login_required`` (a type only): its user is a person."""

    user: User


def signed_in(request: HttpRequest) -> User:
    """The person of a request that must have one (the admin's, behind staff sign-in)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user


def membership_of(user) -> Membership | None:
    """The user's membership, with its tenant, fetched once per user object."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def is_provider_staff(user) -> bool:
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_staff):
        return False
    membership = membership_of(user)
    # Defence in depth: a staff flag set by mistake on a customer's member grants nothing.
    return membership is None or membership.tenant.kind == TenantKind.PROVIDER


def active_membership(user) -> Membership | None:
    """The membership of an active user in a usable tenant, else None."""
    membership = membership_of(user)
    if membership is None or not user.is_active or not membership.tenant.is_usable():
        return None
    return membership


def tenants_visible_to(user) -> QuerySet[Tenant]:
    """The tenants whose cases the user may see: their own, plus a reseller's sub-customers."""
    if is_provider_staff(user):
        return Tenant.objects.all()
    membership = active_membership(user)
    if membership is None:
        return Tenant.objects.none()
    tenant = membership.tenant
    if tenant.kind == TenantKind.RESELLER:
        return Tenant.objects.filter(Q(pk=tenant.pk) | Q(parent=tenant))
    return Tenant.objects.filter(pk=tenant.pk)


def can_open_case_for(user, tenant: Tenant) -> bool:
    """Customers' agents open cases for their own tenant; provider staff for anyone."""
    if is_provider_staff(user):
        return True
    membership = active_membership(user)
    return membership is not None and membership.tenant_id == tenant.pk


# --- resellers managing their sub-customers (issue 6) -----------------------------------------


def reseller_of(user) -> Tenant | None:
    """The reseller the user works for (tier-one support people), else None."""
    membership = active_membership(user)
    if membership is None or membership.tenant.kind != TenantKind.RESELLER:
        return None
    return membership.tenant


def reseller_administered_by(user) -> Tenant | None:
    """The reseller whose sub-customers the user manages: reseller admins only."""
    reseller = reseller_of(user)
    return reseller if reseller is not None and user.membership.is_admin else None


def subcustomers_managed_by(user) -> QuerySet[Tenant]:
    """Sub-customers a reseller admin manages; fetch through this so others' ids are a 404."""
    reseller = reseller_administered_by(user)
    if reseller is None:
        return Tenant.objects.none()
    return Tenant.objects.filter(parent=reseller, kind=TenantKind.SUBCUSTOMER)


def can_manage_people_of(user, tenant: Tenant) -> bool:
    """A tenant's own admins manage its people; a reseller's admins also its sub-customers'."""
    membership = active_membership(user)
    if membership is None or not membership.is_admin or tenant.kind == TenantKind.PROVIDER:
        return False
    if membership.tenant_id == tenant.pk:
        return True
    return tenant.kind == TenantKind.SUBCUSTOMER and tenant.parent_id == membership.tenant_id
