"""``manage.py sla_backfill``: give a tier-one response clock to every case that has none (cases
from before the SLA engine, or inserted in bulk). Safe to run again: cases with a clock are
skipped."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from helpdesk.models import Case, Tier
from sla.backfill import clocks_backfill
from sla.models import ResponseClock


class Command(BaseCommand):
    help = "Create missing tier-one response clocks (due from each case's dispatch)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=2000, help="cases per transaction")

    def handle(self, *args, batch: int, **options) -> None:
        with_clock = ResponseClock.objects.filter(tier=Tier.ONE).values("case_id")
        missing = (
            Case.objects.exclude(pk__in=with_clock).select_related("tenant__parent").order_by("pk")
        )
        created, last = 0, 0
        while True:
            # Keyset batches: each query starts after the last case seen, so work never repeats.
            cases = list(missing.filter(pk__gt=last)[:batch])
            if not cases:
                break
            created += clocks_backfill(cases)
            last = cases[-1].pk
        self.stdout.write(f"Created {created} response clock(s).")
