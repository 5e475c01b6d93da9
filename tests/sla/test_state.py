"""SLA state (on track, at risk, breached, met, missed) with the time left in open minutes, as
a value, as a query filter that agrees with it, and as the badge and panel people see."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.template import Context, Template
from django.urls import reverse

from helpdesk import services
from helpdesk.models import Case, Severity, Tier
from sla.models import Plan, SlaState
from sla.selectors import filter_by_sla_state, format_minutes, sla_status, with_sla
from tests.factories import TenantFactory, member, open_case, staff
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db

MONDAY_10 = ny(2026, 3, 9, 10, 0)  # a Major case opened now is at risk at 10:45, due at 11:00


@pytest.fixture
def acme():
    return TenantFactory(name="Acme")


@pytest.fixture
def ann(acme):
    return member(acme)


@pytest.fixture
def alice():
    return staff()


def major_case(acme, ann, at=MONDAY_10) -> Case:
    with time_machine.travel(at, tick=False):
        return open_case(acme, ann, Severity.MAJOR)


def answer(case, alice, at) -> None:
    with time_machine.travel(at, tick=False):
        services.update_add(case=case, author=alice, body="On it.")


@pytest.mark.parametrize(
    ("now", "state", "left", "text"),
    [
        (ny(2026, 3, 9, 10, 30), SlaState.ON_TRACK, 30, "30 min left"),
        (ny(2026, 3, 9, 10, 44, 59), SlaState.ON_TRACK, 15.0166, "15 min left"),
        (ny(2026, 3, 9, 10, 45), SlaState.AT_RISK, 15, "15 min left"),
        (ny(2026, 3, 9, 11, 0), SlaState.AT_RISK, 0, "0 min left"),  # due, not yet passed
        (ny(2026, 3, 9, 11, 30), SlaState.BREACHED, -30, "30 min overdue"),
        # Overdue is counted in open time: Monday 11:00-17:00, then nothing overnight.
        (ny(2026, 3, 10, 8, 0), SlaState.BREACHED, -360, "6 h 00 min overdue"),
        (ny(2026, 3, 10, 9, 5), SlaState.BREACHED, -365, "6 h 05 min overdue"),
    ],
)
def test_the_state_and_time_left_of_a_running_clock(acme, ann, now, state, left, text) -> None:
    case = major_case(acme, ann)
    status = sla_status(case, now)
    assert status.state == state
    assert status.minutes_left == pytest.approx(left, abs=0.001)
    assert status.time_left == text


def test_met_and_missed(acme, ann, alice) -> None:
    early, late = major_case(acme, ann), major_case(acme, ann)
    answer(early, alice, ny(2026, 3, 9, 11, 0))  # exactly at the due time: in time
    answer(late, alice, ny(2026, 3, 9, 11, 0, 1))
    later = ny(2026, 3, 20)
    assert sla_status(early, later).state == SlaState.MET
    assert sla_status(late, later).state == SlaState.MISSED
    assert sla_status(early, later).time_left == "answered in 1 h 00 min"
    assert sla_status(early, later).minutes_left is None


def test_the_at_risk_share_is_the_plans(acme, ann) -> None:
    Plan.objects.filter(is_default=True).update(at_risk_share="0.50")
    case = major_case(acme, ann)
    assert sla_status(case, ny(2026, 3, 9, 10, 30)).state == SlaState.AT_RISK


def test_a_case_without_a_clock_has_no_state(acme) -> None:
    case = Case.objects.create(
        reference="CS-1",
        tenant=acme,
        requester_email="x@acme.example",
        subject="s",
        description="d",
        severity=Severity.MINOR,
        channel="email",
        created_at=MONDAY_10,
        updated_at=MONDAY_10,
        dispatched_at=MONDAY_10,
    )
    assert sla_status(case, MONDAY_10) is None
    for state in SlaState.values:
        assert not filter_by_sla_state(Case.objects.all(), state, MONDAY_10).exists()


def test_the_query_filter_agrees_with_the_state_at_every_instant(acme, ann, alice) -> None:
    cases = [major_case(acme, ann, MONDAY_10 + timedelta(minutes=m)) for m in (0, 20, 40, 70)]
    answer(cases[1], alice, ny(2026, 3, 9, 10, 50))  # met
    answer(cases[2], alice, ny(2026, 3, 9, 11, 50))  # missed (due 11:40)
    instants = [MONDAY_10 + timedelta(minutes=m) for m in range(0, 300, 5)]
    instants += [ny(2026, 3, 9, 11, 0), ny(2026, 3, 9, 10, 45), ny(2026, 3, 14)]
    for now in instants:
        expected = {state: set() for state in SlaState.values}
        for case in cases:
            expected[sla_status(case, now).state].add(case.pk)
        for state in SlaState.values:
            found = set(
                filter_by_sla_state(Case.objects.all(), state, now).values_list("pk", flat=True)
            )
            assert found == expected[state], (now, state)


def test_the_filter_composes_with_other_filters_and_asks_one_tier(acme, ann) -> None:
    case = major_case(acme, ann)
    late = ny(2026, 3, 9, 12, 0)
    breached = filter_by_sla_state(Case.objects.filter(tenant=acme), SlaState.BREACHED, late)
    assert list(breached) == [case]
    assert not filter_by_sla_state(Case.objects.all(), "breached", late, tier=Tier.TWO).exists()
    with pytest.raises(ValueError, match="unknown SLA state"):
        filter_by_sla_state(Case.objects.all(), "late", late)


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "0 min"), (59.99, "59 min"), (60, "1 h 00 min"), (1439, "23 h 59 min"), (1500, "1 d 1 h")],
)
def test_time_is_shown_for_people(minutes, text) -> None:
    assert format_minutes(minutes) == text


# --- in templates -------------------------------------------------------------------------------


def render(source: str, **context) -> str:
    return Template("{% load sla_tags %}" + source).render(Context(context))


def test_the_badge_shows_the_state_and_time_left(acme, ann) -> None:
    case = major_case(acme, ann)
    with time_machine.travel(ny(2026, 3, 9, 10, 50), tick=False):
        html = render("{% sla_badge case %}", case=case)
    assert 'class="sla sla-at_risk"' in html
    assert "At risk" in html and "10 min left" in html


def test_the_status_tag_gives_the_values_to_lay_out(acme, ann) -> None:
    case = major_case(acme, ann)
    with time_machine.travel(ny(2026, 3, 9, 11, 5), tick=False):
        html = render("{% sla_status case as s %}{{ s.state }}|{{ s.minutes_left }}", case=case)
    assert html == "breached|-5.0"


def test_badges_in_a_list_cost_no_query_per_row(acme, ann, django_assert_num_queries) -> None:
    for _ in range(5):
        major_case(acme, ann)
    cases = list(with_sla(Case.objects.all()))  # the cases and their clocks with calendars
    render("{% for c in cases %}{% sla_badge c %}{% endfor %}", cases=cases)  # warm the calendar
    with django_assert_num_queries(0):
        html = render("{% for c in cases %}{% sla_badge c %}{% endfor %}", cases=cases)
    assert html.count('class="sla ') == 5


def test_the_case_page_has_the_sla_panel(client, acme, ann) -> None:
    case = major_case(acme, ann)
    client.force_login(ann)
    with time_machine.travel(ny(2026, 3, 9, 10, 20), tick=False):
        response = client.get(reverse("case-detail", args=[case.reference]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Response time" in page and "On track" in page and "40 min left" in page
    assert "Major: first response within 60 minutes, Standard hours" in page
