"""What an email says: an outbox row rendered into a message, in the brand its readers see.

``helpdesk.notifications`` decides who is told what and writes outbox rows; the workers send
each row with ``build_message`` (``helpdesk.tasks``); the outbox itself only stores, sends and
retries.
"""

from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from helpdesk.models import Audience, CaseUpdate, NotificationKind, OutboundEmail
from helpdesk.outbox import mail_domain, thread_id
from helpdesk.reply_address import LOOP_HEADER, reply_address
from intake.models import InboundMessage
from tenants.branding import brand_for_tenant, provider_brand
from tenants.models import Brand, Tenant, User
from tenants.services import invitation_path


def build_message(row: OutboundEmail) -> EmailMultiAlternatives:
    context = render_context(row)
    text = render_to_string(f"emails/{row.kind}.txt", context)
    html = render_to_string(f"emails/{row.kind}.html", context)
    brand = context["brand"]
    # X-Helpdesk-Loop: the intake ignores our own mail if it ever comes back (issue 12).
    headers = {"Message-ID": row.message_id, LOOP_HEADER: mail_domain(brand.from_email)}
    if row.case is not None:
        headers.update(_thread_headers(row, brand))
    if row.auto_submitted:
        # RFC 3834: no vacation responder should answer us; Exchange's own switch likewise.
        headers["Auto-Submitted"] = "auto-generated"
        headers["X-Auto-Response-Suppress"] = "All"
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=text,
        from_email=brand.from_email,
        to=row.recipients,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def _thread_headers(row: OutboundEmail, brand: Brand) -> dict[str, str]:
    """References (and In-Reply-To) that keep a case's emails one conversation in the
    reader's client, including the emails the requester sent us about it; Reply-To routes an
    answer back to the case through a signed address (intake, issue 12)."""
    case = row.case
    assert case is not None  # called for rows about a case only
    thread = thread_id(case.reference, mail_domain(brand.from_email))
    theirs = list(
        InboundMessage.objects.filter(case=case)
        .exclude(message_id="")
        .order_by("received_at", "id")
        .values_list("message_id", flat=True)[:10]
    )
    headers = {"References": " ".join([thread, *(f"<{m}>" for m in theirs)])}
    if theirs:
        headers["In-Reply-To"] = f"<{theirs[-1]}>"
    support = parseaddr(brand.from_email)[1]
    if support:
        headers["Reply-To"] = formataddr((brand.name, reply_address(support, case.reference)))
    return headers


def render_context(row: OutboundEmail) -> dict[str, Any]:
    """What the templates get: the row, its ``data``, the case, the brand the email speaks in
    (``brand``, ``brand_name``), the ``link`` and, by kind, the update or the invitation."""
    case = row.case
    brand = _brand(row)
    context: dict[str, Any] = {"row": row, "data": row.context, "case": case, "brand": brand}
    context["brand_name"] = brand.name
    staff = row.audience in (Audience.STAFF, Audience.ONCALL)
    if case is not None:
        if staff:
            context["link"] = settings.SITE_URL + reverse(
                "admin:helpdesk_case_change", args=[case.pk]
            )
        else:
            context["link"] = brand.site_url + case.get_absolute_url()
    update_id = row.context.get("update_id")
    if update_id:
        context["update"] = CaseUpdate.objects.filter(pk=update_id).first()
    if row.kind == NotificationKind.INVITATION:
        context.update(_invitation(row))
    return context


def _brand(row: OutboundEmail) -> Brand:
    """White label: the requesting side and a reseller's team hear from the brand of the case's
    tier one (a sub-customer's reseller); provider staff and on call from the provider."""
    if row.audience in (Audience.STAFF, Audience.ONCALL):
        return provider_brand()
    tenant = row.case.tenant if row.case is not None else None
    if tenant is None and row.context.get("tenant_id"):
        tenant = Tenant.objects.filter(pk=row.context["tenant_id"]).first()
    return brand_for_tenant(tenant) if tenant is not None else provider_brand()


def _invitation(row: OutboundEmail) -> dict[str, Any]:
    """The invitation's set-password link is made when the email is rendered, never stored:
    the outbox row (which staff can read) holds no token."""
    data = row.context
    user = User.objects.get(pk=data["user_id"])
    return {
        "user": user,
        "tenant": Tenant.objects.get(pk=data["tenant_id"]),
        "inviter": User.objects.filter(pk=data.get("inviter_id")).first(),
        "link": data["site"].rstrip("/") + invitation_path(user),
    }
