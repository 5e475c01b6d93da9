"""The form renderer writes the commonest widgets in Python (helpdesk.form_renderer): what it
writes is what Django's templates write, character for character, and a project's own template
for a widget still wins."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import TemplatesSetting
from django.test import override_settings
from django.utils.safestring import mark_safe

from helpdesk.form_renderer import FastTemplatesSetting

PLANETS = [("Inner", [(1, "Mercury"), (2, "Venus & <Earth>")]), ("", [(3, "Mars")]), (4, "Pluto")]


class Everything(forms.Form):
    name = forms.CharField(initial='O\'Brien <b>"&"</b>', help_text="Your <name>")
    email = forms.EmailField(required=False, widget=forms.EmailInput(attrs={"autofocus": True}))
    count = forms.IntegerField(initial=1500, min_value=0)
    ratio = forms.FloatField(initial=0.25, required=False)
    secret = forms.CharField(widget=forms.PasswordInput, required=False)
    token = forms.CharField(widget=forms.HiddenInput, initial="a&b")
    day = forms.DateField(initial="2026-11-27", required=False)
    site = forms.URLField(
        required=False, assume_scheme="https", widget=forms.URLInput(attrs={"data-x": None})
    )
    planet = forms.ChoiceField(choices=PLANETS, initial=2)
    several = forms.MultipleChoiceField(choices=PLANETS, initial=[1, 3], required=False)
    plain = forms.ChoiceField(choices=[("", "---------"), ("a", "A"), ("b", "B")], required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), initial="<script>\nline")
    empty = forms.CharField(widget=forms.Textarea, required=False)
    agree = forms.BooleanField(required=False)  # a checkbox: its template, not written here
    way = forms.ChoiceField(choices=[("x", "X")], widget=forms.RadioSelect, required=False)
    files = forms.FileField(required=False)


def rendered(renderer, form_class=Everything, **kwargs) -> list[str]:
    form = form_class(renderer=renderer, **kwargs)
    out = []
    for field in form:
        out += [str(field), field.label_tag(), field.legend_tag(), str(field.as_field_group())]
    return [*out, form.as_div(), form.as_p()]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"auto_id": False},  # labels without a tag
        {"data": {"name": "", "count": "-3", "planet": "9", "email": "x", "body": "a<b"}},
        {"prefix": "updates-2-0"},
    ],
)
def test_the_python_markup_is_the_templates_markup(kwargs) -> None:
    fast, templates = FastTemplatesSetting(), TemplatesSetting()
    assert rendered(fast, **kwargs) == rendered(templates, **kwargs)


class AlreadySafe(forms.Form):
    """Values and attributes marked safe: ``stringformat`` keeps them as they are, unescaped."""

    name = forms.CharField(
        initial=mark_safe("1 &lt; 2"),  # noqa: S308 - a fixed test value
        widget=forms.TextInput(attrs={"placeholder": mark_safe("a &amp; b")}),  # noqa: S308
    )


def test_safe_values_are_written_as_the_templates_write_them() -> None:
    fast, templates = FastTemplatesSetting(), TemplatesSetting()
    assert rendered(fast, AlreadySafe) == rendered(templates, AlreadySafe)
    assert 'value="1 &lt; 2" placeholder="a &amp; b"' in str(AlreadySafe(renderer=fast)["name"])


def test_a_projects_own_widget_template_still_wins(tmp_path) -> None:
    own = tmp_path / "django" / "forms" / "widgets"
    own.mkdir(parents=True)
    (own / "select.html").write_text('<select class="ours" name="{{ widget.name }}"></select>')
    engine = {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [tmp_path],
        "APP_DIRS": True,
    }
    with override_settings(TEMPLATES=[engine]):
        form = Everything(renderer=FastTemplatesSetting())
        assert str(form["planet"]) == '<select class="ours" name="planet"></select>'
        assert str(form["name"]).startswith('<input type="text" name="name"')


def test_the_common_widgets_are_written_without_their_templates(monkeypatch) -> None:
    used: list[str] = []
    template_render = TemplatesSetting.render

    def render(self, template_name, *args, **kwargs):
        used.append(template_name)
        return template_render(self, template_name, *args, **kwargs)

    monkeypatch.setattr(TemplatesSetting, "render", render)
    form = Everything(renderer=FastTemplatesSetting())
    for name in ("name", "count", "token", "planet", "several", "body"):
        str(form[name])
        form[name].label_tag()
    assert used == []
    str(form["agree"])  # a checkbox: Django's template
    assert used == ["django/forms/widgets/checkbox.html"]


def test_it_is_the_projects_form_renderer(settings) -> None:
    assert settings.FORM_RENDERER == "helpdesk.form_renderer.FastTemplatesSetting"


def test_the_canned_reply_picker_wraps_djangos_select_with_its_insert_button() -> None:
    """Written in Python (helpdesk.forms.CannedReplySelect), as its template wrote it: the
    select with each reply's filled-in text, escaped, then the "Insert" button."""
    from helpdesk.forms import INSERT_CANNED, CannedReplySelect  # noqa: PLC0415

    widget = CannedReplySelect(choices=[("", "Choose…"), ("3", "Hi <there>")])
    widget.texts = {"3": 'Dear "x" & <y>'}
    html = widget.render("updates-2-0-canned", "3", attrs={"id": "id_updates-2-0-canned"})
    assert html == (
        '<span class="canned-picker"><select name="updates-2-0-canned" '
        'id="id_updates-2-0-canned" data-canned-for="id_updates-2-0-body">\n'
        '  <option value="">Choose…</option>\n\n'
        '  <option value="3" selected data-text="Dear &quot;x&quot; &amp; &lt;y&gt;">'
        "Hi &lt;there&gt;</option>\n\n</select>\n"
        f' <button type="submit" name="{INSERT_CANNED}" value="1" '
        'class="canned-insert button secondary" formnovalidate>Insert</button></span>\n'
    )
