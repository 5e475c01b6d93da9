"""The tenant tree (SPEC §2), the people who sign in and their memberships (SPEC §3)."""

from __future__ import annotations

import zoneinfo
from functools import cached_property

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser, Group, Permission
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import Signal

from tenants.memo import StampedMemo


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (e.g. America/New_York).")


# A queryset's update() and bulk_create() send no save signal: querysets of tenants, people and
# memberships send this one instead, with the primary keys of the rows they wrote, so that a
# cache of who someone is (the API keys', ``api.keycache``) forgets them as after a save.
# (Deletes need nothing: with a receiver of ``post_delete`` Django deletes row by row.)
rows_written = Signal()


class NoticedQuerySet(models.QuerySet):
    """Sends ``rows_written`` after a bulk write, unless it changed only ``quiet_fields``
    (bookkeeping no cache holds, like a sign-in's time). Costs a query of the keys first, and
    only when someone listens."""

    quiet_fields: frozenset[str] = frozenset()

    def update(self, **kwargs) -> int:
        pks = None
        if not set(kwargs) <= self.quiet_fields and rows_written.has_listeners(self.model):
            pks = list(self.values_list("pk", flat=True))
        # Before and after: a row that moves (a membership given to another person) is
        # forgotten where it was and where it is.
        if pks:
            rows_written.send(sender=self.model, pks=pks)
        count = super().update(**kwargs)
        if pks:
            rows_written.send(sender=self.model, pks=pks)
        return count

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        pks = [obj.pk for obj in created if obj.pk is not None]
        if pks and rows_written.has_listeners(self.model):
            rows_written.send(sender=self.model, pks=pks)
        return created


class TenantKind(models.TextChoices):
    PROVIDER = "provider", "Provider"
    CUSTOMER = "customer", "Direct customer"
    RESELLER = "reseller", "Reseller"
    SUBCUSTOMER = "subcustomer", "Sub-customer"


# Which kind of parent each kind must have: this is the whole tree rule. A provider is the root,
# customers and resellers hang off the provider, sub-customers off a reseller. Since every kind
# has exactly one allowed parent kind, there is no fourth level and no cycle can close.
PARENT_KIND: dict[str, str | None] = {
    TenantKind.PROVIDER: None,
    TenantKind.CUSTOMER: TenantKind.PROVIDER,
    TenantKind.RESELLER: TenantKind.PROVIDER,
    TenantKind.SUBCUSTOMER: TenantKind.RESELLER,
}


class CustomerPriority(models.TextChoices):
    STANDARD = "standard", "Standard"
    HIGH = "high", "High"
    STRATEGIC = "strategic", "Strategic"


