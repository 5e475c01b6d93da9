"""The portal case list's filters, search and sorting (django-filter)."""

from __future__ import annotations

import copy
from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.db.models.expressions import Combinable
from django.utils import timezone

from helpdesk import access
from helpdesk.models import Case, Severity, Status
from sla.models import SlaState
from sla.selectors import chosen_tier, clock_choices, due_column, filter_by_sla_state
from tenants.models import Tenant, User

# "{due}" is the indexed due column of the clock the viewer sorts on (sla.selectors.due_column):
# tier one's for the requesting side and a reseller, the current clock's for provider staff.
SORTS: dict[str, tuple[str, list[Combinable | str]]] = {
    "newest": ("Newest first", [F("created_at").desc(), F("id").desc()]),
    "oldest": ("Oldest first", [F("created_at").asc(), F("id").asc()]),
    "severity": (
        "Most severe first",
        [F("severity").asc(), F("created_at").desc(), F("id").desc()],
    ),
    "due": ("Due soonest", ["{due}", F("created_at").desc(), F("id").desc()]),
    # The tier-one queue's default: what still waits for its first response comes first (an
    # answered case's due time is history), then soonest due.
    "awaiting": (
        "Awaiting a response, due soonest",
        [
            ExpressionWrapper(Q(first_response_at__isnull=False), output_field=BooleanField()),
            "{due}",
            F("created_at").desc(),
            F("id").desc(),
        ],
    ),
}


def sort_order(key: str, tier: int | None) -> list:
    """The ORDER BY of a sort, its due time taken from ``tier``'s clock."""
    due = F(due_column(tier)).asc(nulls_last=True)
    return [due if term == "{due}" else term for term in SORTS.get(key, SORTS["newest"])[1]]


DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# Dates a case list can be filtered on. Wider than any case's life, narrow enough that a day
# plus one, in any time zone, is still a datetime (year 9999 overflowed into a 500).
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


class BoundedDateField(forms.DateField):
    """A date between FIRST_DAY and LAST_DAY, else a form error that says so."""

    def validate(self, value: date | None) -> None:
        super().validate(value)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(
                f"Choose a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.",
                code="out_of_range",
            )


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _requesters(request) -> QuerySet[User]:
    if request is None:
        return User.objects.none()
    tenants = access.tenants_visible_to(request.user)
    return User.objects.filter(membership__tenant__in=tenants).order_by("email")


def _organisations(request) -> QuerySet[Tenant]:
    if request is None:
        return Tenant.objects.none()
    return access.tenants_visible_to(request.user).order_by("name")


class CaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, widget=forms.CheckboxSelectMultiple
    )
    severity = django_filters.MultipleChoiceFilter(
        choices=Severity.choices, widget=forms.CheckboxSelectMultiple
    )
    sla = django_filters.ChoiceFilter(
        choices=SlaState.choices, method="sla_filter", label="SLA", empty_label="Any"
    )
    # Which clock the SLA filter and the due sorts use, for viewers who see more than one
    # (sla.selectors.clock_choices); applied by sla_filter and sort_by, not on its own.
    clock = django_filters.ChoiceFilter(
        choices=[], method="clock_noop", label="SLA clock", empty_label=None
    )
    requester = django_filters.ModelChoiceFilter(queryset=_requesters, empty_label="Anyone")
    tenant = django_filters.ModelChoiceFilter(
        queryset=_organisations, label="Organisation", empty_label="All"
    )
    opened_from = BoundedDateFilter(
        method="opened_from_filter", label="Opened from", widget=DATE_INPUT
    )
    opened_to = BoundedDateFilter(
        method="opened_to_filter", label="Opened until", widget=DATE_INPUT
    )
    sort = django_filters.ChoiceFilter(
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        method="sort_by",
        empty_label=None,
        label="Sort",
    )

    # The portal's form leaves out filters with nothing to choose (one organisation, one clock).
    short_form = True

    class Meta:
        model = Case
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs) -> None:
        super().__init__(data, *args, **kwargs)
        # One organisation means nothing to choose: keep the form short (a form's concern; the
        # API keeps every filter, see ``short_form``).
        if (
            self.short_form
            and self.request is not None
            and _organisations(self.request).count() < 2
        ):
            del self.filters["tenant"]
        choices = clock_choices(self.request.user) if self.request is not None else []
        if choices or not self.short_form:
            # A filter of this viewer's own, never the shared declared one: a form field built
            # for another viewer (another side's choices) must not be reused.
            clock = copy.copy(self.filters["clock"])
            clock.__dict__.pop("_field", None)
            clock.extra = {**clock.extra, "choices": choices, "required": False}
            clock.parent = self
            self.filters["clock"] = clock
        else:
            del self.filters["clock"]

    @property
    def tier(self) -> int | None:
        """The tier whose clock this list filters and sorts on (sla.selectors.chosen_tier)."""
        if self.request is None:
            return None
        data = getattr(self.form, "cleaned_data", {})
        return chosen_tier(self.request.user, data.get("clock"))

    def clock_noop(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        return queryset

    # Dates are the viewer's local days; comparing instants keeps the created_at index usable.
    def opened_from_filter(self, queryset: QuerySet[Case], name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__gte=_day_start(value))

    def opened_to_filter(self, queryset: QuerySet[Case], name: str, value: date) -> QuerySet:
        return queryset.filter(created_at__lt=_day_start(value + timedelta(days=1)))

    def sla_filter(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        return filter_by_sla_state(queryset, value, timezone.now(), self.tier)

    def search(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(reference__iexact=value) | Q(subject__icontains=value))

    def sort_by(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        return queryset.order_by(*sort_order(value, self.tier))

    def filter_queryset(self, queryset: QuerySet[Case]) -> QuerySet[Case]:
        queryset = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("sort"):
            queryset = queryset.order_by(*sort_order("newest", self.tier))
        return queryset
