"""The reports read each clock's tenant from the clock itself (copied from its case when the
clock starts) and the reseller through the tenant row as it is now. After the things that
change clocks and tenants (severity changes, escalations and re-escalations, responses,
resolutions and reopenings, a sub-customer moved to another reseller) every grouping still
equals a brute-force recount from the cases themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from helpdesk import access, services
from helpdesk.models import Severity, Status
from helpdesk.services import case_escalate, case_hand_back
from sla import reports
from sla.models import ResponseClock
from tenants.models import Role, Tenant, TenantKind
from tests.factories import TenantFactory, member, open_case, staff
from tests.sla.helpers import ny
from tests.sla.test_reports import ALL_GROUPINGS, recount

pytestmark = pytest.mark.django_db


def at(when):
    return time_machine.travel(when, tick=False)


def truth() -> list[ResponseClock]:
    """Every clock, with the case's tenant and that tenant's current reseller: what the
    recount groups by (never the clock's own copy of the tenant)."""
    return list(ResponseClock.objects.select_related("case__tenant__parent", "calendar"))


def assert_reports_equal_the_recount(now) -> None:
    clocks = truth()
    for clock in clocks:
        assert clock.tenant_id == clock.case.tenant_id, clock
    for by in ALL_GROUPINGS:
        got = [
            row.csv_values(by)
            for row in reports.compliance(ResponseClock.objects.all(), by, now=now)
        ]
        assert got == recount(clocks, by, now), by


@pytest.fixture
def world() -> dict:
    acme = TenantFactory(name="Acme", slug="acme", emergency_entitlement=True)
    voicehub = TenantFactory(name="VoiceHub", slug="voicehub", kind=TenantKind.RESELLER)
    talkco = TenantFactory(name="TalkCo", slug="talkco", kind=TenantKind.RESELLER)
    initech = TenantFactory(
        name="Initech", slug="initech", kind=TenantKind.SUBCUSTOMER, parent=voicehub
    )
    umbrella = TenantFactory(
        name="Umbrella", slug="umbrella", kind=TenantKind.SUBCUSTOMER, parent=voicehub
    )
    return {
        "acme": acme,
        "voicehub": voicehub,
        "talkco": talkco,
        "initech": initech,
        "umbrella": umbrella,
        "ann": member(acme),
        "rob": member(voicehub),
        "rita": member(voicehub, Role.ADMIN),
        "ivan": member(initech),
        "ursula": member(umbrella),
        "alice": staff(),
    }


def reply(case, author, when, **kwargs) -> None:
    with at(when):
        services.update_add(case=case, author=author, body="Looking into it.", **kwargs)


def test_reports_follow_severity_changes_escalations_and_reopenings(world) -> None:
    w = world
    # Across the spring-forward weekend (US clocks change on Sunday March 8, 2026).
    start = ny(2026, 3, 6, 15)
    cases = []
    for n, (tenant, person) in enumerate(
        [("acme", "ann"), ("initech", "ivan"), ("umbrella", "ursula"), ("voicehub", "rob")] * 3
    ):
        severity = [Severity.CRITICAL, Severity.MAJOR, Severity.MINOR][n % 3]
        cases.append(open_case(w[tenant], w[person], severity, at=start + timedelta(hours=7 * n)))
    acme_1, initech_1, umbrella_1, voicehub_1, acme_2, initech_2, *_ = cases
    # A running clock moves to a new severity (and due time); a stopped one keeps its own.
    with at(ny(2026, 3, 9, 9, 5)):
        services.case_change_severity(
            case=acme_2, actor=w["alice"], severity=Severity.MINOR, reason="Only one phone"
        )
    reply(acme_1, w["alice"], ny(2026, 3, 9, 9, 10))
    with at(ny(2026, 3, 9, 9, 20)):
        services.case_change_severity(
            case=acme_1, actor=w["alice"], severity=Severity.EMERGENCY, reason="Site down"
        )
    # Escalated, answered, handed back, escalated again (a second provider clock).
    with at(ny(2026, 3, 9, 10)):
        case_escalate(case=initech_1, actor=w["rob"], note="Please look")
    reply(initech_1, w["alice"], ny(2026, 3, 9, 10, 40), escalation=True)
    with at(ny(2026, 3, 9, 11)):
        case_hand_back(case=initech_1, actor=w["alice"], note="Your side")
    with at(ny(2026, 3, 9, 15)):
        case_escalate(case=initech_1, actor=w["rob"], note="Still failing")
    with at(ny(2026, 3, 9, 15, 30)):
        services.case_change_severity(
            case=initech_1, actor=w["rob"], severity=Severity.CRITICAL, reason="Worse"
        )
    # Resolved without a response, then reopened: the clock runs again.
    with at(ny(2026, 3, 9, 9, 30)):
        services.case_change_status(case=umbrella_1, actor=w["ursula"], status=Status.RESOLVED)
    with at(ny(2026, 3, 9, 12)):
        services.case_change_status(case=umbrella_1, actor=w["ursula"], status=Status.IN_PROGRESS)
    with at(ny(2026, 3, 10, 8)):
        services.case_change_status(case=initech_2, actor=w["ivan"], status=Status.RESOLVED)
    reply(voicehub_1, w["alice"], ny(2026, 3, 10, 9))
    assert ResponseClock.objects.filter(tier=2).count() == 2
    for now in (ny(2026, 3, 9, 16), ny(2026, 3, 10, 12), ny(2026, 4, 2, 12)):
        assert_reports_equal_the_recount(now)


def test_a_sub_customer_moved_to_another_reseller_is_reported_under_the_new_one(world) -> None:
    w = world
    case = open_case(w["initech"], w["ivan"], Severity.MAJOR, at=ny(2026, 3, 9, 10))
    with at(ny(2026, 3, 9, 10, 20)):
        case_escalate(case=case, actor=w["rob"], note="Please look")
    open_case(w["umbrella"], w["ursula"], Severity.MINOR, at=ny(2026, 3, 9, 11))
    now = ny(2026, 3, 12, 12)
    assert_reports_equal_the_recount(now)
    initech = Tenant.objects.get(slug="initech")
    initech.parent = w["talkco"]
    initech.full_clean()
    initech.save()
    assert_reports_equal_the_recount(now)
    (row,) = reports.compliance(
        reports.clocks_in(ResponseClock.objects.all(), reseller=w["talkco"]), ("tenant",), now=now
    )
    assert (row.keys["tenant"], row.dispatched) == ("initech", 2)
    moved = reports.clocks_in(ResponseClock.objects.all(), tenant=w["talkco"])
    assert {c.tenant.slug for c in moved} == {"initech"}
    # VoiceHub's admin no longer sees Initech's clocks; a TalkCo admin does.
    assert {c.tenant.slug for c in access.clocks_visible_to(w["rita"])} == {"umbrella"}
    tess = member(w["talkco"], Role.ADMIN)
    assert {c.tenant.slug for c in access.clocks_visible_to(tess)} == {"initech"}
