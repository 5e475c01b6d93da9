"""The demo world of the README: tenants, people and a few dozen cases. Idempotent."""

from __future__ import annotations

import random
from datetime import timedelta

from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from helpdesk import notifications, services
from helpdesk.defaults import ensure_defaults
from helpdesk.models import (
    Attachment,
    CannedReply,
    Case,
    CaseEvent,
    CaseUpdate,
    Channel,
    Severity,
    Status,
)
from helpdesk.services import case_escalate
from intake.defaults import ensure_intake_defaults
from sla.backfill import clocks_redate
from sla.defaults import ensure_defaults as ensure_sla_defaults
from tenants.demo import seed_brands
from tenants.models import CustomerPriority, Membership, Role, Tenant, TenantKind, User
from twofactor.devices import second_factor_install
from widget.demo import seed_widget_demo

DEMO_PASSWORD = "demo-password"  # noqa: S105 - documented demo login
# Demo staff's second factor (README): one authenticator key for all of them, the base32
# OBUG63TJONWS2ZDFNVXS2MTGMEWWWZLZ (the bytes "phonism-demo-2fa-key"), and recovery codes that
# every run of seed_demo restores.
DEMO_TOTP_KEY_HEX = b"phonism-demo-2fa-key".hex()
DEMO_TOTP_KEY_BASE32 = "OBUG63TJONWS2ZDFNVXS2MTGMEWWWZLZ"
DEMO_RECOVERY_CODES = [f"demo-recovery-{n:02}" for n in range(1, 11)]

# slug: (name, kind, parent slug, extra fields)
TENANTS = {
    "phonism": ("Phonism", TenantKind.PROVIDER, None, {}),
    "acme": ("Acme Telecom", TenantKind.CUSTOMER, "phonism", {}),
    "globex": (
        "Globex",
        TenantKind.CUSTOMER,
        "phonism",
        {"emergency_entitlement": True, "priority": CustomerPriority.STRATEGIC},
    ),
    "voicehub": ("VoiceHub", TenantKind.RESELLER, "phonism", {}),
    "initech": ("Initech", TenantKind.SUBCUSTOMER, "voicehub", {}),
    "umbrella": ("Umbrella", TenantKind.SUBCUSTOMER, "voicehub", {}),
}

# email: (first name, last name, tenant slug, role, staff group or None, superuser)
PEOPLE = {
    "admin@phonism.test": ("Ada", "Admin", "phonism", Role.ADMIN, None, True),
    "alice@phonism.test": ("Alice", "Agent", "phonism", Role.AGENT, "Support agent", False),
    "sam@phonism.test": ("Sam", "Manager", "phonism", Role.ADMIN, "Support manager", False),
    "ann@acme.test": ("Ann", "Acme", "acme", Role.AGENT, None, False),
    "bob@acme.test": ("Bob", "Acme", "acme", Role.ADMIN, None, False),
    "gina@globex.test": ("Gina", "Globex", "globex", Role.AGENT, None, False),
    "rita@voicehub.test": ("Rita", "VoiceHub", "voicehub", Role.ADMIN, None, False),
    "rob@voicehub.test": ("Rob", "VoiceHub", "voicehub", Role.AGENT, None, False),
    "ivan@initech.test": ("Ivan", "Initech", "initech", Role.AGENT, None, False),
    "uma@umbrella.test": ("Uma", "Umbrella", "umbrella", Role.AGENT, None, False),
}

# team slug: (title, body); placeholders as in helpdesk.canned.
CANNED_REPLIES = {
    "phonism": [
        (
            "Acknowledge",
            "Hello {requester_name},\n\nThank you: we are looking into {reference} now and "
            "will update you within the hour.\n\n{agent_name}",
        ),
        (
            "Ask for a capture",
            "Could you send a packet capture (.pcap) of a failing call on {reference}? "
            "Attach it here.",
        ),
    ],
    "voicehub": [
        (
            "Fixed, please confirm",
            "Hello {requester_name},\n\nThis is fixed for {organisation}. Could you confirm "
            "on your side? We will close {reference} in three days otherwise.\n\n{agent_name}",
        ),
        (
            "Passed to our provider",
            "We have passed {reference} to our network team and will come back to you "
            "as soon as we hear from them.",
        ),
    ],
}

