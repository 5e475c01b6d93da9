"""The portal's case timeline (``templates/helpdesk/case_detail.html``) as HTML, one entry at a
time: each reply and event is written by ``templates/helpdesk/_timeline_entry.html`` once, then
remembered by everything it shows (``helpdesk.rowmemo``), so opening a case again writes only
its new entries. A long timeline was a third of the page's time (issue 10), written through the
template language cell by cell on every visit."""

from __future__ import annotations

from collections.abc import Iterable

from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from helpdesk.models import CaseEvent, CaseUpdate
from helpdesk.rowmemo import RowMemo

TEMPLATE = "helpdesk/_timeline_entry.html"
# An entry is its text in Markdown with its markup around it: longer than the admin's rows.
# At most 4,096 entries of texts up to 2,000 characters (HTML up to 4,000): about 25 MB per
# process in the worst case, a few MB for entries of usual length.
ENTRIES = RowMemo(size=4096, longest=2000)


def timeline_html(
    items: Iterable[CaseUpdate | CaseEvent], *, support_side: bool, pass_on_to: str | None
) -> list[SafeString]:
    """Each entry's HTML, in the order given. Updates carry what the page worked out for them:
    ``author_name``, ``author_org`` and ``files`` (their attachments the viewer sees).
    ``support_side`` shows each update's kind; ``pass_on_to`` (the requesting organisation's
    name, for the support side of a sub-customer's case) offers to pass escalation messages
    on."""
    template = get_template(TEMPLATE)
    # What every entry's HTML also depends on: the viewer's zone and language (times, words),
    # the address prefix of links, and the page's two switches.
    shared = (
        timezone.get_current_timezone(),
        get_language(),
        get_script_prefix(),
        support_side,
        pass_on_to,
    )
    html = []
    for item in items:
        key = _shown(item)
        if key is not None:
            key = (*shared, *key)
            remembered = ENTRIES.get(key)
            if remembered is not None:
                html.append(remembered)
                continue
        context = {
            "item": item,
            "is_update": isinstance(item, CaseUpdate),
            "support_side": support_side,
            "pass_on_to": pass_on_to,
        }
        entry = mark_safe(template.render(context))  # noqa: S308 - the template escapes
        if key is not None:
            ENTRIES.remember(key, entry)
        html.append(entry)
    return html


def _shown(item: CaseUpdate | CaseEvent) -> tuple | None:
    """Every value the entry shows, to find its HTML again; None to write it every time (a
    text too long to be worth keeping)."""
    if isinstance(item, CaseUpdate):
        if len(item.body) > ENTRIES.longest:
            return None
        files = tuple(
            (f.pk, f.filename, f.size, f.content_type)
            for f in item.files  # type: ignore[attr-defined]
        )
        return (
            "update",
            item.pk,
            item.created_at,
            item.visibility,
            item.author_name,  # type: ignore[attr-defined]
            item.author_org,  # type: ignore[attr-defined]
            item.body,
            files,
        )
    if len(item.reason) > ENTRIES.longest:
        return None
    actor = item.actor
    shown_as = None if actor is None else (actor.get_full_name() or actor.email)
    return (
        "event",
        item.pk,
        item.created_at,
        item.kind,
        item.old_value,
        item.new_value,
        shown_as,
        item.reason,
    )
