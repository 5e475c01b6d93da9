from __future__ import annotations

import zoneinfo
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.cache import cache

from sla.models import Plan
from tenants.branding import brand_for_user
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


def _timezone_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """~600 zones grouped by region (America, Europe, ...), each named by its city: a long
    flat list becomes a short one to scan, and typing a city's first letters finds it."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(zoneinfo.available_timezones()):
        region, _, place = name.partition("/")
        if not place or region in {"Etc", "SystemV", "US", "Canada", "Brazil", "Mexico", "Chile"}:
            region, place = "Other", name
        groups.setdefault(region, []).append((name, place.replace("_", " ").replace("/", " / ")))
    other = groups.pop("Other", [])
    return [*sorted(groups.items()), ("Other", other)]


class SubcustomerForm(forms.Form):
    """A reseller's customer. The short name (slug) is set once, at creation: it names the
    tenant in commands and exports."""

    name = forms.CharField(max_length=200)
    slug = forms.SlugField(
        label="Short name",
        max_length=60,
        required=False,
        help_text="Letters, digits and hyphens; made from the name when left empty. "
        "It cannot be changed later.",
    )
    timezone = forms.ChoiceField(
        label="Time zone", choices=_timezone_choices, help_text="Times are shown in this zone."
    )

    def __init__(self, *args, creating: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not creating:
            del self.fields["slug"]


def plan_targets(plan: Plan) -> str:
    """A plan's response targets in a line: "Emergency 10 min · Critical 30 min · …"."""
    parts = []
    for target in plan.targets.all():
        if target.unit == "days":
            amount = f"{target.amount} day" + ("s" if target.amount != 1 else "")
        elif target.amount % 60 == 0:
            amount = f"{target.amount // 60} h"
        else:
            amount = f"{target.amount} min"
        parts.append(f"{target.get_severity_display()} {amount}")
    return " · ".join(parts)


class PlanChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Plan) -> str:
        return f"{obj.name}: {plan_targets(obj)}"


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TierOnePlanForm(forms.Form):
    plan = PlanChoiceField(
        queryset=Plan.objects.prefetch_related("targets").order_by("name"),
        required=False,
        empty_label="The default plan",
        label="Response targets for your customers",
        help_text="Applies to cases opened from now on; due times already given stay. "
        "Each plan lists its response target per severity.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = Plan.objects.filter(is_default=True).prefetch_related("targets").first()
        if default is not None:
            plan = self.fields["plan"]
            assert isinstance(plan, forms.ModelChoiceField)
            plan.empty_label = f"The default plan: {plan_targets(default)}"


class BrandedPasswordResetForm(PasswordResetForm):
    """The reset email wears the brand its recipient sees (a sub-customer gets its reseller's
    name, From address and host name), whichever host the request came to."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict,
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        brand = brand_for_user(context["user"])
        # The link goes to the brand's configured host (else SITE_URL), never to the host the
        # request came through: a forged Host header must not receive someone's reset token.
        site = urlsplit(brand.site_url)
        context = {**context, "brand": brand, "protocol": site.scheme, "domain": site.netloc}
        super().send_mail(
            subject_template_name,
            email_template_name,
            context,
            brand.from_email,
            to_email,
            html_email_template_name,
        )
