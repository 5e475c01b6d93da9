"""Due times through the models: the default plan of the data migration, the plan rule, and the
at-risk instant. (The arithmetic itself is tested exhaustively in test_clock.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk.models import Severity, Tier
from sla import services
from sla.clock import Calendar
from sla.models import ClosedDate, OpeningHours, Plan, Unit
from tenants.models import TenantKind
from tests.factories import TenantFactory
from tests.sla.helpers import calendar, ny, plan_with
from tests.sla.test_clock import ref_due_after_days, ref_due_after_minutes

pytestmark = pytest.mark.django_db


def default_plan() -> Plan:
    return Plan.objects.get(is_default=True)


def test_the_migration_creates_the_contract_default_plan() -> None:
    plan = default_plan()
    assert plan.name == "Contract default" and float(plan.at_risk_share) == 0.75
    table = {
        t.severity: (t.calendar.name, t.amount, t.unit)
        for t in plan.targets.select_related("calendar")
    }
    assert table == {
        Severity.EMERGENCY: ("Round the clock", 10, Unit.MINUTES),
        Severity.CRITICAL: ("Standard hours", 30, Unit.MINUTES),
        Severity.MAJOR: ("Standard hours", 60, Unit.MINUTES),
        Severity.MODERATE: ("Standard hours", 240, Unit.MINUTES),
        Severity.MINOR: ("Standard hours", 1, Unit.DAYS),
    }


def test_the_migration_calendars_are_the_contract_hours() -> None:
    standard = calendar("Standard hours").as_clock()
    extended = calendar("Extended hours").as_clock()
    assert standard.tz == extended.tz == "America/New_York"
    assert standard.weekly[0] == ((time(9), time(17)),) and standard.weekly[5] == ()
    assert extended.weekly[0] == ((time(0), time(9)), (time(17), None))
    assert extended.weekly[6] == ((time(0), None),)
    assert calendar("Round the clock").as_clock().always_open


@pytest.mark.parametrize(
    ("severity", "dispatched", "due"),
    [
        # Monday 2026-03-09 (EDT), mid-morning: every severity.
        (Severity.EMERGENCY, ny(2026, 3, 9, 10, 0), ny(2026, 3, 9, 10, 10)),
        (Severity.CRITICAL, ny(2026, 3, 9, 10, 0), ny(2026, 3, 9, 10, 30)),
        (Severity.MAJOR, ny(2026, 3, 9, 10, 0), ny(2026, 3, 9, 11, 0)),
        (Severity.MODERATE, ny(2026, 3, 9, 10, 0), ny(2026, 3, 9, 14, 0)),
        (Severity.MINOR, ny(2026, 3, 9, 10, 0), ny(2026, 3, 10, 10, 0)),
        # The worked examples of SPEC §5.
        (Severity.CRITICAL, ny(2026, 3, 9, 16, 30), ny(2026, 3, 9, 17, 0)),
        (Severity.CRITICAL, ny(2026, 3, 9, 16, 45), ny(2026, 3, 10, 9, 15)),
        (Severity.CRITICAL, ny(2026, 3, 6, 16, 50), ny(2026, 3, 9, 9, 20)),
        (Severity.EMERGENCY, ny(2026, 3, 8, 1, 55), ny(2026, 3, 8, 3, 5)),
        (Severity.MINOR, ny(2026, 3, 6, 10, 0), ny(2026, 3, 9, 9, 0)),
        (Severity.MINOR, ny(2026, 3, 7, 12, 0), ny(2026, 3, 10, 9, 0)),
        # Saturday night: the minute targets wait for Monday 09:00; Emergency does not.
        (Severity.EMERGENCY, ny(2026, 3, 7, 23, 55), ny(2026, 3, 8, 0, 5)),
        (Severity.MAJOR, ny(2026, 3, 7, 23, 55), ny(2026, 3, 9, 10, 0)),
        (Severity.MODERATE, ny(2026, 3, 6, 15, 0), ny(2026, 3, 9, 11, 0)),
        # Autumn: Friday before the fall-back weekend to Monday.
        (Severity.MODERATE, ny(2026, 10, 30, 16, 0), ny(2026, 11, 2, 12, 0)),
        (Severity.EMERGENCY, ny(2026, 11, 1, 1, 55), datetime(2026, 11, 1, 6, 5, tzinfo=UTC)),
        # 2027 too: the Thursday before Independence Day (observed Monday 5 July).
        (Severity.MINOR, ny(2027, 7, 1, 16, 59), ny(2027, 7, 2, 16, 59)),
    ],
)
def test_due_times_of_the_default_plan(severity, dispatched, due) -> None:
    assert services.due_for(default_plan(), severity, dispatched) == due


def test_the_autumn_emergency_crosses_the_repeated_hour_in_real_time() -> None:
    # 01:55 EDT + 10 real minutes is 01:05 EST, the second 01:05 of that night.
    dispatched = ny(2026, 11, 1, 1, 55)
    got = services.due_for(default_plan(), Severity.EMERGENCY, dispatched)
    assert (got - dispatched).total_seconds() == 600
    assert got.astimezone(dispatched.tzinfo).utcoffset().total_seconds() == -5 * 3600


def test_closed_dates_of_the_calendar_count_for_nothing() -> None:
    standard = calendar("Standard hours")
    services.due_for(default_plan(), Severity.CRITICAL, ny(2026, 3, 9, 16, 45))  # built, cached
    # No touch(): saving the row refreshes the cached calendar by itself.
    ClosedDate.objects.create(calendar=standard, date=ny(2026, 3, 10).date(), name="Demo day")
    assert services.due_for(default_plan(), Severity.CRITICAL, ny(2026, 3, 9, 16, 45)) == ny(
        2026, 3, 11, 9, 15
    )


def test_editing_opening_hours_rebuilds_the_calendar() -> None:
    standard = calendar("Standard hours")
    before = services.due_for(default_plan(), Severity.CRITICAL, ny(2026, 3, 9, 16, 45))
    OpeningHours.objects.filter(calendar=standard, weekday=0).update(end=time(18))  # no touch()
    after = services.due_for(default_plan(), Severity.CRITICAL, ny(2026, 3, 9, 16, 45))
    assert (before, after) == (ny(2026, 3, 10, 9, 15), ny(2026, 3, 9, 17, 15))


def test_the_at_risk_instant_is_the_share_of_the_budget_in_open_time() -> None:
    schedule = services.schedule_for(default_plan(), Severity.MODERATE, ny(2026, 3, 6, 15, 0))
    # 240 open minutes, 75% = 180: Friday 15:00-17:00 is 120, then Monday 09:00 + 60.
    assert schedule.at_risk_at == ny(2026, 3, 9, 10, 0)
    assert schedule.due_at == ny(2026, 3, 9, 11, 0)
    minor = services.schedule_for(default_plan(), Severity.MINOR, ny(2026, 3, 7, 12, 0))
    # Dispatched on Saturday, due Tuesday 09:00: the budget is Monday's 480 open minutes.
    assert minor.at_risk_at == ny(2026, 3, 9, 15, 0)


# --- which plan ---------------------------------------------------------------------------------


def test_a_tenant_without_a_plan_gets_the_default() -> None:
    assert services.plan_for(TenantFactory(), Tier.ONE) == default_plan()


def test_a_tenants_own_plan_is_used_when_set() -> None:
    fast = plan_with("Strategic", {Severity.CRITICAL: 15})
    tenant = TenantFactory(sla_plan=fast)
    assert services.plan_for(tenant, Tier.ONE) == fast
    assert services.due_for(fast, Severity.CRITICAL, ny(2026, 3, 9, 16, 30)) == ny(
        2026, 3, 9, 16, 45
    )


def test_a_sub_customer_gets_its_resellers_tier_one_plan_unless_it_has_its_own() -> None:
    phonism_to_reseller = plan_with("Reseller contract", {Severity.CRITICAL: 20})
    reseller_to_subs = plan_with("VoiceHub tier one", {Severity.CRITICAL: 45})
    own = plan_with("Initech premium", {Severity.CRITICAL: 10})
    reseller = TenantFactory(
        kind=TenantKind.RESELLER, sla_plan=phonism_to_reseller, tier_one_plan=reseller_to_subs
    )
    sub = TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)
    assert services.plan_for(sub, Tier.ONE) == reseller_to_subs
    # Phonism's clock on an escalated case: the reseller is Phonism's customer.
    assert services.plan_for(sub, Tier.TWO) == phonism_to_reseller
    # The reseller's own cases are timed by Phonism's plan for it.
    assert services.plan_for(reseller, Tier.ONE) == phonism_to_reseller
    sub.sla_plan = own
    sub.save()
    assert services.plan_for(sub, Tier.ONE) == own
    assert services.plan_for(sub, Tier.TWO) == phonism_to_reseller


def test_a_plan_missing_a_severity_falls_back_to_the_default_plans_target() -> None:
    partial = plan_with("Partial", {Severity.CRITICAL: 15})
    partial.targets.filter(severity=Severity.MINOR).delete()
    assert services.due_for(partial, Severity.MINOR, ny(2026, 3, 9, 10)) == ny(2026, 3, 10, 10)


def test_only_a_reseller_names_a_tier_one_plan() -> None:
    customer = TenantFactory(tier_one_plan=default_plan())
    with pytest.raises(ValidationError) as error:
        customer.full_clean()
    assert "tier_one_plan" in error.value.message_dict


# --- any instant of 2026 and 2027 -----------------------------------------------------------------


def test_the_migrated_calendars_are_the_contracts_calendars() -> None:
    # So every property test of test_clock.py on these calendars holds for the stored ones too.
    assert calendar("Standard hours").as_clock() == Calendar.standard()
    assert calendar("Extended hours").as_clock() == Calendar.extended()
    assert calendar("Round the clock").as_clock() == Calendar.round_the_clock()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # the plan rows are read-only
)
@given(
    # Whole minutes: the reference steps minute by minute (seconds are tested in test_clock.py).
    dispatched=st.integers(0, 2 * 365 * 1440 - 1).map(
        lambda m: datetime(2026, 1, 1, 5, tzinfo=UTC) + timedelta(minutes=m)
    ),
    severity=st.sampled_from(Severity.values),
)
def test_due_times_match_the_naive_reference_on_any_instant(dispatched, severity) -> None:
    standard, always = Calendar.standard(), Calendar.round_the_clock()
    expected = {
        Severity.EMERGENCY: lambda: ref_due_after_minutes(always, dispatched, 10),
        Severity.CRITICAL: lambda: ref_due_after_minutes(standard, dispatched, 30),
        Severity.MAJOR: lambda: ref_due_after_minutes(standard, dispatched, 60),
        Severity.MODERATE: lambda: ref_due_after_minutes(standard, dispatched, 240),
        Severity.MINOR: lambda: ref_due_after_days(standard, dispatched, 1),
    }[severity]()
    assert services.due_for(default_plan(), severity, dispatched) == expected
