"""Forms of the widget's management page. The widget's own pages reuse the portal's forms."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from widget.services import normalise_origin


class WidgetSettingsForm(forms.Form):
    allowed_origins = forms.CharField(
        label="Allowed origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The host portal's origins that may show the widget, one per line, e.g. "
        "https://portal.example.com. Nothing else can frame it.",
    )
    create_agents = forms.BooleanField(
        label="Create agents on first use",
        required=False,
        help_text="A signed user who is not yet an agent becomes one. Off: only existing, "
        "active agents get in.",
    )

    def clean_allowed_origins(self) -> list[str]:
        origins, errors = [], []
        for line in self.cleaned_data["allowed_origins"].splitlines():
            if not line.strip():
                continue
            try:
                origins.append(normalise_origin(line))
            except ValidationError as error:
                errors.extend(error.messages)
        if errors:
            raise ValidationError(errors)
        return origins


class NewKeyForm(forms.Form):
    label = forms.CharField(
        label="Label", max_length=100, required=False, help_text="E.g. production portal."
    )
