"""What staff see and keep in the admin: the SLA column and filter of the case list, calendars
with their hours and holidays, plans with their targets."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse

from helpdesk.models import Case, Severity
from sla import services
from sla.models import Calendar, ClosedDate, Plan, SlaState
from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case
from tests.sla.helpers import calendar, ny, plan_with

pytestmark = pytest.mark.django_db

CASES = reverse("admin:helpdesk_case_changelist")


@pytest.fixture
def admin_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root@phonism.example", "pw-for-tests-1")
    sign_in(client, user)
    return client


@pytest.fixture
def cases() -> dict[str, Case]:
    """Major cases (60 min, at risk after 45). At Monday 11:30: one breached (opened 10:00,
    due 11:00), one at risk (10:40, due 11:40), one on track (11:20, due 12:20)."""
    acme = TenantFactory(name="Acme")
    ann = member(acme)
    made = {}
    for name, minute in [
        ("breached", 10 * 60),
        ("at_risk", 10 * 60 + 40),
        ("on_track", 11 * 60 + 20),
    ]:
        with time_machine.travel(ny(2026, 3, 9, minute // 60, minute % 60), tick=False):
            made[name] = open_case(acme, ann, Severity.MAJOR, subject=f"The {name} case")
    return made


def test_the_case_list_shows_a_coloured_sla_column_with_time_left(admin_client, cases) -> None:
    with time_machine.travel(ny(2026, 3, 9, 11, 30), tick=False):
        response = admin_client.get(CASES)
    page = response.content.decode()
    assert response.status_code == 200
    for state, css_class, left in [
        # Every time carries its zone (issue 11).
        ("Breached", "breached", "30 min overdue · due Mar 9, 2026 11:00 EDT"),
        ("At risk", "at_risk", "10 min left · due Mon 11:40 EDT"),
        ("On track", "on_track", "50 min left · due Mon 12:20 EDT"),
    ]:
        assert re.search(
            f'<strong class="sla-admin-{css_class}">{state}</strong> '
            f"<span [^>]*>{left}[^<]*</span>",
            page,
        ), state
    # The colours come from a stylesheet (no style attributes under the CSP).
    assert "sla/admin.css" in page
    assert (
        ".sla-admin-breached { color: #a1141b; }"
        in (Path(__file__).parents[2] / "sla" / "static" / "sla" / "admin.css").read_text()
    )


def test_the_case_list_filters_by_sla_state(admin_client, cases) -> None:
    for state in (SlaState.BREACHED, SlaState.AT_RISK, SlaState.ON_TRACK):
        with time_machine.travel(ny(2026, 3, 9, 11, 30), tick=False):
            response = admin_client.get(CASES, {"sla": state})
        assert list(response.context["cl"].result_list) == [cases[state]]
    with time_machine.travel(ny(2026, 3, 9, 11, 30), tick=False):
        response = admin_client.get(CASES, {"sla": SlaState.MET})
    assert list(response.context["cl"].result_list) == []


def test_the_case_list_sorts_by_due_time(admin_client, cases) -> None:
    with time_machine.travel(ny(2026, 3, 9, 11, 30), tick=False):
        page = admin_client.get(CASES)
        column = page.context["cl"].list_display.index("sla")
        response = admin_client.get(CASES, {"o": str(column)})
    got = [c.pk for c in response.context["cl"].result_list]
    assert got == [cases["breached"].pk, cases["at_risk"].pk, cases["on_track"].pk]


def test_the_case_page_shows_the_due_time_and_state(admin_client, cases) -> None:
    case = cases["at_risk"]
    with time_machine.travel(ny(2026, 3, 9, 11, 30), tick=False):
        response = admin_client.get(reverse("admin:helpdesk_case_change", args=[case.pk]))
    assert response.status_code == 200
    assert '<strong class="sla-admin-at_risk">At risk</strong>' in response.content.decode()


# --- calendars --------------------------------------------------------------------------------


def calendar_form(name: str, hours: list[tuple], closed: list[str] = ()) -> dict:
    data = {
        "name": name,
        "timezone": "America/New_York",
        "opening_hours-TOTAL_FORMS": str(len(hours)),
        "opening_hours-INITIAL_FORMS": "0",
        "closed_dates-TOTAL_FORMS": str(len(closed)),
        "closed_dates-INITIAL_FORMS": "0",
    }
    for i, (weekday, start, end) in enumerate(hours):
        data.update(
            {
                f"opening_hours-{i}-weekday": str(weekday),
                f"opening_hours-{i}-start": start,
                f"opening_hours-{i}-end": end,
            }
        )
    for i, day in enumerate(closed):
        data.update({f"closed_dates-{i}-date": day, f"closed_dates-{i}-name": "Holiday"})
    return data


def test_staff_add_a_calendar_with_hours_and_closed_dates(admin_client) -> None:
    data = calendar_form(
        "Night desk", [(0, "22:00", "00:00"), (1, "00:00", "06:00")], ["2026-12-25"]
    )
    response = admin_client.post(reverse("admin:sla_calendar_add"), data)
    assert response.status_code == 302, response.context["errors"]
    built = Calendar.objects.get(name="Night desk").as_clock()
    assert built.weekly[0] == ((time(22), None),) and built.weekly[1] == ((time(0), time(6)),)
    assert built.closed_dates == {date(2026, 12, 25)}


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ([(0, "17:00", "09:00")], "Closing time must be after opening time"),
        ([(0, "09:00", "13:00"), (0, "12:00", "17:00")], "Opening hours on Monday overlap"),
        ([(0, "09:00", "00:00"), (0, "12:00", "13:00")], "Opening hours on Monday overlap"),
    ],
)
def test_bad_opening_hours_are_refused_clearly(admin_client, hours, message) -> None:
    response = admin_client.post(reverse("admin:sla_calendar_add"), calendar_form("Bad", hours))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Calendar.objects.filter(name="Bad").exists()


def test_an_unknown_timezone_is_refused(admin_client) -> None:
    data = calendar_form("Mars", [(0, "09:00", "17:00")]) | {"timezone": "Mars/Olympus"}
    response = admin_client.post(reverse("admin:sla_calendar_add"), data)
    assert "is not a known time zone" in response.content.decode()


def test_the_holiday_action_closes_us_federal_holidays(admin_client) -> None:
    standard = calendar("Standard hours")
    with time_machine.travel(ny(2026, 6, 1, 12), tick=False):
        response = admin_client.post(
            reverse("admin:sla_calendar_changelist"),
            {"action": "add_us_holidays", "_selected_action": [standard.pk]},
        )
    assert response.status_code == 302
    closed = set(ClosedDate.objects.filter(calendar=standard).values_list("date", flat=True))
    assert {date(2026, 7, 3), date(2026, 11, 26), date(2026, 12, 25), date(2027, 1, 1)} <= closed
    # The edit reaches the clock: Thursday 16:45 + 30 min skips Thanksgiving to Friday.

    plan = Plan.objects.get(is_default=True)
    assert services.due_for(plan, Severity.CRITICAL, ny(2026, 11, 25, 16, 45)) == ny(
        2026, 11, 27, 9, 15
    )


# --- plans --------------------------------------------------------------------------------------


def plan_form(name: str, targets: dict[int, tuple[int, str]]) -> dict:
    standard = calendar("Standard hours")
    data = {
        "name": name,
        "at_risk_share": "0.80",
        "targets-TOTAL_FORMS": str(len(targets)),
        "targets-INITIAL_FORMS": "0",
    }
    for i, (severity, (amount, unit)) in enumerate(targets.items()):
        data.update(
            {
                f"targets-{i}-severity": str(severity),
                f"targets-{i}-amount": str(amount),
                f"targets-{i}-unit": unit,
                f"targets-{i}-calendar": str(standard.pk),
            }
        )
    return data


def test_staff_add_a_plan_with_a_target_per_severity(admin_client) -> None:
    targets = {s: (15 * s, "minutes") for s in Severity.values}
    response = admin_client.post(reverse("admin:sla_plan_add"), plan_form("Gold", targets))
    assert response.status_code == 302, response.context["errors"]
    plan = Plan.objects.get(name="Gold")
    assert plan.targets.count() == 5 and not plan.is_default


def test_a_plan_needs_every_severity(admin_client) -> None:
    targets = {s: (15, "minutes") for s in Severity.values if s != Severity.MINOR}
    response = admin_client.post(reverse("admin:sla_plan_add"), plan_form("Holey", targets))
    assert "Give a target for every severity; missing: Minor." in response.content.decode()
    assert not Plan.objects.filter(name="Holey").exists()


def test_make_default_moves_the_default(admin_client) -> None:
    gold = plan_with("Gold", {})
    response = admin_client.post(
        reverse("admin:sla_plan_changelist"),
        {"action": "make_default", "_selected_action": [gold.pk]},
    )
    assert response.status_code == 302
    assert list(Plan.objects.filter(is_default=True)) == [gold]


def test_the_default_plan_cannot_be_deleted(admin_client) -> None:
    default = Plan.objects.get(is_default=True)
    response = admin_client.get(reverse("admin:sla_plan_delete", args=[default.pk]))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "admin:sla_calendar_changelist",
        "admin:sla_plan_changelist",
        "admin:sla_target_changelist",
        "admin:sla_responseclock_changelist",
        "admin:sla_calendar_add",
        "admin:sla_plan_add",
        "admin:tenants_tenant_changelist",
    ],
)
def test_the_sla_admin_pages_open(admin_client, cases, url) -> None:
    assert admin_client.get(reverse(url)).status_code == 200


def test_the_change_pages_open(admin_client, cases) -> None:
    default = Plan.objects.get(is_default=True)
    clock = cases["breached"].response_clocks.get()
    for url in [
        reverse("admin:sla_calendar_change", args=[calendar("Standard hours").pk]),
        reverse("admin:sla_plan_change", args=[default.pk]),
        reverse("admin:sla_responseclock_change", args=[clock.pk]),
        reverse("admin:tenants_tenant_change", args=[cases["breached"].tenant_id]),
    ]:
        assert admin_client.get(url).status_code == 200, url
