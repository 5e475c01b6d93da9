"""User text (descriptions, replies, notes) as safe HTML: CommonMark with raw HTML off, then
sanitised with nh3 against a short allow-list, so that neither the parser nor a future option
can let a script, an event handler, a style or a ``javascript:`` link through."""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

# CommonMark with raw HTML disabled: ``<script>`` typed in a reply stays text. ``breaks``
# keeps the line breaks people type in a plain textarea (what the pages showed before).
# ``linkify`` turns a bare https:// address into a link, as people expect from an email.
_PARSER = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": True}).enable(
    ["linkify", "strikethrough", "table"]
)

# What the markdown above may produce and nothing more; images are left out on purpose (a
# remote image would leak that the page was read, and the CSP refuses it anyway).
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


# Texts up to this length are remembered with their HTML (``_remembered``): a case page shows
# the same replies on every visit, and parsing and cleaning cost about 0.15 ms each. Keyed by the
# text itself, so an edited text is a new entry and never meets the old HTML; at most
# REMEMBERED texts of this size (about 10 MB at worst, far less for replies of usual length).
REMEMBERED_LENGTH = 4000
REMEMBERED = 1024


def render_markdown(text: str) -> str:
    """The HTML for ``text``; safe to mark safe in a template."""
    text = text or ""
    if len(text) > REMEMBERED_LENGTH:
        return _render(text)
    return _remembered(text)


@lru_cache(maxsize=REMEMBERED)
def _remembered(text: str) -> str:
    return _render(text)


def _render(text: str) -> str:
    html = _PARSER.render(text)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener nofollow",
        strip_comments=True,
    )
