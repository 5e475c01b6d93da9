"""SLA state in templates: ``{% load sla_tags %}``, then

* ``{% sla_badge case %}``: the state as a coloured badge with the time left (or how long the
  response took); ``{% sla_badge case tier=1 %}`` for one clock whatever the case's tier;
* ``{% sla_status case as sla %}``: the ``sla.selectors.SlaStatus`` (or None) to lay out yourself:
  ``sla.state``, ``sla.label``, ``sla.time_left``, ``sla.minutes_left``, ``sla.due_at``,
  ``sla.clock`` (dispatched_at, responded_at, describe).

In lists, fetch the cases through ``sla.selectors.with_sla`` so the badges cost no query per row.
"""

from __future__ import annotations

from django import template
from django.utils import timezone

from helpdesk.models import Case
from sla.selectors import SlaStatus, sla_status

register = template.Library()


@register.simple_tag(name="sla_status")
def sla_status_tag(case: Case, tier: int | None = None) -> SlaStatus | None:
    return sla_status(case, timezone.now(), tier)


@register.inclusion_tag("sla/_badge.html")
def sla_badge(case: Case, tier: int | None = None) -> dict[str, SlaStatus | None]:
    return {"sla": sla_status(case, timezone.now(), tier)}