# Each signed-in person as every request loads them (with their membership, its tenant and the
# tenant's parent), and their permissions, remembered per process by ``tenants.backends``:
# forgotten in every process whenever a person, a membership, a tenant, a group, a permission
# or who has them is written: saves and deletes by their signals, bulk writes by
# ``rows_written`` (``NoticedQuerySet``); receivers at the end of this module.
PEOPLE = StampedMemo("people")


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=TenantKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="Inactive tenants keep everything, but their people cannot sign in or open "
        "cases.",
    )
    priority = models.CharField(
        "customer priority",
        max_length=20,
        choices=CustomerPriority.choices,
        default=CustomerPriority.STANDARD,
    )
    emergency_entitlement = models.BooleanField(
        "emergency on-call entitlement",
        default=False,
        help_text="Contract flag: may open Emergency (severity 1) cases.",
    )
    oncall_email = models.EmailField(
        "on-call email",
        blank=True,
        help_text="Paged when an Emergency case of this tenant opens or breaches (for a "
        "reseller: also its sub-customers'); empty means the provider's ONCALL_EMAIL.",
    )
    timezone = models.CharField(
        max_length=64, default=settings.TIME_ZONE, validators=[validate_timezone]
    )
    # Which plan times the responses this tenant receives (SPEC §5); see sla.services.plan_for.
    sla_plan = models.ForeignKey(
        "sla.Plan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tenants",
        verbose_name="SLA plan",
        help_text="The response targets this tenant receives; empty means the default plan. "
        "For a reseller: Phonism's targets towards the reseller (its own cases and its "
        "escalations).",
    )
    tier_one_plan = models.ForeignKey(
        "sla.Plan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tier_one_tenants",
        verbose_name="tier-one SLA plan",
        help_text="Resellers only: the targets the reseller's tier one gives its sub-customers "
        "(a sub-customer's own plan comes first); empty means the default plan.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NoticedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="tenant_only_provider_is_root",
                condition=(Q(kind=TenantKind.PROVIDER) & Q(parent__isnull=True))
                | (~Q(kind=TenantKind.PROVIDER) & Q(parent__isnull=False)),
                violation_error_message="Only the provider has no parent.",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(kind=TenantKind.PROVIDER),
                name="tenant_one_provider",
                violation_error_message="There is already a provider.",
            ),
            models.CheckConstraint(
                name="tenant_not_own_parent", condition=~Q(parent=models.F("pk"))
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        expected = PARENT_KIND.get(self.kind)
        if self.parent_id is not None and self.parent_id == self.pk:
            raise ValidationError({"parent": "A tenant cannot be its own parent."})
        if expected is None:
            if self.parent_id is not None:
                raise ValidationError({"parent": "The provider is the root: it has no parent."})
        elif self.parent is None or self.parent.kind != expected:
            raise ValidationError(
                {
                    "parent": f"A {self.get_kind_display().lower()} must sit directly under "
                    f"a {TenantKind(expected).label.lower()}."
                }
            )
        if self.tier_one_plan_id is not None and self.kind != TenantKind.RESELLER:
            raise ValidationError(
                {"tier_one_plan": "Only a reseller gives tier-one support to sub-customers."}
            )
        if self.pk:
            # A kind change must not strand the children it already has.
            allowed = {k for k, parent_kind in PARENT_KIND.items() if parent_kind == self.kind}
            stranded = self.children.exclude(kind__in=allowed)
            if stranded.exists():
                raise ValidationError(
                    {"kind": f"{stranded.first()} cannot stay under a {self.get_kind_display()}."}
                )

    @property
    def is_provider(self) -> bool:
        return self.kind == TenantKind.PROVIDER

    @property
    def is_reseller(self) -> bool:
        return self.kind == TenantKind.RESELLER

    @cached_property
    def tier_one(self) -> Tenant:
        """The party that gives this tenant first-line support: its nearest reseller ancestor,
        else the provider (SPEC §2)."""
        node: Tenant | None = self.parent
        while node is not None:
            if node.kind == TenantKind.RESELLER:
                return node
            if node.parent_id is None:
                return node
            node = node.parent
        return self  # the provider is its own tier one

    def is_usable(self) -> bool:
        """Active, and so is every ancestor: a deactivated reseller blocks its sub-customers."""
        node: Tenant | None = self
        while node is not None:
            if not node.is_active:
                return False
            node = node.parent
        return True


class UserQuerySet(NoticedQuerySet):
    quiet_fields = frozenset({"last_login"})


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)

    def get_by_natural_key(self, username: str | None) -> User:
        # Email addresses are matched case-insensitively at sign-in.
        return self.get(email__iexact=username)


class User(AbstractUser):
    """A person who signs in with an email address."""

    username = None  # type: ignore[assignment]  # signs in by email: no user name at all
    email = models.EmailField("email address", unique=True)
    # Whether the person has a confirmed authenticator app: read by every request (the
    # second-factor middleware) instead of a query. Kept in step with the devices by signals
    # (twofactor.devices.connect_signals), whichever way a device is written: the services, the
    # admin, a cascade.
    second_factor_on = models.BooleanField(
        "two-factor sign-in on",
        default=False,
        editable=False,
        help_text="Set and cleared with the person's authenticator app.",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()  # type: ignore[misc]  # email in place of a user name

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def save(self, *args, **kwargs) -> None:
        self.email = self.email.lower()
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    ADMIN = "admin", "Admin"


class Membership(models.Model):
    """Links a person to the one tenant they act for."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="membership")
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NoticedQuerySet.as_manager()

    class Meta:
        ordering = ["tenant__name", "user__email"]
        indexes = [models.Index(fields=["tenant", "role"])]

    def __str__(self) -> str:
        return f"{self.user.email} — {self.get_role_display()} of {self.tenant}"

    def clean(self) -> None:
        super().clean()
        if (
            self.user_id
            and self.tenant_id
            and self.user.is_staff
            and self.tenant.kind != TenantKind.PROVIDER
        ):
            raise ValidationError(
                {
                    "tenant": "Staff accounts belong to the provider; "
                    "they cannot be a customer's member."
                }
            )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


def _people_written(sender, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a sign-in's time: nothing a request reads from its person
    PEOPLE.forget()


def _permissions_written(sender, action: str, **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        PEOPLE.forget()  # who has which permission, remembered with the people


for _model in (User, Membership, Tenant, Group, Permission):
    _name = _model.__name__
    post_save.connect(_people_written, sender=_model, dispatch_uid=f"people_saved_{_name}")
    post_delete.connect(_people_written, sender=_model, dispatch_uid=f"people_deleted_{_name}")
    rows_written.connect(_people_written, sender=_model, dispatch_uid=f"people_bulk_{_name}")
# A person's groups and own permissions, and a group's permissions (``user.groups.add``,
# ``group.permissions.set``, the admin's pickers): the permissions remembered with the people.
for _through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(
        _permissions_written, sender=_through, dispatch_uid=f"people_m2m_{_through.__name__}"
    )


# The white-label models have their own module to keep this one short; importing them here is
# what registers them with the app (and keeps ``tenants.models.Brand`` importable).
from tenants.brand_models import Brand, BrandDomain  # noqa: E402, F401
