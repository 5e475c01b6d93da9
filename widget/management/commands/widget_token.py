"""`python manage.py widget_token EMAIL` prints a signed widget token for an agent, as their
host portal would make it: for testing the widget and for trying a host portal's set-up."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.models import TenantKind, User
from widget.models import WidgetKey
from widget.tokens import MAX_LIFETIME_SECONDS, sign


class Command(BaseCommand):
    help = "Print a signed widget token (JWT) for the agent with this email address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument(
            "--lifetime", type=int, default=300, help="Seconds until it expires (at most 600)."
        )
        parser.add_argument("--kid", help="Sign with this key (default: the newest valid one).")

    def handle(self, *args, email: str, lifetime: int, kid: str | None, **options) -> None:
        if not 1 <= lifetime <= MAX_LIFETIME_SECONDS:
            raise CommandError(f"--lifetime must be 1 to {MAX_LIFETIME_SECONDS} seconds.")
        user = User.objects.filter(email__iexact=email.strip()).first()
        membership = getattr(user, "membership", None) if user else None
        if membership is None:
            raise CommandError(f"{email} is not an agent of any organisation.")
        tenant = membership.tenant
        signers = [tenant.pk]
        if tenant.kind == TenantKind.SUBCUSTOMER:
            signers.append(tenant.parent_id)
        keys = WidgetKey.objects.valid().filter(tenant__in=signers).order_by("-created_at")
        if kid:
            keys = keys.filter(kid=kid)
        key = keys.first()
        if key is None:
            raise CommandError(
                f"No valid widget key signs for {tenant}: an admin creates one on the Widget page."
            )
        self.stdout.write(sign(key, email=user.email, name=user.get_full_name(), lifetime=lifetime))
