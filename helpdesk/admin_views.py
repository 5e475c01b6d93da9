"""What a Zendesk or Zammad agent looks for first in the admin's case list (issue 16): saved
views, an assignee filter, the cases awaiting a response first and due soonest, and a search
that finds a case by its number alone and by words in its description and updates."""

from __future__ import annotations

import re

from django.contrib import admin
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from helpdesk.models import OPEN_STATUSES, Case, CaseUpdate, Tier, awaiting_rank
from sla.selectors import filter_by_sla_state
from tenants.models import User

AWAITING_STATES = ("on_track", "at_risk", "breached")


def admin_default_ordering() -> list:
    """The order the list opens in: open cases with no response yet first, then other open
    cases, then the rest; within each, soonest due first (no due time last), newest last.
    The index ``case_admin_order`` serves it. A column header click still sorts by that
    column."""
    return [awaiting_rank().asc(), F("response_due_at").asc(), F("id").desc()]


def awaiting_response(queryset: QuerySet[Case]) -> QuerySet[Case]:
    """Cases whose current response clock is still running: someone owes them an answer."""
    now = timezone.now()
    combined = filter_by_sla_state(queryset, AWAITING_STATES[0], now)
    for state in AWAITING_STATES[1:]:
        combined = combined | filter_by_sla_state(queryset, state, now)
    return combined


class SavedViewFilter(admin.SimpleListFilter):
    """The views an agent opens the day with, as one list filter (links in the sidebar)."""

    title = "view"
    parameter_name = "view"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        return [
            ("mine", "My cases"),
            ("unassigned", "Unassigned"),
            ("awaiting", "Awaiting response"),
            ("risk", "At risk or breached"),
            ("escalated", "Escalated to us"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        value = self.value()
        open_cases = queryset.filter(status__in=OPEN_STATUSES)
        if value == "mine":
            return open_cases.filter(assignee_id=request.user.pk)
        if value == "unassigned":
            return open_cases.filter(assignee=None)
        if value == "awaiting":
            return awaiting_response(open_cases)
        if value == "risk":
            now = timezone.now()
            return filter_by_sla_state(open_cases, "at_risk", now) | filter_by_sla_state(
                open_cases, "breached", now
            )
        if value == "escalated":
            return open_cases.filter(tier=Tier.TWO)
        return queryset


class AssigneeFilter(admin.SimpleListFilter):
    """Cases by who has them: provider staff, plus "nobody"."""

    title = "assignee"
    parameter_name = "assignee"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        people = User.objects.filter(is_staff=True, is_active=True).order_by("email")
        return [("none", "Nobody"), *((str(u.pk), u.get_full_name() or u.email) for u in people)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Case]) -> QuerySet[Case]:
        value = self.value()
        if value == "none":
            return queryset.filter(assignee=None)
        if value and value.isascii() and value.isdigit():
            return queryset.filter(assignee_id=int(value))
        return queryset


NUMBER = re.compile(r"^(?:[A-Za-z]{1,5}-)?(\d{1,12})$")


def case_search(queryset: QuerySet[Case], term: str) -> QuerySet[Case]:
    """A case by its number ("10039" or "CS-10039"), or by words in its subject,
    description, requester address or updates. PostgreSQL matches whole words with its
    full-text search (stemmed: "register" finds "registering"); SQLite a plain substring."""
    term = term.strip()
    if not term:
        return queryset
    if number := NUMBER.match(term):
        return queryset.filter(reference__iendswith=f"-{number.group(1)}")
    if connection.vendor == "postgresql":
        query = SearchQuery(term, search_type="websearch", config="english")
        case_text = SearchVector("subject", "description", config="english")
        update_text = SearchVector("body", config="english")
        matching = CaseUpdate.objects.annotate(text=update_text).filter(
            case=OuterRef("pk"), text=query
        )
        return queryset.annotate(text=case_text).filter(
            Q(text=query) | Q(requester_email__iexact=term) | Q(Exists(matching))
        )
    updates = CaseUpdate.objects.filter(case=OuterRef("pk"), body__icontains=term)
    return queryset.filter(
        Q(subject__icontains=term)
        | Q(description__icontains=term)
        | Q(requester_email__icontains=term)
        | Q(Exists(updates))
    )
