"""Canned replies filled in for one case: each ``{name}`` placeholder becomes the case's value;
an unknown one stays as typed so a typo shows instead of vanishing. Plain substitution, not
``str.format``: a body can never reach attributes of the values.

A canned reply is inserted into the reply box, never sent as it stands: the person edits it
(static/js/canned.js inserts at the cursor; without script the server appends it)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable

from django.db.models.signals import post_delete, post_save

from helpdesk.models import CannedReply, Case
from tenants.memo import StampedMemo
from tenants.models import Tenant, User, rows_written

PLACEHOLDER = re.compile(r"\{(\w+)\}")
# What each placeholder becomes, for the people who write canned replies.
PLACEHOLDERS = {
    "requester_name": "the requester's name (or address)",
    "reference": "the case reference, e.g. CS-10042",
    "subject": "the case's subject",
    "organisation": "the customer's name",
    "agent_name": "your name (whoever inserts the reply)",
}


def placeholders(case: Case, agent: User) -> dict[str, str]:
    requester = case.requester
    requester_name = (requester.get_full_name() if requester else "") or case.requester_email
    return {
        "requester_name": requester_name,
        "reference": case.reference,
        "subject": case.subject,
        "organisation": case.tenant.name,
        "agent_name": agent.get_full_name() or agent.email,
    }


def canned_reply_text(reply: CannedReply, case: Case, agent: User) -> str:
    values = placeholders(case, agent)
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), reply.body)


def canned_texts(replies: Iterable[CannedReply], case: Case, agent: User) -> dict[str, str]:
    """Each reply's text filled in for this case, by id: what the picker inserts."""
    return {str(reply.pk): canned_reply_text(reply, case, agent) for reply in replies}


def insert_at_end(body: str, text: str) -> str:
    """The reply box after inserting ``text`` where no cursor is known (a page without
    script, or the server): after what is already written, as its own paragraph."""
    body = body.rstrip()
    return f"{body}\n\n{text}" if body else text


# Each team's canned replies, remembered per process (``tenants.memo``): every case page of the
# support side offers them, and a team writes them rarely. Forgotten in every process when a
# canned reply is saved or deleted, or a tenant written (the provider's team is found by its
# kind). Read through ``helpdesk.access.canned_replies_offered_to``, never directly.
CANNED_REPLIES = StampedMemo("canned-replies")


def remembered_replies(key: tuple, load) -> list[CannedReply]:
    """The replies under ``key`` (``load()``-ed once), each a copy: a caller may change its
    own without changing what the next request reads."""
    return [copy.copy(reply) for reply in CANNED_REPLIES.get(key, load)]


def _canned_written(sender, **kwargs) -> None:
    CANNED_REPLIES.forget()


def connect_signals() -> None:
    """From ``HelpdeskConfig.ready``."""
    for model in (CannedReply, Tenant):
        name = model.__name__
        post_save.connect(_canned_written, sender=model, dispatch_uid=f"canned_saved_{name}")
        post_delete.connect(_canned_written, sender=model, dispatch_uid=f"canned_deleted_{name}")
    rows_written.connect(_canned_written, sender=Tenant, dispatch_uid="canned_bulk_Tenant")
