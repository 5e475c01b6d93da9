"""Issue 11, points 3-5: response minutes stored on each clock when it stops, "resolved without
response", one fact for the case's first response and its clock's, and a clock per escalation.
All with frozen time, including the spring-forward week of 2026 (Sun Mar 8)."""

from __future__ import annotations

import pytest
import time_machine
from django.db import IntegrityError, transaction

from helpdesk import services
from helpdesk.models import Case, Severity, Status, Tier
from helpdesk.services import case_escalate, case_hand_back
from sla.models import ResponseClock, SlaState
from sla.selectors import clocks_history, filter_by_sla_state, sla_status
from tenants.models import Role, TenantKind
from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case, staff
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict:
    acme = TenantFactory(name="Acme", emergency_entitlement=True)
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    initech = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    return {
        "acme": acme,
        "initech": initech,
        "ann": member(acme),
        "rob": member(reseller),
        "rita": member(reseller, Role.ADMIN),
        "ivan": member(initech),
        "alice": staff(),
    }


def at(when):
    return time_machine.travel(when, tick=False)


def reply(case, author, when, **kwargs) -> None:
    with at(when):
        services.update_add(case=case, author=author, body="Looking into it.", **kwargs)


def tier_one(case) -> ResponseClock:
    return ResponseClock.objects.get(case=case, tier=Tier.ONE)


def states(case, now) -> set[str]:
    return {
        state
        for state in SlaState.values
        if filter_by_sla_state(Case.objects.filter(pk=case.pk), state, now, tier=Tier.ONE).exists()
    }


# --- point 5: response minutes ----------------------------------------------------------------


def test_response_minutes_count_open_time_across_the_spring_forward_weekend(world) -> None:
    # Fri 16:50 EST + 30 open minutes is Mon 09:20 EDT (SPEC §5); answered Mon 09:15 EDT.
    case = open_case(world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 6, 16, 50))
    reply(case, world["alice"], ny(2026, 3, 9, 9, 15))
    found = tier_one(case)
    assert found.due_at == ny(2026, 3, 9, 9, 20)
    assert found.response_minutes == pytest.approx(25.0)
    assert found.state_at(ny(2026, 3, 9, 12)) == SlaState.MET
    assert sla_status(case, ny(2026, 3, 9, 12)).time_left == "answered in 25 min"


def test_round_the_clock_response_minutes_are_elapsed_time_over_the_dst_change(world) -> None:
    # 01:55 EST on the spring-forward night + 10 minutes = 03:05 EDT (SPEC §5).
    case = open_case(world["acme"], world["ann"], Severity.EMERGENCY, at=ny(2026, 3, 8, 1, 55))
    reply(case, world["alice"], ny(2026, 3, 8, 3, 7))
    found = tier_one(case)
    assert found.due_at == ny(2026, 3, 8, 3, 5)
    assert found.response_minutes == pytest.approx(12.0)
    assert found.state_at(ny(2026, 3, 8, 4)) == SlaState.MISSED


def test_a_clock_stopped_without_response_has_no_response_minutes(world) -> None:
    case = open_case(world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 5)):
        services.case_change_status(case=case, actor=world["ann"], status=Status.RESOLVED)
    assert tier_one(case).response_minutes is None
    with pytest.raises(IntegrityError), transaction.atomic():
        ResponseClock.objects.filter(case=case).update(
            responded_at=ny(2026, 3, 9, 10, 5), stopped_at=ny(2026, 3, 9, 10, 5)
        )


def test_the_providers_response_on_its_own_clock_stores_its_minutes(world) -> None:
    case = open_case(world["initech"], world["ivan"], Severity.MAJOR, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 20)):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(ny(2026, 3, 9, 10, 50)):
        services.update_add(case=case, author=world["alice"], body="Seen", escalation=True)
    provider = ResponseClock.objects.get(case=case, tier=Tier.TWO)
    assert provider.response_minutes == pytest.approx(30.0)
    assert tier_one(case).response_minutes is None  # the reseller has not answered Ivan


# --- point 3: resolved without response; one fact ---------------------------------------------


def test_resolved_before_due_without_response_is_neither_met_nor_missed(world) -> None:
    case = open_case(world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 10)):
        services.case_change_status(case=case, actor=world["ann"], status=Status.RESOLVED)
    later = ny(2026, 3, 10, 12)
    assert sla_status(case, later).state == SlaState.RESOLVED_WITHOUT_RESPONSE
    assert sla_status(case, later).label == "Resolved without response"
    assert states(case, later) == {SlaState.RESOLVED_WITHOUT_RESPONSE}


def test_resolved_after_due_without_response_is_missed(world) -> None:
    case = open_case(
        world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 9, 10)
    )  # Critical: due 10:30
    with at(ny(2026, 3, 9, 10, 45)):
        services.case_change_status(case=case, actor=world["ann"], status=Status.RESOLVED)
    assert sla_status(case, ny(2026, 3, 10)).state == SlaState.MISSED
    assert states(case, ny(2026, 3, 10)) == {SlaState.MISSED}


