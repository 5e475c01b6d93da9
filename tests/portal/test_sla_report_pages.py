"""The SLA report pages (SPEC §8, §9): who sees which rows, in which brand, the CSV exports,
and the staff dashboard in the admin."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from defusedcsv import csv as defused
from django.db import connection
from django.template.defaultfilters import date as date_filter
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from helpdesk import access
from helpdesk.models import OPEN_STATUSES, Case
from sla import reports
from sla.models import ResponseClock
from sla.views import day_label
from tenants.models import Role, Tenant
from tests.conftest import sign_in
from tests.factories import member

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_rita_sees_voicehub_and_its_customers_both_tiers(client, demo) -> None:
    sign_in(client, demo["rita"])
    page = client.get(reverse("sla-report"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "VoiceHub (your tier one)" in text
    assert "Phonism on your escalations" in text  # the reseller deals with the provider
    rows = csv_rows(client.get(reverse("sla-report-cases-csv")))
    tenants = {row["tenant"] for row in rows}
    assert tenants and tenants <= {"voicehub", "initech", "umbrella"}
    assert {row["tier"] for row in rows} == {"1", "2"}  # the demo has an escalated case
    visible = access.clocks_visible_to(demo["rita"])
    assert len(rows) == visible.count()


def test_bob_sees_acme_only(client, demo) -> None:
    sign_in(client, demo["bob"])
    rows = csv_rows(client.get(reverse("sla-report-cases-csv")))
    assert rows and {row["tenant"] for row in rows} == {"acme"}
    figures = csv_rows(client.get(reverse("sla-report-csv"), {"by": "tenant"}))
    assert [row["tenant"] for row in figures] == ["acme"]
    assert int(figures[0]["dispatched"]) == len(rows)


def test_a_sub_customers_admin_sees_its_tier_one_and_never_the_provider(client, demo) -> None:
    initech = Tenant.objects.get(slug="initech")
    admin = member(initech, Role.ADMIN, email="iris@initech.test")
    sign_in(client, admin)
    page = client.get(reverse("sla-report"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Phonism" not in text and "VoiceHub" in text  # the reseller's brand
    rows = csv_rows(client.get(reverse("sla-report-cases-csv")))
    assert rows and {row["tier"] for row in rows} == {"1"}
    assert {row["tenant"] for row in rows} == {"initech"}
    # The tier filter is not offered, and asking for tier 2 by hand shows nothing more.
    rows = csv_rows(client.get(reverse("sla-report-cases-csv"), {"tier": "2"}))
    assert {row["tier"] for row in rows} <= {"1"}
    body = b"".join(client.get(reverse("sla-report-csv"), {"by": "tier"}).streaming_content)
    assert b"Phonism" not in body


def test_agents_and_strangers_get_404(client, demo) -> None:
    for person in ("ann", "rob", "ivan"):
        sign_in(client, demo[person])
        for name in ("sla-report", "sla-report-csv", "sla-report-cases-csv"):
            assert client.get(reverse(name)).status_code == 404
    client.logout()
    assert client.get(reverse("sla-report")).status_code == 302  # to sign in


def test_staff_see_every_clock(client, demo) -> None:
    sign_in(client, demo["sam"])
    rows = csv_rows(client.get(reverse("sla-report-cases-csv")))
    assert len(rows) == ResponseClock.objects.count()


def test_another_tenants_filter_is_a_form_error_not_a_leak(client, demo) -> None:
    sign_in(client, demo["bob"])
    acme_rows = len(csv_rows(client.get(reverse("sla-report-cases-csv"))))
    initech = Tenant.objects.get(slug="initech")
    # Bob's form has no tenant field: the parameter is ignored, he still sees Acme only.
    rows = csv_rows(client.get(reverse("sla-report-cases-csv"), {"tenant": initech.pk}))
    assert len(rows) == acme_rows
    sign_in(client, demo["rita"])
    acme = Tenant.objects.get(slug="acme")
    response = client.get(reverse("sla-report"), {"tenant": acme.pk})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"period": "custom", "start": "2026-05-02", "end": "2026-05-01"},
        {"period": "custom", "start": "2026-05-02"},
        {"period": "custom", "start": "0001-01-01", "end": "9999-12-31"},
        {"period": "sometime"},
        {"severity": "9"},
        {"by": "colour"},
    ],
)
def test_bad_filters_are_a_400_with_a_reason(client, demo, params) -> None:
    sign_in(client, demo["rita"])
    for name in ("sla-report", "sla-report-csv"):
        response = client.get(reverse(name), params)
        if name == "sla-report" and "by" in params:
            continue  # the page ignores the CSV's grouping
        assert response.status_code == 400, (name, params)


def test_csv_cells_cannot_run_as_formulas(client, demo) -> None:
    acme = Tenant.objects.get(slug="acme")
    Tenant.objects.filter(pk=acme.pk).update(slug="=cmd")
    sign_in(client, demo["sam"])
    body = b"".join(client.get(reverse("sla-report-cases-csv")).streaming_content).decode()
    assert "\n=cmd" not in body and ",=cmd" not in body
    assert "'=cmd" in body


def test_the_staff_dashboard_shows_every_section_with_links(client, demo) -> None:
    sign_in(client, demo["sam"])
    page = client.get(reverse("sla-dashboard"))
    assert page.status_code == 200
    text = page.content.decode()
    for heading in (
        "Right now",
        "Breaches per day, last 90 days",
        "Lowest compliance",
        "Open work",
    ):
        assert heading in text
    assert "<svg" in text and "/admin/helpdesk/case/?sla=breached" in text
    assert reverse("sla-dashboard") in client.get(reverse("admin:index")).content.decode()


def test_the_dashboards_links_open_the_cases_behind_the_figures(client, demo) -> None:
    sign_in(client, demo["sam"])
    text = client.get(reverse("sla-dashboard")).content.decode()
    links = set(re.findall(r'href="(/admin/helpdesk/case/\?[^"]+)"', text))
    assert links
    for link in links:
        response = client.get(link.replace("&amp;", "&"))
        # 200, not the admin's redirect to "?e=1" for a lookup it does not allow.
        assert response.status_code == 200, link


def test_the_dashboards_open_work_is_a_recount_and_its_figures_share_one_setting(
    client, demo
) -> None:
    """Open work per assignee equals the open cases counted one by one (it is counted from a
    partial index on PostgreSQL), and the page's report statements run in one transaction:
    the report settings (work_mem, no JIT) are set once, not once per statement."""
    assignee = demo["ann"]
    Case.objects.filter(
        pk__in=Case.objects.filter(status__in=OPEN_STATUSES).values("pk")[:2]
    ).update(assignee=assignee)
    sign_in(client, demo["sam"])
    with CaptureQueriesContext(connection) as queries:
        text = client.get(reverse("sla-dashboard")).content.decode()
    settings_set = [q for q in queries.captured_queries if "set_config('work_mem'" in q["sql"]]
    assert len(settings_set) == (1 if connection.vendor == "postgresql" else 0)
    recount: dict[str, int] = {}
    for case in Case.objects.filter(status__in=OPEN_STATUSES).select_related("assignee"):
        name = case.assignee.email if case.assignee else "Unassigned"
        recount[name] = recount.get(name, 0) + 1
    assert recount.get(assignee.email) == 2
    shown = dict(
        re.findall(
            r'<th scope="row">([^<]+)</th>'
            r'<td><a href="/admin/helpdesk/case/\?assignee[^"]*">(\d+)</a>',
            text,
        )
    )
    assert {name: int(n) for name, n in shown.items()} == recount


def test_customers_cannot_open_the_dashboard(client, demo) -> None:
    sign_in(client, demo["rita"])
    response = client.get(reverse("sla-dashboard"))
    assert response.status_code in (302, 404)


def test_the_cases_csv_is_what_defusedcsv_writes_whatever_the_batches(client, demo) -> None:
    """The database writes the lines of rows whose text cells need neither quoting nor
    formula escaping; the others are written through defusedcsv. The bytes are the same as
    defusedcsv writing every row, with formula-like and quoted cells among them."""
    Tenant.objects.filter(slug="acme").update(slug="=cmd")
    Tenant.objects.filter(slug="initech").update(slug="-2+3")
    quoted = ResponseClock.objects.filter(tier=1).order_by("dispatched_at").first()
    Case.objects.filter(pk=quoted.case_id).update(reference='CS-"1,2"')
    now = timezone.now()
    clocks = ResponseClock.objects.all()
    expected = io.StringIO()
    writer = defused.writer(expected)
    writer.writerows(reports.case_rows(clocks, now=now).values_list(*reports.CASE_ROW_CELLS))
    text = expected.getvalue()
    assert "'=cmd" in text and "'-2+3" in text and '"CS-""1,2"""' in text
    for size in (1, 2, 3, 1000):
        assert "".join(reports.case_row_lines(clocks, now=now, size=size)) == text, size
    sign_in(client, demo["sam"])
    everything = {"period": "custom", "start": "2000-01-01", "end": "2100-12-31"}
    response = client.get(reverse("sla-report-cases-csv"), everything)
    body = b"".join(response.streaming_content).decode()
    assert body == ",".join(reports.CASE_ROW_COLUMNS) + "\r\n" + text


@pytest.mark.parametrize("language", ["en-us", "de", "fr"])
def test_the_breach_tables_days_read_as_the_date_filter_writes_them(language) -> None:
    """The pages' tables of breaches per day write each day as the date filter's
    "D M j, Y" did (the labels are made in Python now: a year's table through the filter
    was slow), in whatever language the request is in."""
    with translation.override(language):
        for offset in range(0, 800, 3):
            day = date(2025, 1, 1) + timedelta(days=offset)
            assert day_label(day) == date_filter(day, "D M j, Y")
