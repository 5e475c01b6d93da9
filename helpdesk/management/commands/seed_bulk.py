"""Fill the database quickly with realistic cases for benchmarks (bulk inserts, no events; each
case gets its tier-one response clock)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from helpdesk.models import Case, Channel, Severity, Status
from helpdesk.services import reserve_references
from sla.backfill import clocks_backfill
from tenants.models import Membership, Tenant, TenantKind

SEVERITY_WEIGHTS = {
    Severity.EMERGENCY: 1,
    Severity.CRITICAL: 4,
    Severity.MAJOR: 15,
    Severity.MODERATE: 30,
    Severity.MINOR: 50,
}
CHANNEL_WEIGHTS = {Channel.PORTAL: 70, Channel.EMAIL: 20, Channel.PHONE: 7, Channel.WIDGET: 3}
BATCH = 5000
TOPICS = ["registration", "provisioning", "firmware", "billing", "voicemail"]


class Command(BaseCommand):
    help = "Bulk-insert N cases spread over tenants, severities, statuses and the last two years."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--cases", type=int, required=True, help="how many cases to add")
        parser.add_argument(
            "--tenants", type=int, default=50, help="bulk customers to spread over (created)"
        )
        parser.add_argument(
            "--focus", default="acme", help="slug of an organisation that gets a large share"
        )
        parser.add_argument(
            "--focus-share", type=float, default=0.1, help="share of the cases for --focus"
        )
        parser.add_argument("--seed", type=int, default=1)

    def handle(
        self, *args, cases: int, tenants: int, focus: str, focus_share: float, seed: int, **options
    ) -> None:
        if cases < 1 or tenants < 1 or not 0 <= focus_share <= 1:
            raise CommandError("--cases and --tenants must be positive, --focus-share within 0..1.")
        focus_tenant = Tenant.objects.filter(slug=focus).first()
        if focus_tenant is None:
            raise CommandError(f"No tenant “{focus}”: run seed_demo first or pass --focus.")
        pool = self._bulk_tenants(tenants)
        focus_agents = list(
            Membership.objects.filter(tenant=focus_tenant).values_list("user_id", "user__email")
        )
        rng = random.Random(seed)
        now = timezone.now()
        severities, sev_weights = zip(*SEVERITY_WEIGHTS.items(), strict=True)
        channels, ch_weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
        done = 0
        while done < cases:
            size = min(BATCH, cases - done)
            with transaction.atomic():
                references = reserve_references(size)
                rows = []
                for reference in references:
                    if rng.random() < focus_share:
                        tenant = focus_tenant
                        requester_id, email = (
                            rng.choice(focus_agents) if focus_agents else (None, "agent@focus.test")
                        )
                    else:
                        tenant = rng.choice(pool)
                        requester_id, email = None, f"agent{rng.randint(1, 9)}@{tenant.slug}.test"
                    severity = rng.choices(severities, sev_weights)[0]
                    if severity == Severity.EMERGENCY and not tenant.emergency_entitlement:
                        severity = Severity.CRITICAL
                    created = now - timedelta(seconds=rng.randint(60, 2 * 365 * 86400))
                    rows.append(
                        self._case(
                            rng,
                            reference,
                            tenant,
                            requester_id,
                            email,
                            severity,
                            rng.choices(channels, ch_weights)[0],
                            created,
                            now,
                        )
                    )
                Case.objects.bulk_create(rows, batch_size=BATCH)
                # Response clocks too, so SLA lists, filters and the breach sweep have data.
                clocks_backfill(rows)
            done += size
            self.stdout.write(f"{done}/{cases} cases")
        self.stdout.write(self.style.SUCCESS(f"Added {cases} cases."))

    @staticmethod
    def _bulk_tenants(count: int) -> list[Tenant]:
        provider = Tenant.objects.get(kind=TenantKind.PROVIDER)
        existing = {t.slug: t for t in Tenant.objects.filter(slug__startswith="bulk-")}
        missing = [
            Tenant(
                name=f"Bulk customer {n:04d}",
                slug=f"bulk-{n:04d}",
                kind=TenantKind.CUSTOMER,
                parent=provider,
                emergency_entitlement=n % 5 == 0,
            )
            for n in range(1, count + 1)
            if f"bulk-{n:04d}" not in existing
        ]
        Tenant.objects.bulk_create(missing)
        return list(Tenant.objects.filter(slug__startswith="bulk-").order_by("slug")[:count])

    @staticmethod
    def _case(rng, reference, tenant, requester_id, email, severity, channel, created, now) -> Case:
        age_days = (now - created).days
        # Old cases are mostly closed; recent ones are spread over the open statuses.
        if age_days > 30:
            status = rng.choices([Status.CLOSED, Status.RESOLVED, Status.IN_PROGRESS], [85, 10, 5])[
                0
            ]
        else:
            status = rng.choice(list(Status))
        responded = status != Status.NEW
        first_response = created + timedelta(minutes=rng.randint(3, 600)) if responded else None
        resolved = (
            created + timedelta(days=rng.randint(1, 20))
            if status in (Status.RESOLVED, Status.CLOSED)
            else None
        )
        return Case(
            reference=reference,
            tenant=tenant,
            requester_id=requester_id,
            requester_email=email,
            subject=f"Bulk case about {rng.choice(TOPICS)}",
            description="Generated by seed_bulk.",
            severity=severity,
            channel=channel,
            status=status,
            created_at=created,
            updated_at=resolved or first_response or created,
            dispatched_at=created,
            first_response_at=first_response,
            resolved_at=resolved,
            closed_at=resolved + timedelta(days=3)
            if resolved and status == Status.CLOSED
            else None,
        )
