"""``manage.py sla_due --severity SEVERITY [--tenant SLUG] DISPATCHED...`` (SPEC §5).

Prints one line per DISPATCHED, in order: the response due time as ISO 8601 with the UTC offset
of the target calendar's time zone (``2026-03-09T09:20:00-04:00``), the wall time the contract
speaks in. Seconds are always shown, microseconds only when the input had them.

Bad input exits non-zero with one line on stderr and no traceback; every argument is checked
before anything is computed, so nothing is printed for a call that fails.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.management.base import CommandError, CommandParser

from helpdesk.models import Severity, Tier
from sla import services
from sla.management.oneline import OneLineErrorCommand
from tenants.models import Tenant


def parse_severity(value: str) -> Severity:
    """A level 1-5 or a name, case-insensitive: ``2``, ``critical``, ``Critical``."""
    text = value.strip()
    if text.isdigit() and int(text) in Severity.values:
        return Severity(int(text))
    for severity in Severity:
        if severity.label.lower() == text.lower():
            return severity
    names = ", ".join(f"{s.value} {s.label}" for s in Severity)
    raise CommandError(f"unknown severity {value!r}: use a level or a name ({names})")


def parse_dispatched(value: str) -> datetime:
    """ISO 8601 with a UTC offset (``Z`` allowed); a wall time without one is not an instant."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(
            f"not an ISO 8601 date and time: {value!r} (e.g. 2026-03-09T16:30:00-04:00)"
        ) from None
    if parsed.utcoffset() is None:
        raise CommandError(
            f"{value!r} has no UTC offset: add one, e.g. {parsed.isoformat()}-05:00 or Z"
        )
    return parsed


class Command(OneLineErrorCommand):
    help = "Print the response due time for each dispatch instant (ISO 8601, one per line)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--severity", required=True, help="level 1-5 or name (Emergency ... Minor)"
        )
        parser.add_argument(
            "--tenant", metavar="SLUG", help="use this tenant's plan (default: the default plan)"
        )
        parser.add_argument(
            "dispatched", nargs="+", metavar="DISPATCHED", help="ISO 8601 with UTC offset"
        )

    def handle(self, *args, severity: str, tenant: str | None, dispatched: list[str], **options):
        level = parse_severity(severity)
        instants = [parse_dispatched(value) for value in dispatched]
        if tenant is None:
            plan = services.default_plan()
        else:
            found = Tenant.objects.filter(slug=tenant).first()
            if found is None:
                raise CommandError(f"no tenant with the slug {tenant!r}")
            plan = services.plan_for(found, Tier.ONE)
        try:
            target = services.target_for(plan, level)
        except services.NoTarget as error:
            raise CommandError(str(error)) from None
        calendar, zone = target.calendar.as_clock(), ZoneInfo(target.calendar.timezone)
        lines = []
        for instant in instants:
            try:
                due = services.budget_due(calendar, target.amount, target.unit, instant)
            except (ValueError, OverflowError) as error:  # a calendar never open, year 9999
                raise CommandError(f"{instant.isoformat()}: {error}") from None
            lines.append(due.astimezone(zone).isoformat())
        self.stdout.write("\n".join(lines))
