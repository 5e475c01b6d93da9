"""The data migration of issue 11 (sla 0005): clocks answered before ``response_minutes``
existed get their open-hours minutes, and cases their ``tier_one_due_at``, computed with the
historical models (the migration must not use today's model methods)."""

from __future__ import annotations

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from helpdesk import services
from helpdesk.models import Case, Severity
from tests.factories import TenantFactory, member, open_case, staff
from tests.sla.helpers import ny

BEFORE = ("sla", "0004_sla_event_permissions")
AFTER = ("sla", "0005_clock_history")


@pytest.mark.django_db(transaction=True)
def test_existing_answered_clocks_get_their_open_minutes_and_cases_their_tier_one_due() -> None:
    acme = TenantFactory(name="Acme")
    ann, alice = member(acme), staff()
    with time_machine.travel(ny(2026, 3, 6, 16, 50), tick=False):  # Fri, the DST weekend ahead
        answered = open_case(acme, ann, Severity.CRITICAL)
        waiting = open_case(acme, ann, Severity.MAJOR)
    with time_machine.travel(ny(2026, 3, 9, 9, 15), tick=False):
        services.update_add(case=answered, author=alice, body="On it.")
    due = {c.pk: c.tier_one_due_at for c in Case.objects.all()}

    call_command("migrate", *BEFORE, verbosity=0)
    try:
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        assert "response_minutes" not in {
            f.name for f in old.get_model("sla", "ResponseClock")._meta.fields
        }
        Case.objects.update(tier_one_due_at=None)
        call_command("migrate", *AFTER, verbosity=0)
        # Read as the database is right after the migration (later ones add columns that
        # today's models would ask for).
        then = MigrationExecutor(connection).loader.project_state(AFTER).apps
        clocks = then.get_model("sla", "ResponseClock").objects
        answered_minutes = clocks.get(case_id=answered.pk).response_minutes
        waiting_minutes = clocks.get(case_id=waiting.pk).response_minutes
        due_after = dict(
            then.get_model("helpdesk", "Case").objects.values_list("pk", "tier_one_due_at")
        )
    finally:
        call_command("migrate", verbosity=0)  # every app at its latest again, for what follows

    assert answered_minutes == pytest.approx(25.0)
    assert waiting_minutes is None
    assert due_after == due
    assert due[answered.pk] == ny(2026, 3, 9, 9, 20)
