"""Template filters for people's text on the case pages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString, mark_safe

from helpdesk.markdown import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """``{{ update.body|markdown }}``: CommonMark, sanitised (``helpdesk.markdown``)."""
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 just above
