"""SLA webhooks from the breach sweep: who hears of a breach (a sub-customer's reseller too,
a sub-customer never the tier), at a constant number of queries per sweep batch however many
cases breached (a sweep may record thousands)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from helpdesk import services
from helpdesk.models import Case, Severity, Tier
from sla import sweep as sweeping
from sla.models import ResponseClock
from tenants.models import Tenant
from tests.factories import case_by

pytestmark = pytest.mark.django_db


def subscribe(*slugs: str) -> dict[str, WebhookSubscription]:
    return {
        slug: WebhookSubscription.objects.create(
            tenant=Tenant.objects.get(slug=slug), url=f"https://hooks.{slug}.example/sla"
        )
        for slug in slugs
    }


def breached(cases: list[Case]) -> None:
    """Move the cases' running clocks into the past: due a minute ago, at risk before that."""
    past = timezone.now() - timedelta(minutes=1)
    ResponseClock.objects.filter(case__in=cases, stopped_at=None).update(
        dispatched_at=past - timedelta(hours=1), at_risk_at=past - timedelta(minutes=1), due_at=past
    )


def statements(queries: CaptureQueriesContext) -> int:
    """Statements the code issued. A bulk insert that the database splits into batches by its
    parameter limit (SQLite's 999; PostgreSQL does not split these) counts once: that split is
    the database's, and a statement per row would still show as one per batch of rows."""
    count, previous = 0, None
    for query in queries.captured_queries:
        sql = query["sql"]
        head = sql.split(" VALUES ")[0] if sql.startswith("INSERT") else None
        if head is None or head != previous:
            count += 1
        previous = head
    return count


def test_a_breach_reaches_the_cases_organisation_and_a_sub_customers_reseller(demo) -> None:
    hooks = subscribe("acme", "initech", "voicehub", "globex")
    sweeping.sweep()  # whatever the demo has overdue already
    acme_case = case_by(demo["ann"], Severity.CRITICAL, subject="Acme trunk down")
    initech_case = case_by(demo["ivan"], Severity.CRITICAL, subject="Initech trunk down")
    breached([acme_case, initech_case])
    sweeping.sweep()
    sent = {
        (d.subscription.tenant.slug, d.case_reference): d.payload
        for d in WebhookDelivery.objects.filter(event=WebhookEvent.BREACHED).select_related(
            "subscription__tenant"
        )
    }
    assert set(sent) == {
        ("acme", acme_case.reference),
        ("initech", initech_case.reference),
        ("voicehub", initech_case.reference),
    }
    assert sent[("voicehub", initech_case.reference)]["data"]["tier"] == 1
    assert "tier" not in sent[("initech", initech_case.reference)]["data"]
    assert "tier" not in sent[("acme", acme_case.reference)]["data"]
    assert not hooks["globex"].deliveries.exists()


def test_a_sweep_batch_costs_the_same_queries_for_5_and_200_breaches(demo) -> None:
    subscribe("acme", "initech", "voicehub", "globex")
    people = [demo["ann"], demo["ivan"], demo["gina"]]
    sweeping.sweep()
    cost: dict[int, int] = {}
    for count in (5, 200):
        cases = [case_by(people[n % 3], Severity.CRITICAL) for n in range(count)]
        breached(cases)
        with CaptureQueriesContext(connection) as queries:
            result = sweeping.sweep(batch=1000)
        assert result.breached == count
        references = [case.reference for case in cases]
        deliveries = WebhookDelivery.objects.filter(
            event=WebhookEvent.BREACHED, case_reference__in=references
        )
        # One per case for its organisation, one more per Initech case for VoiceHub.
        assert deliveries.count() == count + len(cases[1::3])
        cost[count] = statements(queries)
        if connection.vendor == "postgresql":
            cost[count] = len(queries.captured_queries)
    assert cost[5] == cost[200]


def test_the_providers_clock_on_an_escalated_case_is_never_told_to_the_sub_customer(demo) -> None:
    """White label: Initech's webhooks follow VoiceHub's clock only; when the provider's clock
    of its escalated case breaches, VoiceHub hears of it and Initech does not."""
    hooks = subscribe("initech", "voicehub")
    sweeping.sweep()
    case = case_by(demo["ivan"], Severity.CRITICAL, subject="Initech trunk down")
    services.update_add(case=case, author=demo["rob"], body="Looking at it.")  # tier one answers
    services.case_escalate(case=case, actor=demo["rob"], note="Needs the provider.")
    WebhookDelivery.objects.all().delete()
    ResponseClock.objects.filter(case=case, tier=Tier.TWO, stopped_at=None).update(
        dispatched_at=timezone.now() - timedelta(hours=2),
        at_risk_at=timezone.now() - timedelta(hours=1),
        due_at=timezone.now() - timedelta(minutes=1),
    )
    assert sweeping.sweep().breached == 1
    told = WebhookDelivery.objects.filter(event=WebhookEvent.BREACHED)
    assert [d.subscription_id for d in told] == [hooks["voicehub"].pk]
    assert told.get().payload["data"]["tier"] == 2
    assert not hooks["initech"].deliveries.filter(event=WebhookEvent.AT_RISK).exists()
