"""Response clocks on cases: started at opening, stopped by the response as SPEC §4 defines it,
recomputed on a severity change from the original dispatch."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command

from helpdesk import services
from helpdesk.models import EventKind, Severity, Status, Tier, Visibility
from sla.models import ResponseClock, SlaState, Target
from tenants.models import Role, TenantKind
from tests.factories import TenantFactory, member, open_case, staff
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db

MONDAY_10 = ny(2026, 3, 9, 10, 0)


@pytest.fixture
def world() -> dict:
    acme = TenantFactory(name="Acme")
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    initech = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    return {
        "acme": acme,
        "initech": initech,
        "ann": member(acme),
        "rita": member(reseller, Role.ADMIN),
        "ivan": member(initech),
        "alice": staff(),
    }


def clock(case) -> ResponseClock:
    return ResponseClock.objects.get(case=case, tier=Tier.ONE)


def reply(case, author, when, internal: bool = False) -> None:
    with time_machine.travel(when, tick=False):
        services.update_add(case=case, author=author, body="Looking into it.", internal=internal)


def test_opening_starts_the_tier_one_clock(world) -> None:
    case = open_case(world["acme"], world["ann"], at=MONDAY_10)
    found = clock(case)
    assert (found.dispatched_at, found.due_at) == (MONDAY_10, ny(2026, 3, 9, 11, 0))
    assert found.at_risk_at == ny(2026, 3, 9, 10, 45)
    assert (found.amount, found.unit, found.calendar.name) == (60, "minutes", "Standard hours")
    assert found.responded_at is None and found.is_running
    assert case.response_due_at == found.due_at


def test_a_provider_reply_on_a_direct_customers_case_is_the_response(world) -> None:
    case = open_case(world["acme"], world["ann"], at=MONDAY_10)
    reply(case, world["alice"], MONDAY_10 + timedelta(minutes=20))
    found = clock(case)
    assert found.responded_at == found.stopped_at == MONDAY_10 + timedelta(minutes=20)
    assert found.state_at(MONDAY_10 + timedelta(days=3)) == SlaState.MET
    case.refresh_from_db()
    assert case.first_response_at == found.responded_at and case.status == Status.RESPONDED


def test_a_resellers_reply_stops_the_tier_one_clock_of_a_sub_customers_case(world) -> None:
    case = open_case(world["initech"], world["ivan"], at=MONDAY_10)
    reply(case, world["rita"], MONDAY_10 + timedelta(minutes=70))
    found = clock(case)
    assert found.responded_at == MONDAY_10 + timedelta(minutes=70)
    assert found.state_at(MONDAY_10 + timedelta(days=1)) == SlaState.MISSED


def test_the_provider_never_replies_to_a_sub_customer_directly(world) -> None:
    # White label: the provider talks to the reseller in the escalation thread instead.
    case = open_case(world["initech"], world["ivan"], at=MONDAY_10)
    with pytest.raises(ValidationError, match="escalation thread"):
        reply(case, world["alice"], MONDAY_10 + timedelta(minutes=5))
    assert clock(case).is_running and not case.updates.exists()


@pytest.mark.parametrize(
    ("tenant", "author", "internal"),
    [
        ("acme", "ann", False),  # the customer's own comment
        ("initech", "ivan", False),
        ("acme", "alice", True),  # a provider's internal note
        ("initech", "rita", True),  # a reseller's internal note
        ("initech", "alice", True),
    ],
)
def test_comments_and_internal_notes_stop_nothing(world, tenant, author, internal) -> None:
    requester = world["ann"] if tenant == "acme" else world["ivan"]
    case = open_case(world[tenant], requester, at=MONDAY_10)
    reply(case, world[author], MONDAY_10 + timedelta(minutes=5), internal=internal)
    found = clock(case)
    assert found.is_running and found.responded_at is None
    assert found.state_at(MONDAY_10 + timedelta(hours=2)) == SlaState.BREACHED
    case.refresh_from_db()
    assert case.first_response_at is None and case.status == Status.NEW


def test_only_the_first_response_counts(world) -> None:
    case = open_case(world["acme"], world["ann"], at=MONDAY_10)
    reply(case, world["alice"], MONDAY_10 + timedelta(minutes=10))
    reply(case, world["alice"], MONDAY_10 + timedelta(minutes=90))
    assert clock(case).responded_at == MONDAY_10 + timedelta(minutes=10)


def test_a_severity_change_recomputes_from_the_original_dispatch(world) -> None:
    case = open_case(world["acme"], world["ann"], Severity.MINOR, at=ny(2026, 3, 9, 16, 30))
    assert clock(case).due_at == ny(2026, 3, 10, 16, 30)
    with time_machine.travel(ny(2026, 3, 9, 16, 50), tick=False):
        services.case_change_severity(
            case=case, actor=world["ann"], severity=Severity.CRITICAL, reason="Whole site down"
        )
    found = clock(case)
    # From the 16:30 dispatch, not from the 16:50 change (which would give Tue 09:20).
    assert found.due_at == ny(2026, 3, 9, 17, 0)
    assert (found.severity, found.amount, found.unit) == (Severity.CRITICAL, 30, "minutes")
    assert found.dispatched_at == ny(2026, 3, 9, 16, 30)
    case.refresh_from_db()
    assert case.response_due_at == ny(2026, 3, 9, 17, 0)
    event = case.events.get(kind=EventKind.DUE_CHANGED)
    assert (event.old_value, event.new_value) == ("2026-03-10 16:30 EDT", "2026-03-09 17:00 EDT")
    assert (event.actor, event.reason, event.visibility) == (
        world["ann"],
        "Whole site down",
        Visibility.PUBLIC,
    )
    assert event.created_at == ny(2026, 3, 9, 16, 50)


def test_a_severity_change_after_the_response_keeps_the_judged_due_time(world) -> None:
    case = open_case(world["acme"], world["ann"], Severity.MINOR, at=MONDAY_10)
    reply(case, world["alice"], MONDAY_10 + timedelta(hours=3))
    with time_machine.travel(MONDAY_10 + timedelta(hours=4), tick=False):
        services.case_change_severity(
            case=case, actor=world["alice"], severity=Severity.CRITICAL, reason="Worse"
        )
    found = clock(case)
    assert found.due_at == ny(2026, 3, 10, 10, 0) and found.severity == Severity.MINOR
    assert found.state_at(MONDAY_10 + timedelta(hours=5)) == SlaState.MET
    assert not case.events.filter(kind=EventKind.DUE_CHANGED).exists()


def test_editing_a_plan_does_not_move_due_times_already_promised(world) -> None:
    case = open_case(world["acme"], world["ann"], at=MONDAY_10)
    Target.objects.filter(plan__is_default=True, severity=Severity.MAJOR).update(amount=15)
    found = clock(case)
    assert (found.due_at, found.amount) == (ny(2026, 3, 9, 11, 0), 60)
    assert open_case(world["acme"], world["ann"], at=MONDAY_10).response_due_at == ny(
        2026, 3, 9, 10, 15
    )


def test_resolving_an_unanswered_case_stops_its_clock_and_reopening_restarts_it(world) -> None:
    case = open_case(world["acme"], world["ann"], at=MONDAY_10)
    with time_machine.travel(MONDAY_10 + timedelta(minutes=5), tick=False):
        services.case_change_status(case=case, actor=world["ann"], status=Status.RESOLVED)
    found = clock(case)
    assert found.stopped_at == MONDAY_10 + timedelta(minutes=5) and found.responded_at is None
    later = MONDAY_10 + timedelta(hours=5)
    # Ended within target with no response: neither met nor missed, nothing to breach.
    assert found.state_at(later) == SlaState.RESOLVED_WITHOUT_RESPONSE
    with time_machine.travel(later, tick=False):
        services.case_change_status(case=case, actor=world["ann"], status=Status.IN_PROGRESS)
    found = clock(case)
    assert found.is_running and found.due_at == ny(2026, 3, 9, 11, 0)
    assert found.state_at(later) == SlaState.BREACHED
    reply(case, world["alice"], later + timedelta(minutes=1))
    assert clock(case).state_at(later + timedelta(hours=1)) == SlaState.MISSED


def test_a_running_clock_is_what_the_sweep_index_holds(world) -> None:
    answered = open_case(world["acme"], world["ann"], at=MONDAY_10)
    waiting = open_case(world["acme"], world["ann"], at=MONDAY_10)
    reply(answered, world["alice"], MONDAY_10 + timedelta(minutes=1))
    overdue = ResponseClock.objects.filter(stopped_at=None, due_at__lt=ny(2026, 3, 9, 12, 0))
    assert list(overdue.values_list("case", flat=True)) == [waiting.pk]


def test_the_backfill_gives_clocks_to_cases_without_one(world) -> None:
    answered = open_case(world["acme"], world["ann"], at=MONDAY_10)
    reply(answered, world["alice"], MONDAY_10 + timedelta(minutes=3))
    bare = open_case(world["initech"], world["ivan"], Severity.CRITICAL, at=MONDAY_10)
    ResponseClock.objects.all().delete()
    out = io.StringIO()
    call_command("sla_backfill", stdout=out)
    assert "Created 2 response clock(s)." in out.getvalue()
    assert clock(answered).responded_at == MONDAY_10 + timedelta(minutes=3)
    assert clock(bare).due_at == ny(2026, 3, 9, 10, 30) and clock(bare).is_running
    call_command("sla_backfill", stdout=out)
    assert ResponseClock.objects.count() == 2
