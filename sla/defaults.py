"""The contract's SLA defaults (SPEC §5): the calendars "Standard hours", "Extended hours" and
"Round the clock", the default plan "Contract default", and SLA permissions for the staff groups.

Rows, not settings: staff edit them in the admin. Run by the data migration (historical models)
and again by ``seed_demo`` (live registry), so a database flushed by transactional tests gets
them back. Idempotent: what exists is left as staff edited it.
"""

from __future__ import annotations

from datetime import time

from sla.models import check_opening_hours, check_plan_targets
from tenants.groups import grant_group_permissions

NEW_YORK = "America/New_York"
MIDNIGHT = time(0)  # as an end: midnight at the end of the day
WEEKDAYS, WEEKEND = range(5), range(5, 7)

CALENDARS = {
    "Standard hours": [(wd, time(9), time(17)) for wd in WEEKDAYS],
    "Extended hours": [
        *((wd, MIDNIGHT, time(9)) for wd in WEEKDAYS),
        *((wd, time(17), MIDNIGHT) for wd in WEEKDAYS),
        *((wd, MIDNIGHT, MIDNIGHT) for wd in WEEKEND),
    ],
    "Round the clock": [(wd, MIDNIGHT, MIDNIGHT) for wd in range(7)],
}

# severity: (calendar, amount, unit), the contract's table.
DEFAULT_TARGETS = {
    1: ("Round the clock", 10, "minutes"),  # Emergency, on call
    2: ("Standard hours", 30, "minutes"),  # Critical
    3: ("Standard hours", 60, "minutes"),  # Major
    4: ("Standard hours", 240, "minutes"),  # Moderate
    5: ("Standard hours", 1, "days"),  # Minor
}

VIEW = ["view_calendar", "view_openinghours", "view_closeddate", "view_plan", "view_target"]
# Support managers keep the plans and calendars; plans are not deleted (tenants and history
# point at them), targets and closed dates are.
MANAGE = [
    f"{verb}_{model}"
    for model, verbs in {
        "calendar": ("add", "change", "delete"),
        "openinghours": ("add", "change", "delete"),
        "closeddate": ("add", "change", "delete"),
        "plan": ("add", "change"),
        "target": ("add", "change", "delete"),
    }.items()
    for verb in verbs
]
# Both see the SLA events and the at-risk-or-breached list (the managers' watch list).
WATCH = ["view_responseclock", "view_slaevent", "view_slawatch"]
GROUPS = {
    "Support agent": [*VIEW, *WATCH],
    "Support manager": [*VIEW, *WATCH, *MANAGE],
}


def ensure_defaults(apps) -> None:
    # The same checks as the admin's (historical models have no methods to carry them).
    for hours in CALENDARS.values():
        check_opening_hours(hours)
    check_plan_targets(DEFAULT_TARGETS)
    Calendar = apps.get_model("sla", "Calendar")
    OpeningHours = apps.get_model("sla", "OpeningHours")
    Plan = apps.get_model("sla", "Plan")
    Target = apps.get_model("sla", "Target")

    calendars = {}
    for name, hours in CALENDARS.items():
        calendar, created = Calendar.objects.get_or_create(
            name=name, defaults={"timezone": NEW_YORK}
        )
        if created:
            OpeningHours.objects.bulk_create(
                OpeningHours(calendar=calendar, weekday=wd, start=start, end=end)
                for wd, start, end in hours
            )
        calendars[name] = calendar

    if not Plan.objects.filter(is_default=True).exists():
        plan, _ = Plan.objects.get_or_create(name="Contract default")
        plan.is_default = True
        plan.save()
        for severity, (calendar, amount, unit) in DEFAULT_TARGETS.items():
            Target.objects.get_or_create(
                plan=plan,
                severity=severity,
                defaults={"calendar": calendars[calendar], "amount": amount, "unit": unit},
            )

    grant_group_permissions(apps, "sla", GROUPS)
