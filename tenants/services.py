"""Writes on people: tenant admins invite and deactivate their organisation's agents."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tenants.access import membership_of
from tenants.models import Membership, Role, Tenant, User


def _require_tenant_admin(actor: User, tenant: Tenant) -> None:
    membership = membership_of(actor)
    if membership is None or membership.tenant_id != tenant.pk or not membership.is_admin:
        raise PermissionDenied("Only your organisation's admins manage its people.")


def invitation_path(user: User) -> str:
    """The set-password link of an invitation; valid until used (the token covers the password)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("invitation-accept", args=[uid, default_token_generator.make_token(user)])


def member_invite(
    *,
    actor: User,
    tenant: Tenant,
    email: str,
    first_name: str = "",
    last_name: str = "",
    role: str = Role.AGENT,
    base_url: str,
) -> User:
    """Create the person with no usable password and mail them a link to set one."""
    _require_tenant_admin(actor, tenant)
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
    with transaction.atomic():
        if pending:  # invited before but never signed in: send a fresh link
            user = existing
        else:
            user = User.objects.create_user(email, None, first_name=first_name, last_name=last_name)
            Membership.objects.create(user=user, tenant=tenant, role=role)
        link = base_url.rstrip("/") + invitation_path(user)
        context = {"user": user, "tenant": tenant, "inviter": actor, "link": link}
        subject = f"You're invited to {tenant.name}'s support desk"
        body = render_to_string("emails/invitation.txt", context)
        # Sent once the person exists for sure; a failed send leaves them listed for a re-invite.
        transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return user


def member_set_active(*, actor: User, member: User, active: bool) -> User:
    membership = membership_of(member)
    if membership is None:
        raise PermissionDenied("Not a member of an organisation.")
    _require_tenant_admin(actor, membership.tenant)
    if member.pk == actor.pk and not active:
        raise ValidationError("You cannot deactivate yourself; ask another admin.")
    member.is_active = active
    member.save(update_fields=["is_active"])
    return member
