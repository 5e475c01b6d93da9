"""Writes on tenants and people: admins deactivate their organisation's agents; a reseller's
admins also create and manage its sub-customers and their people (SPEC §3). Inviting a person
also sends an email, so it is a case-side service: ``helpdesk.services.people.member_invite``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify

from tenants import access
from tenants.models import Role, Tenant, TenantKind, User

if TYPE_CHECKING:  # a type only: tenants' logic imports nothing from sla
    from sla.models import Plan


def require_people_manager(actor: User, tenant: Tenant) -> None:
    if not access.can_manage_people_of(actor, tenant):
        raise PermissionDenied("Only your organisation's admins manage its people.")


def _require_reseller_admin(actor: User, reseller: Tenant) -> None:
    if access.reseller_administered_by(actor) != reseller:
        raise PermissionDenied("Only the reseller's admins manage its customers.")


def _require_subcustomer_of(actor: User, subcustomer: Tenant) -> None:
    reseller = access.reseller_administered_by(actor)
    if (
        reseller is None
        or subcustomer.kind != TenantKind.SUBCUSTOMER
        or subcustomer.parent_id != reseller.pk
    ):
        raise PermissionDenied("Only the reseller's admins manage its customers.")


def invitation_path(user: User) -> str:
    """The set-password link of an invitation; valid until used (the token covers the password)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("invitation-accept", args=[uid, default_token_generator.make_token(user)])


def member_set_active(*, actor: User, member: User, active: bool) -> User:
    membership = access.membership_of(member)
    if membership is None:
        raise PermissionDenied("Not a member of an organisation.")
    require_people_manager(actor, membership.tenant)
    if member.pk == actor.pk and not active:
        raise ValidationError("You cannot deactivate yourself; ask another admin.")
    member.is_active = active
    member.save(update_fields=["is_active"])
    return member


def member_set_role(*, actor: User, member: User, role: str) -> User:
    """Make a person an agent or an admin of their organisation. An admin cannot demote
    themselves: an organisation must not lose its last way to manage its people by accident."""
    membership = access.membership_of(member)
    if membership is None:
        raise PermissionDenied("Not a member of an organisation.")
    require_people_manager(actor, membership.tenant)
    if role not in Role.values:
        raise ValidationError({"role": "Choose agent or admin."})
    if member.pk == actor.pk and role != membership.role:
        raise ValidationError({"role": "You cannot change your own role; ask another admin."})
    membership.role = role
    membership.save(update_fields=["role"])
    return member


# --- a reseller's sub-customers -----------------------------------------------------------------
# Decision: resellers set names, short names and time zones. The contract's terms (customer
# priority, the emergency on-call entitlement, a tenant's own SLA plan) are between Phonism and
# its customers, so Phonism staff set them in the admin; resellers cannot.


def _check_slug_free(slug: str, exclude: Tenant | None = None) -> None:
    taken = Tenant.objects.filter(slug=slug)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise ValidationError({"slug": f"“{slug}” is taken; choose another short name."})


def subcustomer_create(
    *, actor: User, reseller: Tenant, name: str, slug: str = "", timezone: str = ""
) -> Tenant:
    _require_reseller_admin(actor, reseller)
    slug = slug or slugify(name)[:60]
    _check_slug_free(slug)
    tenant = Tenant(
        name=name.strip(),
        slug=slug,
        kind=TenantKind.SUBCUSTOMER,
        parent=reseller,
        timezone=timezone or reseller.timezone,
    )
    tenant.full_clean()
    tenant.save()
    return tenant


def subcustomer_update(*, actor: User, subcustomer: Tenant, name: str, timezone: str) -> Tenant:
    _require_subcustomer_of(actor, subcustomer)
    subcustomer.name = name.strip()
    subcustomer.timezone = timezone
    subcustomer.full_clean()
    subcustomer.save(update_fields=["name", "timezone"])
    return subcustomer


def subcustomer_set_active(*, actor: User, subcustomer: Tenant, active: bool) -> Tenant:
    """Deactivating blocks its people's sign-in and new cases and ends their sessions
    (tenants.backends); it deletes nothing, and reactivating restores everything."""
    _require_subcustomer_of(actor, subcustomer)
    subcustomer.is_active = active
    subcustomer.save(update_fields=["is_active"])
    return subcustomer


def reseller_set_tier_one_plan(*, actor: User, reseller: Tenant, plan: Plan | None) -> Tenant:
    """The targets the reseller's tier one gives its sub-customers; None means the default plan.
    New cases use it; due times already promised stay (clocks copy their target)."""
    _require_reseller_admin(actor, reseller)
    reseller.tier_one_plan = plan
    reseller.full_clean()
    reseller.save(update_fields=["tier_one_plan"])
    return reseller
