"""Reads that take more than a line and span cases and tenants."""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from helpdesk.models import OPEN_STATUSES, Case
from tenants.models import Membership, Tenant


def _count(queryset: QuerySet) -> Coalesce:
    """COUNT(*) of a correlated subquery, 0 when empty: two counts as joins would multiply
    each other's rows (agents × cases) before counting."""
    counted = queryset.order_by().values("tenant").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def with_people_and_open_cases(tenants: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """Each tenant with ``agent_count`` (active people) and ``open_case_count``: one query."""
    return tenants.annotate(
        agent_count=_count(Membership.objects.filter(tenant=OuterRef("pk"), user__is_active=True)),
        open_case_count=_count(
            Case.objects.filter(tenant=OuterRef("pk"), status__in=OPEN_STATUSES)
        ),
    )
