from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

from tenants.models import Role

MAX_FAILED_SIGN_INS = 5
LOCKOUT_SECONDS = 15 * 60


class ThrottledAuthenticationForm(AuthenticationForm):
    """Sign-in by email that slows down password guessing (SPEC §10): after five failures for
    one address from one client, that pair waits fifteen minutes."""

    def _key(self) -> str:
        email = (self.data.get("username") or "").strip().lower()
        ip = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        return f"signin-failures:{ip}:{email}"

    def clean(self) -> dict:
        key = self._key()
        if cache.get(key, 0) >= MAX_FAILED_SIGN_INS:
            raise forms.ValidationError(
                "Too many failed attempts. Wait 15 minutes or reset your password.",
                code="throttled",
            )
        try:
            return super().clean()
        except forms.ValidationError:
            cache.add(key, 0, LOCKOUT_SECONDS)
            cache.incr(key)
            raise


class InviteForm(forms.Form):
    email = forms.EmailField()
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.AGENT,
        help_text="Admins also invite and deactivate people.",
    )
