"""The admin case page's fieldsets written in Python (``{% case_fieldset %}``).

Django's ``admin/includes/fieldset.html`` evaluates a dozen tags and lookups for every field (its
line's length three times, its errors, its label, whether it is read-only, hidden, a checkbox,
its help text); with the reply form's fieldset that was about a third of the case page's
template time. This writes the same markup as that template for the fieldsets the case page
has (one field per line, not collapsible, no description): the same elements, classes, ids and
text, only with less whitespace between the tags. Anything else is left to Django's template.
Widgets are still rendered by their own templates (``BoundField.__str__``).
"""

from __future__ import annotations

from django import template
from django.contrib.admin.helpers import Fieldset
from django.template.loader import render_to_string
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag
def case_fieldset(
    fieldset: Fieldset, heading_level: int, prefix: str, id_prefix: int, id_suffix: int
) -> SafeString:  # django-stubs' Fieldset lacks the attributes Django sets in __init__
    """``{% include "admin/includes/fieldset.html" with heading_level=… prefix=… id_prefix=…
    id_suffix=… %}``, written here when the fieldset is of the kind the case page has."""
    names = list(fieldset.fields)  # type: ignore[attr-defined]
    simple = (
        all(isinstance(name, str) for name in names)
        and not fieldset.description
        and not fieldset.is_collapsible
    )
    if not simple:
        return render_to_string(
            "admin/includes/fieldset.html",
            {
                "fieldset": fieldset,
                "heading_level": heading_level,
                "prefix": prefix,
                "id_prefix": id_prefix,
                "id_suffix": id_suffix,
            },
        )
    esc = conditional_escape
    heading_id = f"{esc(prefix)}-{esc(str(id_prefix))}-{esc(str(id_suffix))}-heading"
    out = [f'<fieldset class="module aligned {esc(fieldset.classes)}"']
    name = fieldset.name  # type: ignore[attr-defined]
    if name:
        out.append(
            f' aria-labelledby="{heading_id}">\n<h{heading_level} id="{heading_id}" '
            f'class="fieldset-heading">{esc(name)}</h{heading_level}>\n'
        )
    else:
        out.append(">\n")
    for line in fieldset:
        out.append(_line(line))
    out.append("</fieldset>")
    return mark_safe("".join(out))  # noqa: S308 - every value escaped or already safe HTML


def _line(line) -> str:
    """One line of one field, as the template writes a line whose ``fields|length`` is 1."""
    esc = conditional_escape
    (field,) = list(line)
    errors = line.errors()
    name = field.field["name"] if field.is_readonly else field.field.name
    classes = "form-row"
    if errors:
        classes += " errors"
    if not line.has_visible_field:
        classes += " hidden"
    if name:
        classes += f" field-{esc(name)}"
    box = "flex-container checkbox-row" if field.is_checkbox else "flex-container"
    if field.is_checkbox:
        inner = f"{field.field}{field.label_tag()}"
    elif field.is_readonly:
        inner = f'{field.label_tag()}\n<div class="readonly">{esc(field.contents())}</div>'
    else:
        inner = f"{field.label_tag()}\n{field.field}"
    if field.is_readonly:
        help_text, hidden, label_id = field.field["help_text"], field.field["is_hidden"], ""
    else:
        bound = field.field
        help_text, hidden, label_id = bound.help_text, bound.is_hidden, bound.id_for_label
    help_html = ""
    if help_text:
        shown = " hidden" if hidden else ""
        named = f' id="{esc(label_id)}_helptext"' if label_id else ""
        help_html = f'<div class="help{shown}"{named}>\n<div>{help_text}</div>\n</div>\n'
    return (
        f'<div class="{classes}">\n{errors}\n<div>\n<div class="{box}">\n{inner}\n</div>\n'
        f"{help_html}</div>\n</div>\n"
    )
