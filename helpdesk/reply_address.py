"""Signed reply addresses (issue 12 §4): notifications carry ``Reply-To:
support+cs-10042.<signature>@brand-domain`` so a reply finds its case even when the customer
changes the subject and their client drops In-Reply-To. The signature (an HMAC with
SECRET_KEY) stops anyone from forging an address for another case; the sender must still be
allowed to act on the case, which the intake checks."""

from __future__ import annotations

import re

from django.utils.crypto import constant_time_compare, salted_hmac

SALT = "helpdesk.reply-address"
# Every email we send carries it; the intake ignores mail that has it (a loop coming back).
LOOP_HEADER = "X-Helpdesk-Loop"
TAG_RE = re.compile(r"^[^@+]+\+(cs-\d{1,12})\.([0-9a-f]{12})@", re.IGNORECASE)


def _signature(reference: str) -> str:
    return salted_hmac(SALT, reference.upper(), algorithm="sha256").hexdigest()[:12]


def reply_address(support_email: str, reference: str) -> str:
    local, _, domain = support_email.partition("@")
    if not domain:
        return support_email
    return f"{local}+{reference.lower()}.{_signature(reference)}@{domain}"


def reference_from_address(address: str) -> str:
    """The case reference in a signed reply address, or "" (unsigned or forged)."""
    match = TAG_RE.match(address.strip())
    if not match:
        return ""
    reference = match.group(1).upper()
    return reference if constant_time_compare(match.group(2).lower(), _signature(reference)) else ""
