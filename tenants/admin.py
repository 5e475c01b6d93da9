from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from helpdesk.admin_inputs import ValidInitialMixin
from tenants.models import Brand, BrandDomain, Membership, Tenant, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Tenant)
class TenantAdmin(ValidInitialMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "kind",
        "parent",
        "priority",
        "emergency_entitlement",
        "sla_plan",
        "is_active",
        "member_count",
        "case_count",
    ]
    list_filter = ["kind", "priority", "emergency_entitlement", "is_active", "sla_plan"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]
    inlines = [MembershipInline]
    list_select_related = ["parent", "sla_plan"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "parent", "is_active"]}),
        (
            "Contract",
            {
                "fields": [
                    "priority",
                    "emergency_entitlement",
                    "oncall_email",
                    "timezone",
                    "sla_plan",
                    "tier_one_plan",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        # Counts as subqueries-free aggregates in the changelist query itself, no query per row.
        return (
            super()
            .get_queryset(request)
            .annotate(
                _members=Count("memberships", distinct=True),
                _cases=Count("cases", distinct=True),
            )
        )

    @admin.display(description="members", ordering="_members")
    def member_count(self, tenant: Tenant) -> int:
        return tenant._members  # type: ignore[attr-defined]  # annotated by get_queryset

    @admin.display(description="cases", ordering="_cases")
    def case_count(self, tenant: Tenant) -> int:
        return tenant._cases  # type: ignore[attr-defined]  # annotated by get_queryset


@admin.register(Membership)
class MembershipAdmin(ValidInitialMixin, admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant__kind"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]
    list_select_related = ["user", "tenant"]


class UserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email",)


class UserEditForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "tenant", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    list_select_related = ["membership__tenant"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {"classes": ["wide"], "fields": ["email", "usable_password", "password1", "password2"]},
        )
    ]

    @admin.display(description="tenant", ordering="membership__tenant__name")
    def tenant(self, user: User) -> str:
        membership = getattr(user, "membership", None)
        return membership.tenant.name if membership else "—"


class BrandDomainInline(admin.TabularInline):
    model = BrandDomain
    extra = 1
    fields = ["host"]


@admin.register(Brand)
class BrandAdmin(ValidInitialMixin, admin.ModelAdmin):
    """The white label of the provider and of each reseller (SPEC §8)."""

    list_display = ["name", "tenant", "support_email", "primary_colour", "hosts"]
    list_select_related = ["tenant"]
    search_fields = ["name", "tenant__name", "domains__host"]
    autocomplete_fields = ["tenant"]
    inlines = [BrandDomainInline]
    fields = ["tenant", "name", "logo", "primary_colour", "text_colour", "support_email"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Brand]:
        return super().get_queryset(request).prefetch_related("domains")

    @admin.display(description="host names")
    def hosts(self, brand: Brand) -> str:
        return ", ".join(d.host for d in brand.domains.all()) or "—"
