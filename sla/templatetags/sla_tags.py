"""SLA state in templates: ``{% load sla_tags %}``, then

* ``{% sla_badge case %}``: the state as a coloured badge with the time left (or how long the
  response took); ``{% sla_badge case tier=1 %}`` for one clock whatever the case's tier;
* ``{% sla_badges case user %}``: the badges of the clocks ``user`` sees (``sla.selectors
  .clock_tiers``: tier one's for the requesting side, both for a reseller, the current one for
  provider staff). Lists use this one, so every list shows each viewer its own clock;
* ``{% sla_history case tier as clocks %}``: the tier's earlier clocks (one per escalation);
* ``{% sla_status case as sla %}``: the ``sla.selectors.SlaStatus`` (or None) to lay out yourself:
  ``sla.state``, ``sla.label``, ``sla.time_left``, ``sla.minutes_left``, ``sla.due_at``,
  ``sla.clock`` (dispatched_at, responded_at, describe).

In lists, fetch the cases through ``sla.selectors.with_sla`` so the badges cost no query per row.
"""

from __future__ import annotations

from django import template
from django.utils import timezone

from helpdesk.models import Case
from sla.models import ResponseClock
from sla.selectors import SlaStatus, clocks_history, sla_status, sla_statuses

register = template.Library()


@register.simple_tag(name="sla_status")
def sla_status_tag(case: Case, tier: int | None = None) -> SlaStatus | None:
    return sla_status(case, timezone.now(), tier)


@register.inclusion_tag("sla/_badge.html")
def sla_badge(case: Case, tier: int | None = None) -> dict[str, SlaStatus | None]:
    return {"sla": sla_status(case, timezone.now(), tier)}


@register.inclusion_tag("sla/_badges.html")
def sla_badges(case: Case, user) -> dict[str, list[SlaStatus]]:
    return {"statuses": sla_statuses(case, user, timezone.now())}


@register.simple_tag(name="sla_history")
def sla_history_tag(case: Case, tier: int | None = None) -> list[ResponseClock]:
    """The tier's clocks before its current one, oldest first (a re-escalated case's earlier
    provider clocks)."""
    wanted = case.tier if tier is None else tier
    mine = [c for c in clocks_history(case) if c.tier == wanted]
    return mine[:-1]
