"""Staff keep support hours and plans here (SPEC §8 "plans, calendars and holidays"). Admin is
configuration: the checks are the models' and formsets', the chores are ``sla.services``."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from sla import services
from sla.models import (
    Calendar,
    ClosedDate,
    OpeningHours,
    Plan,
    ResponseClock,
    SlaEvent,
    SlaEventKind,
    SlaState,
    SlaWatch,
    Target,
    check_opening_hours,
    check_plan_targets,
)
from sla.selectors import chosen_tier, clock_choices, filter_by_sla_state, format_minutes

DETAIL = ' <span class="sla-admin-detail">{}</span>'


class SlaAdminMedia:
    """The state colours as classes (sla/admin.css): the Content-Security-Policy allows no
    style attributes. Every admin that shows state_html uses it as its Media."""

    css = {"all": ("sla/admin.css",)}


def state_html(state: SlaState, detail: str = "") -> str:
    return format_html(
        '<strong class="sla-admin-{}">{}</strong>{}',
        state.value,
        state.label,
        format_html(DETAIL, detail) if detail else "",
    )


class ReadOnly:
    """Staff look, filter and follow links; nothing is added, changed or deleted here (the rows
    are written by the services or the sweep). For admins and inlines alike."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    # The SLA state colours (state_html) come from a stylesheet: no style attributes (CSP).
    Media = SlaAdminMedia


class ReadOnlyInline(ReadOnly, admin.TabularInline):
    extra = 0
    can_delete = False


class SlaStateListFilter(admin.SimpleListFilter):
    """Cases by the SLA state of their current clock, or of the clock chosen with
    ``SlaClockListFilter``: one EXISTS subquery, no Python loop."""

    title = "SLA state"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return list(SlaState.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if (value := self.value()) in SlaState.values:
            tier = chosen_tier(request.user, request.GET.get(SlaClockListFilter.parameter_name))
            return filter_by_sla_state(queryset, value, timezone.now(), tier)
        return queryset


class SlaClockListFilter(admin.SimpleListFilter):
    """Which clock the SLA state filter asks about: the case's current one (default), tier
    one's or the provider's. Filters nothing on its own."""

    title = "SLA clock"
    parameter_name = "sla_clock"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(value, label) for value, label in clock_choices(request.user) if value]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        return queryset


class OpeningHoursFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        check_opening_hours(
            (data["weekday"], data["start"], data["end"])
            for form in self.forms
            if (data := getattr(form, "cleaned_data", None))
            and not data.get("DELETE")
            and not form.errors
        )


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0


class ClosedDateInline(admin.TabularInline):
    model = ClosedDate
    extra = 1


@admin.register(Calendar)
class CalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone", "hours", "closed_count", "updated_at"]
    search_fields = ["name"]
    readonly_fields = ["updated_at"]
    inlines = [OpeningHoursInline, ClosedDateInline]
    actions = ["add_us_holidays"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Calendar]:
        return super().get_queryset(request).prefetch_related("opening_hours", "closed_dates")

    @admin.display(description="opening hours")
    def hours(self, calendar: Calendar) -> str:
        return "; ".join(str(h) for h in calendar.opening_hours.all()) or "never open"

    @admin.display(description="closed dates")
    def closed_count(self, calendar: Calendar) -> int:
        return len(calendar.closed_dates.all())

    @admin.action(description="Close on US federal holidays (this year and next)")
    def add_us_holidays(self, request: HttpRequest, queryset: QuerySet[Calendar]) -> None:
        year = timezone.localdate().year
        days = services.us_federal_holidays([year, year + 1])
        for calendar in queryset:
            added = services.calendar_add_closed_dates(calendar=calendar, dates=days)
            messages.success(
                request, f"{calendar}: {added} holiday(s) of {year}–{year + 1} closed."
            )


class TargetFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        check_plan_targets(
            form.cleaned_data["severity"]
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not form.cleaned_data.get("DELETE")
            and "severity" in form.cleaned_data
        )


