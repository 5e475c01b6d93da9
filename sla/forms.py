"""The filters of the SLA report pages (SPEC §9): a period (presets or custom dates), and by who
may see them, a tenant, a reseller, a severity and a tier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.db.models import Q

from helpdesk import access
from helpdesk.models import Severity, Tier
from sla import reports
from tenants.models import Tenant, TenantKind

PERIODS = (
    ("90d", "Last 90 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("this_year", "This year"),
    ("last_year", "Last year"),
    ("custom", "Custom dates"),
)
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


def period_days(period: str, today: date) -> tuple[date, date]:
    """The first and last day of a preset period containing ``today``."""
    month_start = today.replace(day=1)
    if period == "this_month":
        return month_start, today
    if period == "last_month":
        last = month_start - timedelta(days=1)
        return last.replace(day=1), last
    if period == "this_year":
        return today.replace(month=1, day=1), today
    if period == "last_year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return today - timedelta(days=89), today


@dataclass
class Selection:
    """What a valid filter form selects."""

    first: date
    last: date
    zone: ZoneInfo
    tenant: Tenant | None
    reseller: Tenant | None
    severity: int | None
    tier: int | None

    def narrow(self, clocks):
        low, high = reports.day_bounds(self.first, self.last, self.zone)
        return reports.clocks_in(
            clocks,
            dispatched_from=low,
            dispatched_before=high,
            tenant=self.tenant,
            reseller=self.reseller,
            severity=self.severity,
            tier=self.tier,
        )


class ReportFilterForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False, initial="90d")
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, empty_label="All organisations"
    )
    reseller = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, empty_label="All resellers"
    )
    severity = forms.TypedChoiceField(
        choices=[("", "All severities"), *Severity.choices],
        coerce=int,
        required=False,
        empty_value=None,
    )
    tier = forms.TypedChoiceField(
        choices=[("", "Both tiers"), *Tier.choices], coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, user, zone: ZoneInfo, today: date, tier_labels=None, **kwargs):
        super().__init__(*args, **kwargs)
        fields: dict[str, Any] = self.fields  # choice fields, typed loosely
        self.zone, self.today = zone, today
        staff = access.is_provider_staff(user)
        reseller = access.reseller_administered_by(user)
        if staff:
            fields["tenant"].queryset = Tenant.objects.exclude(kind=TenantKind.PROVIDER).order_by(
                "name"
            )
            fields["reseller"].queryset = Tenant.objects.filter(kind=TenantKind.RESELLER).order_by(
                "name"
            )
        elif reseller is not None:
            fields["tenant"].queryset = Tenant.objects.filter(
                Q(pk=reseller.pk) | Q(parent=reseller)
            ).order_by("name")
            del self.fields["reseller"]
        else:
            # A customer's admin sees their own organisation, tier one only.
            for name in ("tenant", "reseller", "tier"):
                del self.fields[name]
        if "tier" in self.fields and tier_labels:
            fields["tier"].choices = [("", "Both tiers"), *tier_labels.items()]

    def clean(self):
        super().clean()
        data = self.cleaned_data
        period = data.get("period") or "90d"
        if period == "custom":
            first, last = data.get("start"), data.get("end")
            if first is None or last is None:
                raise forms.ValidationError("Give both dates of a custom period.")
        else:
            first, last = period_days(period, self.today)
        if first and last:
            if first > last:
                raise forms.ValidationError("The period starts after it ends.")
            if first < EARLIEST or last > LATEST:
                raise forms.ValidationError(f"Choose dates between {EARLIEST:%Y} and {LATEST:%Y}.")
        data["first"], data["last"] = first, last
        return data

    def selection(self) -> Selection:
        data = self.cleaned_data
        return Selection(
            first=data["first"],
            last=data["last"],
            zone=self.zone,
            tenant=data.get("tenant"),
            reseller=data.get("reseller"),
            severity=data.get("severity"),
            tier=data.get("tier"),
        )

    def default_selection(self) -> Selection:
        first, last = period_days("90d", self.today)
        return Selection(first, last, self.zone, None, None, None, None)


def today_in(zone: ZoneInfo, now: datetime) -> date:
    return now.astimezone(zone).date()
