"""Issue 11 on PostgreSQL: breaches of clocks that stopped late are recorded exactly once under
two concurrent sweeps, and the viewer's SLA filter and due sort are indexed queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from helpdesk import notifications, services
from helpdesk.filters import sort_order
from helpdesk.models import Case, NotificationKind, OutboundEmail, Status, Tier
from sla import sweep as sweeping
from sla.models import ResponseClock, SlaEvent, SlaEventKind, SlaState
from sla.selectors import filter_by_sla_state
from tests.sla.test_sweep_postgres import in_threads, overdue_cases

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_sweeps_at_once_record_late_stopped_breaches_once_and_tell_nobody(demo):
    sweeping.sweep()  # the demo's own history first
    running = overdue_cases(demo["ann"], 60)
    late = overdue_cases(demo["ann"], 60)
    with notifications.muted():
        for pk in late[:30]:  # answered late, before any sweep saw the breach
            services.update_add(case=Case.objects.get(pk=pk), author=demo["alice"], body="Sorry")
        for pk in late[30:]:  # resolved late, never answered
            services.case_change_status(
                case=Case.objects.get(pk=pk), actor=demo["ann"], status=Status.RESOLVED
            )
    results = in_threads(lambda: sweeping.sweep(batch=7), lambda: sweeping.sweep(batch=7))
    breaches = SlaEvent.objects.filter(case_id__in=running + late, kind=SlaEventKind.BREACHED)
    assert breaches.count() == 120
    assert breaches.values("clock").distinct().count() == 120
    assert sum(result.breached for result in results) == 120
    for event in breaches.select_related("clock"):
        assert event.occurred_at == event.clock.due_at
    told = OutboundEmail.objects.filter(kind=NotificationKind.BREACHED)
    assert set(told.filter(case_id__in=running).values_list("case_id", flat=True)) == set(running)
    assert not told.filter(case_id__in=late).exists()


def explain(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # a tiny table: ask whether an index *can* serve
        try:
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("SET enable_seqscan = on")


def test_the_viewers_due_sort_and_sla_filter_use_indexes(demo):
    cases = Case.objects.all()
    tier_one = explain(cases.order_by(*sort_order("due", Tier.ONE))[:25])
    assert "case_tier_one_due" in tier_one, tier_one
    current = explain(cases.order_by(*sort_order("due", None))[:25])
    assert "case_response_due" in current, current
    now = timezone.now() + timedelta(hours=1)
    for state in (SlaState.BREACHED, SlaState.MET, SlaState.RESOLVED_WITHOUT_RESPONSE):
        for tier in (Tier.ONE, None):
            plan = explain(filter_by_sla_state(cases, state, now, tier)[:25])
            assert "sla_clock_sequence_once" in plan or "sla_clock_running" in plan, plan
    assert ResponseClock.objects.exists()
