"""The form renderer (``FORM_RENDERER``): Django's ``TemplatesSetting``, with the commonest
widgets and labels written in Python.

Every input, select, option, textarea and label of a form goes through a template of its own
(``django/forms/widgets/select.html`` includes ``select_option.html`` per option, each including
``attrs.html``): on the admin case page those were about a third of the template time, and the
portal's forms pay the same. ``FastTemplatesSetting`` writes the markup of those few templates
itself, character for character (``tests/helpdesk/test_form_renderer.py`` compares both for
many widgets), and only while the template that would be used is Django's own: a project
template overriding one of them (in ``templates/django/forms/``) is rendered as a template, as
before. Anything else, or any value it does not expect, goes to the template as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import django.forms
from django.forms.renderers import TemplatesSetting
from django.utils.functional import Promise
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeData, SafeString

DJANGO_FORMS = Path(django.forms.__file__).resolve().parent / "templates"

ATTRS = "django/forms/widgets/attrs.html"
INPUT = "django/forms/widgets/input.html"
OPTION = "django/forms/widgets/select_option.html"
ERRORS_UL = "django/forms/errors/list/ul.html"


class Unexpected(Exception):
    """A value the Python markup does not handle: the template renders it instead."""


def _value(value) -> str:
    """``{{ value|stringformat:'s' }}``: ``"%s" % value``, escaped unless the value was
    already safe (``stringformat`` is a safe filter: it keeps a safe value's safety)."""
    if isinstance(value, tuple | dict):
        raise Unexpected  # "%s" % a tuple means something else; leave it to the template
    text = "%s" % value  # noqa: UP031 - the filter's own formatting
    return text if isinstance(value, SafeData) else escape(text)


def _text(value) -> str:
    """``{{ value }}`` for text (numbers and dates would be localised: left to the template)."""
    if not isinstance(value, str | Promise):
        raise Unexpected
    return conditional_escape(str(value))


def _attrs(attrs: dict | None) -> str:
    """``django/forms/widgets/attrs.html`` (and ``django/forms/attrs.html``, the same)."""
    out = []
    for name, value in (attrs or {}).items():
        if value is False:
            continue
        if value is True:
            out.append(f" {_text(name)}")
        else:
            out.append(f' {_text(name)}="{_value(value)}"')
    return "".join(out)


def _input(widget: dict) -> str:
    value = widget["value"]
    shown = "" if value is None else f' value="{_value(value)}"'
    return (
        f'<input type="{_text(widget["type"])}" '
        f'name="{_text(widget["name"])}"{shown}{_attrs(widget["attrs"])}>'
    )


def _option(option: dict) -> str:
    if option.get("template_name") != OPTION:
        raise Unexpected
    return (
        f'<option value="{_value(option["value"])}"{_attrs(option["attrs"])}>'
        f"{_text(option['label'])}</option>\n"
    )


def _select(widget: dict) -> str:
    out = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _ in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            out.append(f"\n  {_option(option)}")
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


def _textarea(widget: dict) -> str:
    value = widget["value"]
    return (
        f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n'
        f"{_text(value) if value else ''}</textarea>"
    )


def _label(context: dict) -> str:
    label = _text(context["label"])
    if not context["use_tag"]:
        return label
    tag = _text(context["tag"])
    return f"<{tag}{_attrs(context['attrs'])}>{label}</{tag}>"


def _error_list(context: dict) -> str:
    """``django/forms/errors/list/ul.html``: nothing for no error (every field of a form asks,
    errors or not), else the list, with its field's id when it has one."""
    errors = context["errors"]
    if not errors:
        return ""
    field_id = getattr(errors, "field_id", None)
    named = f' id="{_text(field_id)}_error"' if field_id else ""
    items = "".join(f"<li>{_text(error)}</li>" for error in errors)
    return f'<ul class="{_text(context["error_class"])}"{named}>{items}</ul>'


def _widget(write: Callable[[dict], str]) -> Callable[[dict], str]:
    return lambda context: write(context["widget"])


# Each template written in Python, with the templates its markup stands for (all of which must
# be Django's own for it to be used).
FAST: dict[str, tuple[Callable[[dict], str], tuple[str, ...]]] = {
    **{
        f"django/forms/widgets/{name}.html": (_widget(_input), (INPUT, ATTRS))
        for name in (
            "input", "hidden", "text", "email", "number", "password", "url", "date", "time",
            "datetime", "search", "tel", "color",
        )
    },
    "django/forms/widgets/select.html": (_widget(_select), (ATTRS, OPTION)),
    "django/forms/widgets/textarea.html": (_widget(_textarea), (ATTRS,)),
    "django/forms/label.html": (_label, ("django/forms/attrs.html",)),
    "django/forms/errors/list/ul.html": (_error_list, ()),
    "django/forms/errors/list/default.html": (_error_list, (ERRORS_UL,)),
}  # fmt: skip


class FastTemplatesSetting(TemplatesSetting):
    """``TemplatesSetting`` with the templates in ``FAST`` written in Python while they are
    Django's own."""

    def __init__(self) -> None:
        super().__init__()
        self._own: dict[str, bool] = {}

    def _django_own(self, template_name: str) -> bool:
        own = self._own.get(template_name)
        if own is None:
            template = self.get_template(template_name)
            origin = Path(getattr(getattr(template, "origin", None), "name", "") or "").resolve()
            own = self._own[template_name] = origin.is_relative_to(DJANGO_FORMS)
        return own

    def render(self, template_name, context, request=None) -> str:
        fast = FAST.get(template_name)
        if fast is not None and request is None:
            write, stands_for = fast
            if self._django_own(template_name) and all(map(self._django_own, stands_for)):
                try:
                    return SafeString(write(context))
                except (Unexpected, KeyError):
                    pass
        return super().render(template_name, context, request=request)
