"""Opening a case reads the SLA targets from memory (issue 10), and every way of changing a
plan, a target or a calendar reaches the next case opened, in this process and in others.

Committed (transactional) tests: the memory is only kept across transactions, and a change
made in a transaction takes effect everywhere when it commits, as in production."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from helpdesk.models import Severity
from sla import services as sla
from sla.models import SLA_TARGETS, OpeningHours, Plan, Target
from tenants.memo import StampedMemo
from tests.factories import TenantFactory, member, open_case
from tests.sla.helpers import calendar, ny, plan_with

pytestmark = pytest.mark.django_db(transaction=True)

MONDAY_10 = ny(2026, 3, 9, 10, 0)


@pytest.fixture
def acme():
    return TenantFactory(name="Acme")


@pytest.fixture
def ann(acme):
    return member(acme)


def due(acme, ann, severity: int = Severity.MAJOR):
    return open_case(acme, ann, severity, at=MONDAY_10).response_due_at


def fresh_due(acme, severity: int = Severity.MAJOR):
    """What the rules give now, read from the database with no memory at all."""
    return sla.schedule_for(sla.plan_for(acme, 1), severity, MONDAY_10).due_at


def target_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if "sla_target" in q["sql"]]


def test_the_second_opening_reads_no_target(acme, ann) -> None:
    assert due(acme, ann) == ny(2026, 3, 9, 11, 0)
    with CaptureQueriesContext(connection) as queries:
        assert due(acme, ann) == ny(2026, 3, 9, 11, 0)
    assert not target_queries(queries)


def major_target() -> Target:
    return Target.objects.get(plan__is_default=True, severity=Severity.MAJOR)


def save_in_a_transaction(row) -> None:
    with transaction.atomic():  # as the admin saves
        row.save()


def test_a_target_saved_applies_to_the_next_case(acme, ann) -> None:
    due(acme, ann)
    target = major_target()
    target.amount = 15
    save_in_a_transaction(target)
    assert due(acme, ann) == ny(2026, 3, 9, 10, 15) == fresh_due(acme)


def test_targets_updated_in_bulk_apply_to_the_next_case(acme, ann) -> None:
    due(acme, ann)
    Target.objects.filter(plan__is_default=True).update(amount=20)
    assert due(acme, ann) == ny(2026, 3, 9, 10, 20)


def test_the_plans_at_risk_share_applies_to_the_next_case(acme, ann) -> None:
    case = open_case(acme, ann, Severity.MAJOR, at=MONDAY_10)
    assert case.response_clocks.get().at_risk_at == ny(2026, 3, 9, 10, 45)
    plan = Plan.objects.get(is_default=True)
    plan.at_risk_share = Decimal("0.50")
    save_in_a_transaction(plan)
    case = open_case(acme, ann, Severity.MAJOR, at=MONDAY_10)
    assert case.response_clocks.get().at_risk_at == ny(2026, 3, 9, 10, 30)


def test_a_new_default_plan_applies_to_tenants_without_a_plan(acme, ann) -> None:
    due(acme, ann)
    quick = plan_with("Quick", {Severity.MAJOR: 10})
    sla.plan_make_default(plan=quick)
    assert due(acme, ann) == ny(2026, 3, 9, 10, 10)


def test_a_tenants_own_plan_applies_at_once(acme, ann) -> None:
    due(acme, ann)
    acme.sla_plan = plan_with("Gold", {Severity.MAJOR: 5})
    acme.save()
    assert due(acme, ann) == ny(2026, 3, 9, 10, 5)


def test_a_closed_date_added_to_the_calendar_moves_the_next_due_time(acme, ann) -> None:
    assert due(acme, ann) == ny(2026, 3, 9, 11, 0)
    sla.calendar_add_closed_dates(calendar=calendar("Standard hours"), dates={date(2026, 3, 9): ""})
    assert due(acme, ann) == ny(2026, 3, 10, 10, 0) == fresh_due(acme)


def test_changed_opening_hours_move_the_next_due_time(acme, ann) -> None:
    due(acme, ann)
    monday = OpeningHours.objects.get(calendar=calendar("Standard hours"), weekday=0)
    monday.start = time(10, 30)
    save_in_a_transaction(monday)
    assert due(acme, ann) == ny(2026, 3, 9, 11, 30) == fresh_due(acme)


def test_a_change_rolled_back_is_never_remembered(acme, ann) -> None:
    due(acme, ann)
    with pytest.raises(RuntimeError), transaction.atomic():
        target = major_target()
        target.amount = 15
        target.save()
        # Within the change's own transaction the next case already follows it...
        assert due(acme, ann) == ny(2026, 3, 9, 10, 15)
        raise RuntimeError("the admin's save failed")
    # ...and once rolled back, no case does.
    assert due(acme, ann) == ny(2026, 3, 9, 11, 0)


def test_another_process_reads_the_targets_again_after_a_change(acme, ann) -> None:
    """Another web or worker process has its own memory; the stamp in the shared cache tells
    it that the targets changed."""
    other = StampedMemo(SLA_TARGETS.name)
    loads = []
    other.get("all", lambda: loads.append(1))
    other.get("all", lambda: loads.append(1))
    assert len(loads) == 1
    target = major_target()
    target.amount = 15
    save_in_a_transaction(target)
    other.get("all", lambda: loads.append(1))
    assert len(loads) == 2


def test_without_any_target_the_case_still_opens(acme, ann) -> None:
    due(acme, ann)
    Plan.objects.filter(is_default=True).update(is_default=False)
    with time_machine.travel(MONDAY_10, tick=False):
        case = open_case(acme, ann, Severity.MAJOR)
    assert case.response_due_at is None and not case.response_clocks.exists()
