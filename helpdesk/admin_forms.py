"""Forms, filters and the paginator of the case admin (kept apart so admin.py stays about
configuration)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from helpdesk import services
from helpdesk.models import Case, Channel, Severity
from tenants.models import Tenant, TenantKind, User


class CappedCountPaginator(Paginator):
    """Counts at most ``cap`` rows: an exact COUNT(*) over a million cases costs half a second
    on every changelist page, while nobody pages past the first few hundred. Searches and
    filters reach the rest."""

    cap = 10_000

    @cached_property
    def count(self) -> int:
        return self.object_list[: self.cap].count()  # type: ignore[attr-defined]  # a QuerySet


class HandBackForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Message to the reseller",
        help_text="Goes into the escalation thread; the reseller relays what its customer needs.",
    )


class ResellerListFilter(admin.SimpleListFilter):
    title = "reseller"
    parameter_name = "reseller"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        resellers = Tenant.objects.filter(kind=TenantKind.RESELLER).values_list("pk", "name")
        return [(str(pk), name) for pk, name in resellers]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        if self.value():
            # Only a listed reseller: anything else is the admin's "invalid filter" page, not
            # a lookup the database refuses with an error.
            # (facet counts pass the listed pks themselves, as integers)
            value = str(self.value())
            if value not in {str(pk) for pk, _ in self.lookup_choices}:
                raise IncorrectLookupParameters(f"No reseller “{value[:20]}”.")
            return queryset.filter(tenant__parent_id=int(value))
        return queryset


class StaffOpenCaseForm(forms.Form):
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.exclude(kind=TenantKind.PROVIDER).filter(is_active=True),
        label="Customer",
    )
    requester_email = forms.EmailField(
        label="Requester's email", help_text="An agent of the customer, if known, is linked."
    )
    channel = forms.ChoiceField(
        choices=[
            (c.value, c.label) for c in (Channel.PHONE, Channel.CHAT, Channel.EMAIL, Channel.OTHER)
        ],
        initial=Channel.PHONE,
    )
    severity = forms.TypedChoiceField(
        choices=Severity.choices,
        coerce=int,
        initial=Severity.MINOR,
        help_text="Requests taken by phone, chat or email default to Minor.",
    )
    subject = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea)

    def open_case(self, staff: User) -> Case:
        data = self.cleaned_data
        tenant = data["tenant"]
        requester = User.objects.filter(
            email__iexact=data["requester_email"], membership__tenant=tenant
        ).first()
        return services.case_open(
            tenant=tenant,
            subject=data["subject"],
            description=data["description"],
            channel=data["channel"],
            severity=data["severity"],
            requester=requester,
            requester_email=data["requester_email"],
            opened_by=staff,
        )
