"""Who may see and act on what: the one access policy (SPEC §3, ARCHITECTURE "One access policy").

Every view and form fetches cases, updates, events and attachments through the querysets here,
e.g. ``get_object_or_404(cases_visible_to(user), reference=ref)``. An object outside the viewer's
reach is then simply not found: a 404, never a 403, so existence is not disclosed.

The rules:
- provider staff (active ``is_staff`` users who are not a customer's member) see everything;
- a member of a tenant sees every case of that tenant, whoever opened it;
- a reseller's members also see every case of the reseller's sub-customers (they are tier one);
- on a case, the requesting side sees public updates only; the tier-one side of a
  sub-customer's case (the reseller) also sees the reseller's internal notes; provider notes
  are for provider staff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from tenants.models import Membership, Tenant, TenantKind

if TYPE_CHECKING:
    from helpdesk.models import Attachment, Case, CaseEvent, CaseUpdate


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


def _active_membership(user) -> Membership | None:
    membership = membership_of(user)
    if membership is None or not user.is_active or not membership.tenant.is_usable():
        return None
    return membership


def tenants_visible_to(user) -> QuerySet[Tenant]:
    """The tenants whose cases the user may see: their own, plus a reseller's sub-customers."""
    if is_provider_staff(user):
        return Tenant.objects.all()
    membership = _active_membership(user)
    if membership is None:
        return Tenant.objects.none()
    tenant = membership.tenant
    if tenant.kind == TenantKind.RESELLER:
        return Tenant.objects.filter(Q(pk=tenant.pk) | Q(parent=tenant))
    return Tenant.objects.filter(pk=tenant.pk)


def _case_tenant_filter(user, prefix: str = "") -> Q | None:
    """A filter on cases (through ``prefix``) for the user; None means no restriction."""
    if is_provider_staff(user):
        return None
    membership = _active_membership(user)
    if membership is None:
        return Q(pk__in=[])
    tenant = membership.tenant
    own = Q(**{f"{prefix}tenant": tenant})
    if tenant.kind == TenantKind.RESELLER:
        return own | Q(**{f"{prefix}tenant__parent": tenant})
    return own


def cases_visible_to(user) -> QuerySet[Case]:
    from helpdesk.models import Case

    condition = _case_tenant_filter(user)
    return Case.objects.all() if condition is None else Case.objects.filter(condition)


def _visibilities_for(user, prefix: str) -> Q | None:
    """Which update visibilities the user sees, expressed on the related case via ``prefix``."""
    from helpdesk.models import Visibility

    if is_provider_staff(user):
        return None
    membership = _active_membership(user)
    if membership is None:
        return Q(pk__in=[])
    tenant = membership.tenant
    public = Q(visibility=Visibility.PUBLIC)
    if tenant.kind == TenantKind.RESELLER:
        # On its sub-customers' cases the reseller is the support side: it sees its own notes
        # and the escalation thread it holds with the provider.
        tier_one_side = Q(visibility__in=[Visibility.RESELLER_NOTE, Visibility.ESCALATION]) & Q(
            **{f"{prefix}tenant__parent": tenant}
        )
        return public | tier_one_side
    return public


def updates_visible_to(user) -> QuerySet[CaseUpdate]:
    from helpdesk.models import CaseUpdate

    return _filter(CaseUpdate.objects.all(), user, "case__")


def events_visible_to(user) -> QuerySet[CaseEvent]:
    from helpdesk.models import CaseEvent

    return _filter(CaseEvent.objects.all(), user, "case__")


def attachments_visible_to(user) -> QuerySet[Attachment]:
    from helpdesk.models import Attachment

    qs = Attachment.objects.all()
    if is_provider_staff(user):
        return qs
    # An attachment is visible when its update is (the update carries the visibility); one sent
    # with the opening request has no update and is as visible as its case.
    updates = updates_visible_to(user).values("pk")
    cases = cases_visible_to(user).values("pk")
    return qs.filter(Q(update__in=updates) | Q(update__isnull=True, case__in=cases))


def _filter(qs: QuerySet, user, prefix: str) -> QuerySet:
    tenant_q = _case_tenant_filter(user, prefix)
    visibility_q = _visibilities_for(user, prefix)
    for condition in (tenant_q, visibility_q):
        if condition is not None:
            qs = qs.filter(condition)
    return qs


# --- acting on a case -------------------------------------------------------------------------


def is_support_side(user, case: Case) -> bool:
    """Whether the user answers this case: provider staff, or the members of its tier one."""
    if is_provider_staff(user):
        return True
    membership = _active_membership(user)
    if membership is None:
        return False
    tier_one = case.tenant.tier_one
    return tier_one.kind == TenantKind.RESELLER and membership.tenant_id == tier_one.pk


def is_requesting_side(user, case: Case) -> bool:
    """Whether the user is a member of the tenant that asked for help."""
    membership = _active_membership(user)
    return membership is not None and membership.tenant_id == case.tenant_id


def can_act_on_case(user, case: Case) -> bool:
    return is_support_side(user, case) or is_requesting_side(user, case)


def can_open_case_for(user, tenant: Tenant) -> bool:
    """Customers' agents open cases for their own tenant; provider staff for anyone."""
    if is_provider_staff(user):
        return True
    membership = _active_membership(user)
    return membership is not None and membership.tenant_id == tenant.pk


# --- resellers managing their sub-customers (issue 6) -----------------------------------------


def reseller_of(user) -> Tenant | None:
    """The reseller the user works for (tier-one support people), else None."""
    membership = _active_membership(user)
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
    membership = _active_membership(user)
    if membership is None or not membership.is_admin or tenant.kind == TenantKind.PROVIDER:
        return False
    if membership.tenant_id == tenant.pk:
        return True
    return tenant.kind == TenantKind.SUBCUSTOMER and tenant.parent_id == membership.tenant_id
