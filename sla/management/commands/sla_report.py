"""``manage.py sla_report [--from DATE] [--to DATE] [--by KEYS] [--tenant SLUG]`` (SPEC §9).

Prints SLA compliance as CSV on stdout, for cron jobs and spreadsheets: the keys named by
``--by`` (a comma-separated subset of tenant,reseller,tier,severity,month), then
dispatched,met,missed,breached,resolved_without_response,running,met_share,median_minutes,
p90_minutes. Without ``--by``: one total row. DATE is YYYY-MM-DD in the provider's zone, applied
to dispatch, ``--to`` inclusive. ``--tenant`` naming a reseller includes its sub-customers.
Rows are sorted by the keys; ``met_share`` has 4 decimals, minutes 1 (half up); empty when
there is no figure. Bad input exits non-zero with one line on stderr and prints nothing else.
"""

from __future__ import annotations

from datetime import date

from defusedcsv import csv
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone

from sla import reports
from sla.management.oneline import OneLineErrorCommand
from sla.models import ResponseClock
from tenants.models import Tenant


def parse_date(value: str, option: str) -> date:
    try:
        if len(value.strip()) != 10:
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise CommandError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None


def parse_keys(value: str) -> list[str]:
    keys = [key.strip() for key in value.split(",")]
    unknown = [key for key in keys if key not in reports.KEYS]
    if unknown or not keys:
        raise CommandError(
            f"--by {value!r}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
            f"choose from {','.join(reports.KEYS)}"
        )
    if len(set(keys)) != len(keys):
        raise CommandError(f"--by {value!r} names a key twice")
    return keys


class Command(OneLineErrorCommand):
    help = "Print SLA compliance as CSV (SPEC §9)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="start", metavar="DATE", help="YYYY-MM-DD, inclusive")
        parser.add_argument("--to", dest="end", metavar="DATE", help="YYYY-MM-DD, inclusive")
        parser.add_argument(
            "--by", metavar="KEYS", help=f"comma-separated subset of {','.join(reports.KEYS)}"
        )
        parser.add_argument(
            "--tenant", metavar="SLUG", help="one tenant (a reseller: with its customers)"
        )

    def handle(
        self,
        *args,
        start: str | None,
        end: str | None,
        by: str | None,
        tenant: str | None,
        **options,
    ):
        keys = parse_keys(by) if by is not None else []
        first = parse_date(start, "--from") if start is not None else None
        last = parse_date(end, "--to") if end is not None else None
        if first and last and first > last:
            raise CommandError(f"--from {first} is after --to {last}")
        found = None
        if tenant is not None:
            found = Tenant.objects.filter(slug=tenant).first()
            if found is None:
                raise CommandError(f"no tenant with the slug {tenant!r}")
        low, high = reports.day_bounds(first, last, reports.provider_zone())
        clocks = reports.clocks_in(
            ResponseClock.objects.all(), dispatched_from=low, dispatched_before=high, tenant=found
        )
        rows = reports.compliance(clocks, keys, now=timezone.now())
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow([*keys, *reports.COLUMNS])
        for row in rows:
            writer.writerow(row.csv_values(keys))
