"""SLA report pages (SPEC §8, §9): the portal report for resellers and tenant admins, its CSV
exports, and the staff dashboard in the admin. Every figure comes from ``sla.reports`` over the
clocks the viewer may see (``helpdesk.access.clocks_visible_to``); nothing loops over cases.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from defusedcsv import csv
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.views.decorators.http import require_GET

from helpdesk import access
from helpdesk.models import OPEN_STATUSES, Case, Severity, Tier
from sla import charts, reports
from sla.forms import ReportFilterForm, Selection, today_in
from sla.models import ResponseClock
from tenants.models import Tenant, TenantKind

SEVERITY_NAMES = {s.value: s.label for s in Severity}


def _zone() -> ZoneInfo:
    return ZoneInfo(timezone.get_current_timezone_name())


def day_label(day: date) -> str:
    """``day`` as the date filter writes it with "D M j, Y" ("Fri Nov 27, 2026", in the
    language of the request), from the same translated names: a year's table of breaches
    through the filter cost a third of the page's template time."""
    return f"{WEEKDAYS_ABBR[day.weekday()]} {MONTHS_3[day.month].title()} {day.day}, {day.year:04d}"


def tier_labels(user) -> dict[int, str]:
    """How each side names the tiers. A sub-customer's or a direct customer's admin sees one
    clock, their tier one's, named by the brand they see (never the provider to a
    sub-customer); a reseller sees its own team and the provider; staff see both tiers."""
    if access.is_provider_staff(user):
        return {Tier.ONE: "Tier one", Tier.TWO: "Tier two (escalations)"}
    tenant = user.membership.tenant
    if tenant.kind == TenantKind.RESELLER:
        provider = Tenant.objects.filter(kind=TenantKind.PROVIDER).values_list("name", flat=True)
        return {
            Tier.ONE: f"{tenant.name} (your tier one)",
            Tier.TWO: f"{provider.first() or 'Provider'} on your escalations",
        }
    return {Tier.ONE: "Response"}


def _selection(
    request: HttpRequest, labels: dict[int, str] | None = None
) -> tuple[ReportFilterForm, Selection | None]:
    zone = _zone()
    form = ReportFilterForm(
        request.GET or None,
        user=request.user,
        zone=zone,
        today=today_in(zone, timezone.now()),
        tier_labels=tier_labels(request.user) if labels is None else labels,
    )
    if not request.GET:
        return form, form.default_selection()
    return form, form.selection() if form.is_valid() else None


