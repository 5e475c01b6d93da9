"""Escalation to the provider (SPEC §4): tier two, Phonism's clock, the escalation thread."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from helpdesk import access, services
from helpdesk.models import EventKind, Severity, Tier, Visibility
from helpdesk.services import can_escalate, case_escalate, case_hand_back
from sla.models import ResponseClock, SlaState
from sla.selectors import sla_status
from tenants.models import Role, TenantKind
from tests.factories import TenantFactory, member, open_case, staff
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db

MONDAY_10 = ny(2026, 3, 9, 10, 0)


@pytest.fixture
def world() -> dict:
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    initech = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    people = {
        "rob": member(reseller),
        "rita": member(reseller, Role.ADMIN),
        "ivan": member(initech),
        "alice": staff(),
        "ann": member(TenantFactory(name="Acme")),
    }
    with time_machine.travel(MONDAY_10, tick=False):
        people["case"] = open_case(initech, people["ivan"], Severity.MAJOR)
    return people


def at(minutes: int):
    return time_machine.travel(MONDAY_10 + timedelta(minutes=minutes), tick=False)


def clock(case, tier) -> ResponseClock:
    """The tier's current clock (its latest dispatch)."""
    return ResponseClock.objects.filter(case=case, tier=tier).order_by("-sequence").first()


def test_escalation_starts_the_providers_clock_at_the_escalation_instant(world) -> None:
    case = world["case"]
    assert can_escalate(case, world["rob"])
    with at(20):
        case_escalate(case=case, actor=world["rob"], note="SBC rejects REGISTER; logs attached")
    assert case.tier == Tier.TWO
    tier_two = clock(case, Tier.TWO)
    assert tier_two.dispatched_at == MONDAY_10 + timedelta(minutes=20)
    assert tier_two.due_at == MONDAY_10 + timedelta(minutes=80)  # Major: one open hour
    assert case.response_due_at == tier_two.due_at
    assert clock(case, Tier.ONE).is_running  # the reseller still owes Ivan a response
    thread = case.updates.get()
    assert (thread.visibility, thread.author) == (Visibility.ESCALATION, world["rob"])
    event = case.events.get(kind=EventKind.ESCALATED)
    assert event.visibility == Visibility.ESCALATION


def test_the_providers_first_thread_message_stops_its_clock(world) -> None:
    case = world["case"]
    with at(20):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(30):
        services.update_add(case=case, author=world["rob"], body="More logs", escalation=True)
    assert clock(case, Tier.TWO).is_running  # the reseller's own messages are not responses
    with at(50):
        services.update_add(case=case, author=world["alice"], body="Known bug", escalation=True)
    tier_two = clock(case, Tier.TWO)
    assert tier_two.responded_at == MONDAY_10 + timedelta(minutes=50)
    assert tier_two.state_at(MONDAY_10 + timedelta(hours=5)) == SlaState.MET
    assert clock(case, Tier.ONE).is_running  # Phonism's answer is not Ivan's response


def test_the_reseller_relays_and_that_is_tier_ones_response(world) -> None:
    case = world["case"]
    with at(20):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(90):
        services.update_add(case=case, author=world["rob"], body="Fix is on its way, Ivan.")
    assert clock(case, Tier.ONE).responded_at == MONDAY_10 + timedelta(minutes=90)
    with at(200):
        now = MONDAY_10 + timedelta(minutes=200)
        assert sla_status(case, now, tier=Tier.ONE).state == SlaState.MISSED
        assert sla_status(case, now).state == SlaState.BREACHED  # Phonism's clock, overdue


def test_a_hand_back_returns_the_case_to_tier_one(world) -> None:
    case = world["case"]
    with at(20):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(40):
        case_hand_back(case=case, actor=world["alice"], note="Configuration issue on your side")
    assert case.tier == Tier.ONE
    assert clock(case, Tier.TWO).responded_at == MONDAY_10 + timedelta(minutes=40)
    assert case.response_due_at == clock(case, Tier.ONE).due_at
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds.index(EventKind.HANDED_BACK) > kinds.index(EventKind.ESCALATED)
    with at(60):
        case_escalate(case=case, actor=world["rob"], note="Still failing after the change")
    # Each escalation is a dispatch: a new provider clock, the earlier one kept as history.
    assert case.tier == Tier.TWO and ResponseClock.objects.filter(case=case).count() == 3
    assert clock(case, Tier.TWO).dispatched_at == MONDAY_10 + timedelta(minutes=60)


@pytest.mark.parametrize("person", ["ivan", "alice", "ann"])
def test_only_the_resellers_people_escalate(world, person) -> None:
    case = world["case"]
    assert not can_escalate(case, world[person])
    with pytest.raises(PermissionDenied):
        case_escalate(case=case, actor=world[person], note="x")


def test_escalation_needs_a_message_and_a_sub_customer_case(world) -> None:
    with pytest.raises(ValidationError):
        case_escalate(case=world["case"], actor=world["rob"], note="  ")
    reseller_own = open_case(world["rob"].membership.tenant, world["rob"])
    with pytest.raises(PermissionDenied):  # on its own case the reseller is the customer
        case_escalate(case=reseller_own, actor=world["rob"], note="x")
    with pytest.raises(ValidationError, match="Escalate the case"):
        services.update_add(case=world["case"], author=world["rob"], body="x", escalation=True)


def test_only_staff_hand_back(world) -> None:
    case_escalate(case=world["case"], actor=world["rob"], note="Please look")
    with pytest.raises(PermissionDenied):
        case_hand_back(case=world["case"], actor=world["rob"], note="x")


def test_the_sub_customer_never_sees_the_thread(world) -> None:
    case = world["case"]
    case_escalate(case=case, actor=world["rob"], note="Escalating to Phonism")
    services.update_add(case=case, author=world["alice"], body="Phonism here", escalation=True)
    services.update_add(case=case, author=world["rob"], body="We are on it, Ivan")
    for person, expected in [
        ("ivan", {"We are on it, Ivan"}),
        ("rob", {"Escalating to Phonism", "Phonism here", "We are on it, Ivan"}),
        ("alice", {"Escalating to Phonism", "Phonism here", "We are on it, Ivan"}),
    ]:
        bodies = set(access.updates_visible_to(world[person]).values_list("body", flat=True))
        assert bodies == expected, person
    ivan_events = access.events_visible_to(world["ivan"]).filter(case=case)
    assert not ivan_events.filter(kind=EventKind.ESCALATED).exists()
    assert not ivan_events.filter(visibility=Visibility.ESCALATION).exists()


def test_what_each_side_may_write(world) -> None:
    case = world["case"]
    assert services.update_kinds(case, world["ivan"]) == ["public"]
    assert services.update_kinds(case, world["rob"]) == ["public", "internal"]
    assert services.update_kinds(case, world["alice"]) == ["internal"]  # never to Ivan directly
    case_escalate(case=case, actor=world["rob"], note="Please look")
    assert services.update_kinds(case, world["rob"]) == ["public", "internal", "escalation"]
    assert services.update_kinds(case, world["alice"]) == ["internal", "escalation"]
    assert services.update_kinds(case, world["ann"]) == []