class TargetInline(admin.TabularInline):
    model = Target
    formset = TargetFormSet
    fields = ["severity", "amount", "unit", "calendar"]
    extra = 0

    def get_extra(self, request: HttpRequest, obj: Plan | None = None, **kwargs) -> int:
        return 5 if obj is None else 0  # a new plan starts with a row per severity


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "is_default", "at_risk_share", "targets_summary", "tenant_count"]
    search_fields = ["name"]
    inlines = [TargetInline]
    actions = ["make_default"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Plan]:
        targets = Target.objects.select_related("calendar")
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("targets", queryset=targets), "tenants")
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Plan | None = None) -> list[str]:
        # The default moves with the action, which un-defaults the old one in the same step.
        return ["is_default"] if obj is not None and obj.is_default else []

    @admin.display(description="targets")
    def targets_summary(self, plan: Plan) -> str:
        return "; ".join(str(t) for t in plan.targets.all())

    @admin.display(description="tenants")
    def tenant_count(self, plan: Plan) -> int:
        return len(plan.tenants.all())

    def has_delete_permission(self, request: HttpRequest, obj: Plan | None = None) -> bool:
        return (obj is None or not obj.is_default) and super().has_delete_permission(request, obj)

    @admin.action(description="Make the selected plan the default")
    def make_default(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        if queryset.count() != 1:
            messages.error(request, "Select exactly one plan to make it the default.")
            return
        plan = queryset.get()
        services.plan_make_default(plan=plan)
        messages.success(request, f"{plan} is now the default plan.")


@admin.register(Target)
class TargetAdmin(admin.ModelAdmin):
    list_display = ["plan", "severity", "amount", "unit", "calendar"]
    list_filter = ["plan", "severity", "calendar"]
    list_select_related = ["plan", "calendar"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # targets are added with their plan, which checks all five are there

    def has_delete_permission(self, request: HttpRequest, obj: Target | None = None) -> bool:
        return False  # likewise: a plan must keep a target per severity


@admin.register(ResponseClock)
class ResponseClockAdmin(ReadOnlyAdmin):
    """Read-only: clocks change only through the case services."""

    list_display = ["case", "tier", "severity", "dispatched_at", "due_at", "state", "responded_at"]
    list_filter = ["tier", "severity", "calendar"]
    list_select_related = ["case", "calendar"]
    search_fields = ["=case__reference"]
    show_full_result_count = False

    @admin.display(description="SLA")
    def state(self, clock: ResponseClock) -> str:
        return state_html(clock.state_at(timezone.now()))


# --- breach monitoring (sla.sweep) --------------------------------------------------------------


def case_link(case) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:helpdesk_case_change", args=[case.pk]),
        case.reference,
    )


@admin.register(SlaEvent)
class SlaEventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind_html", "case_ref", "tenant", "tier", "severity", "due_at"]
    list_filter = [
        "kind",
        "tier",
        "severity",
        ("occurred_at", admin.DateFieldListFilter),
        ("case__tenant", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["case__tenant"]
    search_fields = ["=case__reference"]
    date_hierarchy = "occurred_at"
    show_full_result_count = False  # COUNT(*) over years of events is the slow part of a list
    fields = readonly_fields = (
        "case_ref",
        "kind",
        "tier",
        "severity",
        "due_at",
        "occurred_at",
        "recorded_at",
    )

    @admin.display(description="event", ordering="kind")
    def kind_html(self, event: SlaEvent) -> str:
        state = SlaState.BREACHED if event.kind == SlaEventKind.BREACHED else SlaState.AT_RISK
        return state_html(state)

    @admin.display(description="case", ordering="case__reference")
    def case_ref(self, event: SlaEvent) -> str:
        return case_link(event.case)

    @admin.display(description="tenant", ordering="case__tenant__name")
    def tenant(self, event: SlaEvent) -> str:
        return str(event.case.tenant)


class WatchStateFilter(admin.SimpleListFilter):
    title = "SLA state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [(SlaState.AT_RISK, SlaState.AT_RISK.label), (SlaState.BREACHED, "Breached")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        if self.value() == SlaState.BREACHED:
            return queryset.filter(due_at__lt=now)
        if self.value() == SlaState.AT_RISK:
            return queryset.filter(due_at__gte=now)
        return queryset


@admin.register(SlaWatch)
class SlaWatchAdmin(ReadOnlyAdmin):
    """The support managers' view: every running clock at risk or breached now, soonest due
    first. The at-risk partial index holds only running clocks, so this stays cheap."""

    list_display = [
        "due_at",
        "state",
        "case_ref",
        "subject",
        "tenant",
        "severity",
        "tier",
        "assignee",
    ]
    list_display_links = None
    list_filter = [WatchStateFilter, "severity", "tier"]
    list_select_related = ["case__tenant", "case__assignee", "calendar"]
    search_fields = ["=case__reference"]
    ordering = ["due_at", "id"]
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[SlaWatch]:
        return super().get_queryset(request).filter(stopped_at=None, at_risk_at__lte=timezone.now())

    @admin.display(description="SLA")
    def state(self, clock: SlaWatch) -> str:
        now = timezone.now()
        minutes = clock.minutes_left(now)
        detail = (
            f"{format_minutes(-minutes)} overdue"
            if minutes < 0
            else (f"{format_minutes(minutes)} left")
        )
        return state_html(clock.state_at(now), detail)

    @admin.display(description="case", ordering="case__reference")
    def case_ref(self, clock: SlaWatch) -> str:
        return case_link(clock.case)

    @admin.display(description="subject")
    def subject(self, clock: SlaWatch) -> str:
        return clock.case.subject

    @admin.display(description="tenant", ordering="case__tenant__name")
    def tenant(self, clock: SlaWatch) -> str:
        return str(clock.case.tenant)

    @admin.display(description="assignee")
    def assignee(self, clock: SlaWatch) -> str:
        return str(clock.case.assignee or "—")