@reports.tuned()  # one transaction for the page's statements
def _report_context(
    user, clocks: QuerySet[ResponseClock], selection: Selection, *, now, labels: dict[int, str]
) -> dict[str, Any]:
    # Resellers and staff see each organisation's results too.
    tenants_shown = access.reseller_administered_by(user) is not None or access.is_provider_staff(
        user
    )
    groupings = [("tier",), ("month", "severity")]
    if tenants_shown:
        groupings.append(("tenant", "tier"))
    # One statement for every table and the distribution (where the roll-ups answer).
    figures, distribution = reports.report_figures(clocks, groupings, now=now)
    by_tier, monthly = figures[0], figures[1]
    for row in by_tier:
        row.keys["label"] = labels.get(row.keys["tier"], str(row.keys["tier"]))
    for row in monthly:
        row.keys["severity_name"] = SEVERITY_NAMES[row.keys["severity"]]
    months = sorted({row.keys["month"] for row in monthly})
    columns = [SEVERITY_NAMES[s] for s in Severity.values]
    grid = charts.heat_grid(
        "Share of responses within target, by month and severity",
        months,
        columns,
        {
            (row.keys["month"], SEVERITY_NAMES[row.keys["severity"]]): (row.met_share, row.judged)
            for row in monthly
        },
    )
    distribution_chart = charts.bar_chart(
        "Response times (open-hours minutes)",
        [label for label, _ in distribution],
        [("Responses", [n for _, n in distribution])],
    )
    days = reports.breaches_per_day(
        clocks, first=selection.first, last=selection.last, zone=selection.zone, now=now
    )
    every = max(1, len(days) // 8)
    breach_chart = charts.bar_chart(
        "Breaches per day",
        [f"{day:%b %d}" for day, _ in days],
        [("Breaches", [n for _, n in days])],
        label_every=every,
    )
    context: dict[str, Any] = {
        "by_tier": by_tier,
        "monthly": monthly,
        "grid": grid,
        "distribution": distribution,
        "distribution_chart": distribution_chart,
        "breach_days": [(day_label(day), n) for day, n in days if n],
        "breach_chart": breach_chart,
        "severity_names": SEVERITY_NAMES,
        "selection": selection,
        "zone_name": str(selection.zone),
    }
    if tenants_shown:
        per_tenant = figures[2]
        names = dict(Tenant.objects.values_list("slug", "name"))
        for row in per_tenant:
            row.keys["name"] = names.get(row.keys["tenant"], row.keys["tenant"])
            row.keys["label"] = labels.get(row.keys["tier"], "")
        context["per_tenant"] = per_tenant
    return context


@login_required
@require_GET
def report(request: HttpRequest) -> HttpResponse:
    """The SLA report: resellers (their tier one for each customer, and the provider on their
    escalations) and tenant admins (what their organisation got)."""
    if not access.can_see_reports(request.user):
        raise Http404
    labels = tier_labels(request.user)
    form, selection = _selection(request, labels)
    context: dict[str, Any] = {"form": form, "tier_labels": labels}
    status = 200
    if selection is None:
        status = 400
    else:
        clocks = selection.narrow(access.clocks_visible_to(request.user))
        context.update(
            _report_context(request.user, clocks, selection, now=timezone.now(), labels=labels)
        )
        query = request.GET.copy()
        context["csv_report"] = (
            reverse("sla-report-csv")
            + "?"
            + urlencode({**query.dict(), "by": "tenant,tier,severity,month"})
        )
        context["csv_cases"] = reverse("sla-report-cases-csv") + "?" + query.urlencode()
    return render(request, "sla/report.html", context, status=status)


class _Echo:
    """A file-like object for csv.writer that hands each line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv_response(
    filename: str, header: list[str], rows: Iterator[list[str]]
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    return _attachment(
        StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8"), filename
    )


def _attachment(response: StreamingHttpResponse, filename: str) -> StreamingHttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def report_csv(request: HttpRequest) -> HttpResponseBase:
    """The report's figures as CSV, with ``sla_report``'s columns, grouped by ``by``."""
    if not access.can_see_reports(request.user):
        raise Http404
    form, selection = _selection(request)
    if selection is None:
        return HttpResponse(
            "Bad filters: " + "; ".join(form.errors.as_text().splitlines()),
            status=400,
            content_type="text/plain",
        )
    keys = [key for key in request.GET.get("by", "").split(",") if key]
    if any(key not in reports.KEYS for key in keys) or len(set(keys)) != len(keys):
        return HttpResponse(
            f"by: choose keys from {','.join(reports.KEYS)}", status=400, content_type="text/plain"
        )
    if (
        not access.is_provider_staff(request.user)
        and access.reseller_administered_by(request.user) is None
    ):
        keys = [key for key in keys if key not in ("reseller", "tier")]
    clocks = selection.narrow(access.clocks_visible_to(request.user))
    rows = reports.compliance(clocks, keys, now=timezone.now())
    return _csv_response(
        f"sla-report-{selection.first}-{selection.last}.csv",
        [*keys, *reports.COLUMNS],
        (row.csv_values(keys) for row in rows),
    )


@login_required
@require_GET
def report_cases_csv(request: HttpRequest) -> HttpResponseBase:
    """The clocks behind the report, one row each, streamed (flat memory for a million)."""
    if not access.can_see_reports(request.user):
        raise Http404
    form, selection = _selection(request)
    if selection is None:
        return HttpResponse("Bad filters.", status=400, content_type="text/plain")
    clocks = selection.narrow(access.clocks_visible_to(request.user))
    header = io.StringIO()
    csv.writer(header).writerow(reports.CASE_ROW_COLUMNS)
    chunks = itertools.chain(
        [header.getvalue()], reports.case_row_lines(clocks, now=timezone.now())
    )
    return _attachment(
        StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8"),
        f"sla-cases-{selection.first}-{selection.last}.csv",
    )


# --- the staff dashboard (admin) --------------------------------------------------------------


def _admin_cases(**params: Any) -> str:
    return reverse("admin:helpdesk_case_changelist") + "?" + urlencode(params)


def dashboard(request: HttpRequest) -> HttpResponse:
    """Sam's page: is the contract kept, and where not? Served inside the admin."""
    if not access.is_provider_staff(request.user):
        raise Http404
    context = {**admin.site.each_context(request), **_dashboard_figures()}
    return render(request, "admin/sla/dashboard.html", context)


@reports.tuned()  # one transaction for the page's statements
def _dashboard_figures() -> dict[str, Any]:
    now = timezone.now()
    zone = _zone()
    today = today_in(zone, now)
    clocks = ResponseClock.objects.all()
    this_first = today.replace(day=1)
    last_last = this_first - timedelta(days=1)
    last_first = last_last.replace(day=1)

    def month(first: date, last: date, *, percentiles: bool) -> dict[int, reports.Row]:
        low, high = reports.day_bounds(first, last, zone)
        narrowed = reports.clocks_in(clocks, dispatched_from=low, dispatched_before=high)
        rows = reports.compliance(narrowed, ("severity",), now=now, percentiles=percentiles)
        return {row.keys["severity"]: row for row in rows}

    # Last month shows its shares only; this month its response times too.
    this_month = month(this_first, today, percentiles=True)
    last_month = month(last_first, last_last, percentiles=False)
    severities: list[dict[str, Any]] = []
    for level in Severity.values:
        severities.append(
            {
                "level": level,
                "name": SEVERITY_NAMES[level],
                "this": this_month.get(level),
                "last": last_month.get(level),
            }
        )
    shares_chart = charts.bar_chart(
        "Share within target, this month against last month",
        [SEVERITY_NAMES[s] for s in Severity.values],
        [
            (
                f"{last_first:%B}",
                [
                    float(r["last"].met_share)
                    if r["last"] and r["last"].met_share is not None
                    else None
                    for r in severities
                ],
            ),
            (
                f"{this_first:%B}",
                [
                    float(r["this"].met_share)
                    if r["this"] and r["this"].met_share is not None
                    else None
                    for r in severities
                ],
            ),
        ],
        max_value=1,
        value_format="{:.0%}",
    )
    first_day = today - timedelta(days=89)
    days = reports.breaches_per_day(clocks, first=first_day, last=today, zone=zone, now=now)
    breach_chart = charts.bar_chart(
        "Breaches per day, last 90 days",
        [f"{day:%b %d}" for day, _ in days],
        [("Breaches", [n for _, n in days])],
        label_every=11,
    )
    now_by_tier = reports.open_clocks_by_tier(clocks, now=now)
    tiers = [
        {
            "tier": tier,
            "label": label,
            "at_risk": now_by_tier.get(tier, {}).get("at_risk", 0),
            "breached": now_by_tier.get(tier, {}).get("breached", 0),
            "at_risk_link": _admin_cases(sla="at_risk", tier__exact=tier),
            "breached_link": _admin_cases(sla="breached", tier__exact=tier),
        }
        for tier, label in Tier.choices
    ]
    low, high = reports.day_bounds(first_day, today, zone)
    recent = reports.clocks_in(clocks, dispatched_from=low, dispatched_before=high)
    by_tenant = [
        row
        for row in reports.compliance(recent, ("tenant",), now=now, percentiles=False)
        if row.judged
    ]
    by_tenant.sort(key=lambda row: (row.met_share, -row.judged, row.keys["tenant"]))
    worst = by_tenant[:10]
    tenants = {t.slug: t for t in Tenant.objects.filter(slug__in=[r.keys["tenant"] for r in worst])}
    for row in worst:
        tenant = tenants.get(row.keys["tenant"])
        row.keys["name"] = tenant.name if tenant else row.keys["tenant"]
        row.keys["link"] = _admin_cases(tenant__id__exact=tenant.pk) if tenant else ""
    open_statuses = ",".join(OPEN_STATUSES)
    # Rows gain a "link" below: plain dicts, not the query's TypedDict.
    workload = cast(
        list[dict[str, Any]],
        list(
            # COUNT(*), not of the id: PostgreSQL then counts from the partial index of open
            # cases' assignees (case_open_assignee) alone, without visiting 30,000 cases.
            Case.objects.filter(status__in=OPEN_STATUSES)
            .order_by()
            .values("assignee_id", "assignee__email")
            .annotate(n=Count("*"))
            .order_by("-n", "assignee__email")
        ),
    )

    for person in workload:
        if person["assignee_id"] is None:
            person["link"] = _admin_cases(assignee__isnull="True", status__in=open_statuses)
        else:
            person["link"] = _admin_cases(
                assignee__id__exact=person["assignee_id"], status__in=open_statuses
            )
    return {
        "title": "SLA dashboard",
        "severities": severities,
        "shares_chart": shares_chart,
        "this_first": this_first,
        "last_first": last_first,
        "breach_chart": breach_chart,
        "breach_days": [(day_label(day), n) for day, n in days if n],
        "tiers": tiers,
        "worst": worst,
        "workload": workload,
        "zone_name": str(zone),
        "report_link": reverse("sla-report"),
    }