SUBJECTS = [
    "Handsets at the Boston office cannot register",
    "Provisioning profile not applied to new Yealink phones",
    "How do I bulk-import extensions?",
    "Call park shows wrong extension",
    "Firmware rollout stuck at 40%",
    "Feature request: export device inventory",
    "Voicemail to email delayed by hours",
    "Polycom phones reboot every night",
    "Portal login slow for all admins",
    "Question about best practice for DHCP option 66",
]


class Command(BaseCommand):
    help = "Create the demo tenants, people and cases (safe to run again)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            ensure_defaults(django_apps)
            ensure_sla_defaults(django_apps)
            ensure_intake_defaults(django_apps)
            tenants = self._tenants()
            seed_brands(tenants)
            people = self._people(tenants)
            for user in people.values():
                if user.is_staff:
                    second_factor_install(
                        user=user, key_hex=DEMO_TOTP_KEY_HEX, recovery_codes=DEMO_RECOVERY_CODES
                    )
            seed_widget_demo()
            self._canned_replies(tenants)
            with notifications.muted():  # back-dated history: nobody is emailed about it
                created = self._cases(tenants, people)
            watched = self._breach_demo(tenants, people) if created else None
        self.stdout.write(self.style.SUCCESS("Demo world ready."))
        if watched is not None:
            self.stdout.write(f"Created {created + 1} demo cases.")
            self.stdout.write(
                f"{watched.reference} is a fresh unanswered Emergency: with the worker and beat "
                "running it turns at risk in 7.5 minutes and breached in 10 "
                "(admin: SLA › At risk or breached now)."
            )
        self.stdout.write(
            f"Sign in at /accounts/login/ (people) or /admin/ (staff), password {DEMO_PASSWORD!r}:"
        )
        for email, (_, _, slug, role, group, superuser) in PEOPLE.items():
            what = "superuser" if superuser else (group or f"{role.label.lower()}")
            self.stdout.write(f"  {email:<22} {TENANTS[slug][0]:<13} {what}")
        self.stdout.write(
            "Staff then give a second factor: add the key "
            f"{DEMO_TOTP_KEY_BASE32} to an authenticator app, or use a recovery code "
            f"({DEMO_RECOVERY_CODES[0]} ... {DEMO_RECOVERY_CODES[-1]}, each works once; "
            "seed_demo restores them)."
        )

    def _canned_replies(self, tenants: dict[str, Tenant]) -> None:
        for slug, replies in CANNED_REPLIES.items():
            for title, body in replies:
                CannedReply.objects.get_or_create(
                    team=tenants[slug], title=title, defaults={"body": body}
                )

    def _tenants(self) -> dict[str, Tenant]:
        tenants: dict[str, Tenant] = {}
        for slug, (name, kind, parent, extra) in TENANTS.items():
            if kind == TenantKind.PROVIDER:
                # The data migration made the provider; adopt it whatever its slug.
                tenant = Tenant.objects.filter(kind=TenantKind.PROVIDER).first()
                if tenant is None:
                    tenant = Tenant.objects.create(name=name, slug=slug, kind=kind)
            else:
                tenant, _ = Tenant.objects.get_or_create(
                    slug=slug,
                    defaults={
                        "name": name,
                        "kind": kind,
                        "parent": tenants[parent] if parent else None,
                        **extra,
                    },
                )
            tenants[slug] = tenant
        return tenants

    def _people(self, tenants: dict[str, Tenant]) -> dict[str, User]:
        people: dict[str, User] = {}
        for email, (first, last, slug, role, group, superuser) in PEOPLE.items():
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email,
                    DEMO_PASSWORD,
                    first_name=first,
                    last_name=last,
                    is_staff=slug == "phonism",
                    is_superuser=superuser,
                )
            if group:
                user.groups.add(Group.objects.get(name=group))
            Membership.objects.get_or_create(
                user=user, defaults={"tenant": tenants[slug], "role": role}
            )
            people[email.split("@")[0]] = user
        return people

    def _cases(self, tenants: dict[str, Tenant], people: dict[str, User]) -> int:
        demo = [t for slug, t in tenants.items() if slug != "phonism"]
        if Case.objects.filter(tenant__in=demo).exists():
            return 0
        rng = random.Random(42)
        requesters = {
            "acme": ["ann", "bob"],
            "globex": ["gina"],
            "voicehub": ["rita", "rob"],
            "initech": ["ivan"],
            "umbrella": ["uma"],
        }
        support = {"initech": "rob", "umbrella": "rita"}  # the reseller answers its sub-customers
        count = 0
        for i in range(36):
            slug = list(requesters)[i % len(requesters)]
            tenant = tenants[slug]
            requester = people[rng.choice(requesters[slug])]
            severities = [
                s
                for s in Severity.values
                if s != Severity.EMERGENCY or tenant.emergency_entitlement
            ]
            case = services.case_open(
                tenant=tenant,
                subject=SUBJECTS[i % len(SUBJECTS)],
                description="Seen since this morning. Steps to reproduce and logs follow.",
                channel=Channel.PORTAL if i % 5 else Channel.EMAIL,
                severity=rng.choice(severities),
                requester=requester,
                opened_by=requester,
            )
            answerer = people[support.get(slug, rng.choice(["alice", "sam"]))]
            stage = i % 6
            if stage >= 1:
                services.update_add(
                    case=case,
                    author=answerer,
                    body="Thanks, we are on it. Next update within the hour.",
                )
            if stage >= 2:
                services.case_change_status(case=case, actor=answerer, status=Status.IN_PROGRESS)
                services.update_add(
                    case=case,
                    author=answerer,
                    body="Checked the logs: the SBC drops registrations.",
                    internal=True,
                )
            if stage == 3:
                services.case_change_status(case=case, actor=answerer, status=Status.WAITING)
            if stage >= 4:
                services.update_add(case=case, author=requester, body="That fixed it, thank you.")
                services.case_change_status(case=case, actor=answerer, status=Status.RESOLVED)
            if stage == 5:
                services.case_change_status(case=case, actor=answerer, status=Status.CLOSED)
            # Spread the cases over the last weeks so the lists look lived in.
            self._shift(
                case, timedelta(hours=rng.randint(1, 24 * 30)) if stage else timedelta(minutes=i)
            )
            count += 1
        self._escalated_case(tenants["initech"], people)
        return count + 1

    @staticmethod
    def _escalated_case(initech: Tenant, people: dict[str, User]) -> Case:
        """Initech's case that VoiceHub escalated to Phonism, with its escalation thread."""
        ivan, rob, alice = people["ivan"], people["rob"], people["alice"]
        case = services.case_open(
            tenant=initech,
            subject="Call recordings stop after 60 seconds",
            description="Since last night's upgrade every recording on all sites ends at 60 s.",
            channel=Channel.PORTAL,
            severity=Severity.MAJOR,
            requester=ivan,
            opened_by=ivan,
        )
        services.update_add(
            case=case, author=rob, body="Hi Ivan, we are on it with our platform team."
        )
        case_escalate(
            case=case,
            actor=rob,
            note="Recordings cut at 60 s for all Initech sites since 2.14. Not config: "
            "reproduced on our lab tenant too.",
        )
        services.update_add(
            case=case,
            author=alice,
            body="Confirmed: a regression in 2.14's recording service. Hotfix tonight 22:00 ET.",
            escalation=True,
        )
        return case

    @staticmethod
    def _shift(case: Case, back: timedelta) -> None:
        for model in (CaseUpdate, CaseEvent):
            for row in model.objects.filter(case=case):
                row.created_at -= back
                row.save(update_fields=["created_at"])
        for field in (
            "created_at",
            "updated_at",
            "dispatched_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
        ):
            value = getattr(case, field)
            if value is not None:
                setattr(case, field, value - back)
        case.save()
        # Due times are business time from dispatch, not a fixed offset: compute them anew.
        clocks_redate(case=case)
        Attachment.objects.filter(case=case).update(created_at=timezone.now() - back)

    @staticmethod
    def _breach_demo(tenants: dict[str, Tenant], people: dict[str, User]) -> Case:
        """Opened now and left unanswered, with notifications on: the breach sweep marks it at
        risk, then breached, and the console backend prints the emails, untouched by anyone."""
        gina = people["gina"]
        return services.case_open(
            tenant=tenants["globex"],
            subject="Whole Boston site down: no phone registers",
            description="Seen since a few minutes ago: every handset at the Boston site shows "
            "'No service'; about 400 people cannot call.",
            channel=Channel.PORTAL,
            severity=Severity.EMERGENCY,
            requester=gina,
            opened_by=gina,
        )
