"""Clocks for cases that have none: data from before the SLA engine, bulk seeds
(``manage.py sla_backfill``, ``seed_bulk``) and the demo's back-dated cases (``seed_demo``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from helpdesk.models import Case, Status, Tier
from sla.models import Plan, ResponseClock, Target
from sla.services import (
    NoTarget,
    apply_schedule,
    plan_for,
    response_minutes,
    schedule_from_target,
    target_for,
)

logger = logging.getLogger(__name__)


def clocks_backfill(cases: Iterable[Case]) -> int:
    """Give tier-one clocks to cases that were inserted without one (bulk seeds, data from
    before the SLA engine): due from dispatch, stopped by ``first_response_at``, or by the
    resolution of a case nobody answered. Returns how many clocks were created."""
    cases = [c for c in cases if c.pk is not None]
    have = set(
        ResponseClock.objects.filter(case__in=cases, tier=Tier.ONE).values_list(
            "case_id", flat=True
        )
    )
    plans: dict[int, Plan | None] = {}
    targets: dict[tuple[int | None, int], Target] = {}
    rows, synced = [], []
    now = timezone.now()
    for case in cases:
        if case.pk in have:
            continue
        if case.tenant_id not in plans:
            plans[case.tenant_id] = plan_for(case.tenant, Tier.ONE)
        plan = plans[case.tenant_id]
        key = (plan.pk if plan else None, case.severity)
        if key not in targets:
            try:
                targets[key] = target_for(plan, case.severity)
            except NoTarget:
                logger.exception("No SLA clock for %s", case.reference)
                continue
        row = ResponseClock(
            case=case, tenant_id=case.tenant_id, tier=Tier.ONE, created_at=now, updated_at=now
        )
        apply_schedule(row, schedule_from_target(targets[key], case.dispatched_at), case.severity)
        if case.first_response_at is not None:
            row.responded_at = row.stopped_at = case.first_response_at
            row.response_minutes = response_minutes(row, row.responded_at)
        elif case.status in (Status.RESOLVED, Status.CLOSED):
            row.stopped_at = case.resolved_at or case.closed_at or case.updated_at
        rows.append(row)
        if case.tier_one_due_at != row.due_at or (
            case.tier == Tier.ONE and case.response_due_at != row.due_at
        ):
            case.tier_one_due_at = row.due_at
            if case.tier == Tier.ONE:
                case.response_due_at = row.due_at
            synced.append(case)
    with transaction.atomic():
        ResponseClock.objects.bulk_create(rows, batch_size=2000)
        Case.objects.bulk_update(synced, ["response_due_at", "tier_one_due_at"], batch_size=2000)
    return len(rows)


def clocks_redate(*, case: Case) -> None:
    """The case's dispatch and response times were moved (demo seeding): rebuild its tier-one
    clock from them. Never for real cases, whose history is kept."""
    ResponseClock.objects.filter(case=case).delete()
    clocks_backfill([case])
