"""Inviting people: the person and their membership are written with the invitation email in
one transaction (``tenants.services`` has the other people services, which send nothing)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from helpdesk import notifications
from tenants.branding import brand_for_tenant
from tenants.models import Membership, Role, Tenant, User
from tenants.services import require_people_manager


def member_invite(
    *,
    actor: User,
    tenant: Tenant,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = Role.AGENT,
) -> User:
    """Create the person with no usable password and mail them a link to set one.

    The email comes from the brand the person will see (a sub-customer's reseller's), and links
    to that brand's configured host name (else SITE_URL), so the page they land on wears it
    too; never to the host of the request that asked for the invitation.
    """
    require_people_manager(actor, tenant)
    email = email.strip().lower()
    existing = User.objects.filter(email__iexact=email).select_related("membership").first()
    pending = (
        existing is not None
        and not existing.has_usable_password()
        and getattr(existing, "membership", None) is not None
        and existing.membership.tenant_id == tenant.pk
    )
    if existing is not None and not pending:
        raise ValidationError({"email": "Someone with this email address already has an account."})
    brand = brand_for_tenant(tenant)
    site = brand.site_url
    with transaction.atomic():
        if existing is not None and pending:  # invited, never signed in: send a fresh link
            user = existing
        else:
            user = User.objects.create_user(email, None, first_name=first_name, last_name=last_name)
            Membership.objects.create(user=user, tenant=tenant, role=role)
        # Written with the person and sent by a worker once they exist for sure, from the
        # brand they will see (helpdesk.outbox); a failed send leaves them listed for a
        # re-invite. The link's token is made when the email is rendered, never stored.
        notifications.invitation(user=user, tenant=tenant, inviter=actor, site=site)
    return user