def test_a_reply_after_an_unanswered_resolution_is_not_a_response_on_either_side(world) -> None:
    """The case's first response and its clock's response are one fact: a staff reply on a case
    resolved without response leaves both empty; once reopened, a reply sets both at once."""
    case = open_case(world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 10)):
        services.case_change_status(case=case, actor=world["ann"], status=Status.RESOLVED)
    reply(case, world["alice"], ny(2026, 3, 9, 10, 20))
    case.refresh_from_db()
    assert case.first_response_at is None and tier_one(case).responded_at is None
    assert sla_status(case, ny(2026, 3, 9, 11)).state == SlaState.RESOLVED_WITHOUT_RESPONSE
    with at(ny(2026, 3, 9, 10, 25)):
        services.case_change_status(case=case, actor=world["ann"], status=Status.IN_PROGRESS)
    reply(case, world["alice"], ny(2026, 3, 9, 10, 28))
    case.refresh_from_db()
    found = tier_one(case)
    assert case.first_response_at == found.responded_at == ny(2026, 3, 9, 10, 28)
    assert found.response_minutes == pytest.approx(28.0)
    assert sla_status(case, ny(2026, 3, 9, 11)).state == SlaState.MET


def test_first_response_and_clock_response_agree_for_every_kind_of_update(world) -> None:
    case = open_case(world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 9, 10))
    reply(case, world["ann"], ny(2026, 3, 9, 10, 1))  # the customer: not a response
    reply(case, world["alice"], ny(2026, 3, 9, 10, 2), internal=True)  # a note: not one
    case.refresh_from_db()
    assert case.first_response_at is None and tier_one(case).is_running
    reply(case, world["alice"], ny(2026, 3, 9, 10, 3))
    reply(case, world["alice"], ny(2026, 3, 9, 10, 4))
    case.refresh_from_db()
    assert case.first_response_at == tier_one(case).responded_at == ny(2026, 3, 9, 10, 3)
    assert case.status == Status.RESPONDED


# --- point 4: each escalation is a dispatch ---------------------------------------------------


def test_a_re_escalation_after_hand_back_starts_a_new_provider_clock(world) -> None:
    case = open_case(world["initech"], world["ivan"], Severity.MAJOR, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 20)):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(ny(2026, 3, 9, 10, 40)):
        case_hand_back(case=case, actor=world["alice"], note="Your side")
    with at(ny(2026, 3, 9, 16, 30)):
        case_escalate(case=case, actor=world["rob"], note="Still failing")
    case.refresh_from_db()
    provider = list(ResponseClock.objects.filter(case=case, tier=Tier.TWO).order_by("sequence"))
    assert [c.sequence for c in provider] == [1, 2]
    assert provider[0].responded_at == ny(2026, 3, 9, 10, 40)  # history, kept as it was
    assert provider[1].dispatched_at == ny(2026, 3, 9, 16, 30) and provider[1].is_running
    # One hour of standard hours from Mon 16:30 EDT: Tue 09:30.
    assert provider[1].due_at == ny(2026, 3, 10, 9, 30)
    assert case.response_due_at == provider[1].due_at
    assert case.tier_one_due_at == tier_one(case).due_at
    assert sla_status(case, ny(2026, 3, 10, 9, 0)).clock == provider[1]
    assert [(c.tier, c.sequence) for c in clocks_history(case)] == [(1, 1), (2, 1), (2, 2)]
    # Phonism owes a timed response to the second escalation: it can breach.
    assert (
        filter_by_sla_state(Case.objects.all(), SlaState.BREACHED, ny(2026, 3, 10, 10))
        .filter(pk=case.pk)
        .exists()
    )
    # ... and filters see the current clock only, not the answered first one.
    assert not filter_by_sla_state(
        Case.objects.all(), SlaState.MET, ny(2026, 3, 10, 10), tier=Tier.TWO
    ).exists()


def test_at_most_one_running_clock_per_case_and_tier(world) -> None:
    case = open_case(world["acme"], world["ann"], Severity.CRITICAL, at=ny(2026, 3, 9, 10))
    first = tier_one(case)
    with pytest.raises(IntegrityError), transaction.atomic():
        ResponseClock.objects.create(
            **{
                f.attname: getattr(first, f.attname)
                for f in ResponseClock._meta.concrete_fields
                if f.attname != "id"
            }
            | {"sequence": 2}
        )


def test_reopening_resumes_only_the_current_provider_clock(world) -> None:
    case = open_case(world["initech"], world["ivan"], Severity.MAJOR, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 20)):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(ny(2026, 3, 9, 10, 40)):
        case_hand_back(case=case, actor=world["alice"], note="Your side")
    with at(ny(2026, 3, 9, 11)):
        case_escalate(case=case, actor=world["rob"], note="Again")
    with at(ny(2026, 3, 9, 11, 5)):
        services.case_change_status(case=case, actor=world["rob"], status=Status.RESOLVED)
    with at(ny(2026, 3, 9, 11, 10)):
        services.case_change_status(case=case, actor=world["ivan"], status=Status.IN_PROGRESS)
    running = ResponseClock.objects.filter(case=case, stopped_at=None)
    assert sorted((c.tier, c.sequence) for c in running) == [(1, 1), (2, 2)]


def test_the_case_page_shows_the_earlier_provider_clock_as_history(world, client) -> None:
    case = open_case(world["initech"], world["ivan"], Severity.MAJOR, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 20)):
        case_escalate(case=case, actor=world["rob"], note="Please look")
    with at(ny(2026, 3, 9, 10, 40)):
        case_hand_back(case=case, actor=world["alice"], note="Your side")
    with at(ny(2026, 3, 9, 11)):
        case_escalate(case=case, actor=world["rob"], note="Again")
    sign_in(client, world["rob"])
    with at(ny(2026, 3, 9, 11, 10)):
        page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "Earlier escalations (1)" in page
    assert "answered Mar 9, 2026 10:40 EDT" in page
    sign_in(client, world["ivan"])  # the sub-customer never sees the provider's clocks
    with at(ny(2026, 3, 9, 11, 10)):
        page = client.get(f"/cases/{case.reference}/").content.decode()
    assert "Earlier escalations" not in page and "10:40" not in page
