"""Who may see and act on which case, update, event and attachment: the one access policy
(SPEC §3, ARCHITECTURE "One access policy"). The questions about people and tenants it builds
on are in ``tenants.access`` and re-exported here, so callers ask this one module.

Every view and form fetches cases, updates, events and attachments through the querysets here,
e.g. ``get_object_or_404(cases_visible_to(user), reference=ref)``. An object outside the viewer's
reach is then simply not found: a 404, never a 403, so existence is not disclosed.

The rules:
- provider staff (active ``is_staff`` users who are not a customer's member) see everything;
- a member of a tenant sees every case of that tenant, whoever opened it;
- a reseller's members also see every case of the reseller's sub-customers (they are tier one);
- on a case, the requesting side sees public updates only; the tier-one side of a
  sub-customer's case (the reseller) also sees the reseller's internal notes; provider notes
  are for provider staff.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from helpdesk.canned import remembered_replies
from helpdesk.models import (
    Attachment,
    CannedReply,
    Case,
    CaseEvent,
    CaseUpdate,
    Tier,
    Visibility,
)
from sla.models import ResponseClock
from tenants.access import (
    active_membership,
    can_manage_people_of,
    can_open_case_for,
    is_provider_staff,
    membership_of,
    reseller_administered_by,
    reseller_of,
    subcustomers_managed_by,
    tenants_visible_to,
)
from tenants.models import Tenant, TenantKind

# The people half, re-exported so that views and services ask one module.
__all__ = [
    "attachments_of",
    "attachments_visible_to",
    "can_act_on_case",
    "can_manage_people_of",
    "can_open_case_for",
    "can_see_reports",
    "canned_replies_managed_by",
    "canned_replies_offered_to",
    "canned_replies_visible_to",
    "cases_visible_to",
    "clocks_visible_to",
    "events_of",
    "events_visible_to",
    "is_provider_staff",
    "is_requesting_side",
    "is_support_side",
    "membership_of",
    "reseller_administered_by",
    "reseller_of",
    "sees_case",
    "subcustomers_managed_by",
    "tenants_visible_to",
    "updates_of",
    "updates_visible_to",
]


def _case_tenant_filter(user, prefix: str = "") -> Q | None:
    """A filter on cases (through ``prefix``) for the user; None means no restriction."""
    if is_provider_staff(user):
        return None
    membership = active_membership(user)
    if membership is None:
        return Q(pk__in=[])
    tenant = membership.tenant
    own = Q(**{f"{prefix}tenant": tenant})
    if tenant.kind == TenantKind.RESELLER:
        return own | Q(**{f"{prefix}tenant__parent": tenant})
    return own


def cases_visible_to(user) -> QuerySet[Case]:
    condition = _case_tenant_filter(user)
    return Case.objects.all() if condition is None else Case.objects.filter(condition)


def _visibilities_for(user, prefix: str) -> Q | None:
    """Which update visibilities the user sees, expressed on the related case via ``prefix``."""
    if is_provider_staff(user):
        return None
    membership = active_membership(user)
    if membership is None:
        return Q(pk__in=[])
    tenant = membership.tenant
    public = Q(visibility=Visibility.PUBLIC)
    if tenant.kind == TenantKind.RESELLER:
        # On its sub-customers' cases the reseller is the support side: it sees its own notes
        # and the escalation thread it holds with the provider.
        tier_one_side = Q(visibility__in=[Visibility.RESELLER_NOTE, Visibility.ESCALATION]) & Q(
            **{f"{prefix}tenant__parent": tenant}
        )
        return public | tier_one_side
    return public


def updates_visible_to(user) -> QuerySet[CaseUpdate]:
    return _filter(CaseUpdate.objects.all(), user, "case__")


def updates_of(user, case: Case) -> QuerySet[CaseUpdate]:
    """The updates of ``case`` the user sees: ``updates_visible_to(user).filter(case=case)``
    decided on the case in hand (its ``tenant`` with ``parent_id`` loaded) instead of by joining
    back to the case and its organisation in the query. The same rules (a test holds the two
    equal for every demo person and case); a case the user cannot see has none."""
    return _entries_of(CaseUpdate.objects.filter(case=case), user, case)


def events_of(user, case: Case) -> QuerySet[CaseEvent]:
    """The events of ``case`` the user sees, as ``updates_of`` decides them:
    ``events_visible_to(user).filter(case=case)`` without joining back to the case."""
    return _entries_of(CaseEvent.objects.filter(case=case), user, case)


def _entries_of(entries: QuerySet, user, case: Case) -> QuerySet:
    """A case's updates or events narrowed to what ``user`` sees (``_visibilities_for`` and
    ``_case_tenant_filter``'s rules, decided on the case in hand)."""
    if is_provider_staff(user):
        return entries
    membership = active_membership(user)
    if membership is None:
        return entries.none()
    tenant = membership.tenant
    tier_one_side = tenant.kind == TenantKind.RESELLER and case.tenant.parent_id == tenant.pk
    if tier_one_side:
        return entries.filter(
            visibility__in=[Visibility.PUBLIC, Visibility.RESELLER_NOTE, Visibility.ESCALATION]
        )
    if case.tenant_id != tenant.pk:
        return entries.none()
    return entries.filter(visibility=Visibility.PUBLIC)


def attachments_of(user, case: Case, updates: Iterable[CaseUpdate]) -> list[Attachment]:
    """The files of ``case`` the user sees, given the case's updates they see (``updates_of``):
    ``attachments_visible_to(user).filter(case=case)`` in one plain query, in the model's order
    (oldest first). A file is as visible as its update, and one sent with the opening request
    as its case."""
    if not sees_case(user, case):
        return []
    shown = [update.pk for update in updates if update.case_id == case.pk]
    files = Attachment.objects.filter(case=case).filter(
        Q(update__isnull=True) | Q(update_id__in=shown)
    )
    return list(files)


def sees_case(user, case: Case) -> bool:
    """Whether ``user`` sees ``case`` (``cases_visible_to``'s rule on the case in hand)."""
    if is_provider_staff(user):
        return True
    membership = active_membership(user)
    if membership is None:
        return False
    tenant = membership.tenant
    return case.tenant_id == tenant.pk or (
        tenant.kind == TenantKind.RESELLER and case.tenant.parent_id == tenant.pk
    )


def events_visible_to(user) -> QuerySet[CaseEvent]:
    return _filter(CaseEvent.objects.all(), user, "case__")


def attachments_visible_to(user) -> QuerySet[Attachment]:
    qs = Attachment.objects.all()
    if is_provider_staff(user):
        return qs
    # An attachment is visible when its update is (the update carries the visibility); one sent
    # with the opening request has no update and is as visible as its case.
    updates = updates_visible_to(user).values("pk")
    cases = cases_visible_to(user).values("pk")
    return qs.filter(Q(update__in=updates) | Q(update__isnull=True, case__in=cases))


def _filter(qs: QuerySet, user, prefix: str) -> QuerySet:
    tenant_q = _case_tenant_filter(user, prefix)
    visibility_q = _visibilities_for(user, prefix)
    for condition in (tenant_q, visibility_q):
        if condition is not None:
            qs = qs.filter(condition)
    return qs


# --- acting on a case -------------------------------------------------------------------------


def is_support_side(user, case: Case) -> bool:
    """Whether the user answers this case: provider staff, or the members of its tier one."""
    if is_provider_staff(user):
        return True
    membership = active_membership(user)
    if membership is None:
        return False
    tier_one = case.tenant.tier_one
    return tier_one.kind == TenantKind.RESELLER and membership.tenant_id == tier_one.pk


def is_requesting_side(user, case: Case) -> bool:
    """Whether the user is a member of the tenant that asked for help."""
    membership = active_membership(user)
    return membership is not None and membership.tenant_id == case.tenant_id


def can_act_on_case(user, case: Case) -> bool:
    return is_support_side(user, case) or is_requesting_side(user, case)


# --- canned replies ---------------------------------------------------------------------------


def _canned_team(user) -> dict | None:
    """Whose canned replies a person may use, as a filter: a team's own. Provider staff use the
    provider's; a reseller's people their reseller's. Nobody else answers cases, so nobody else
    has any (a reseller never sees the provider's or another reseller's)."""
    if is_provider_staff(user):
        return {"team__kind": TenantKind.PROVIDER}
    reseller = reseller_of(user)
    return None if reseller is None else {"team": reseller.pk}


def canned_replies_visible_to(user) -> QuerySet[CannedReply]:
    """The canned replies a person may use (``_canned_team``)."""
    team = _canned_team(user)
    return CannedReply.objects.none() if team is None else CannedReply.objects.filter(**team)


def canned_replies_offered_to(user) -> list[CannedReply]:
    """``canned_replies_visible_to`` by title, as a list remembered per team
    (``helpdesk.canned.CANNED_REPLIES``): what a case page offers, without a query."""
    team = _canned_team(user)
    if team is None:
        return []
    key = ("canned", *sorted(team.items()))
    return remembered_replies(key, lambda: list(canned_replies_visible_to(user).order_by("title")))


def canned_replies_managed_by(user) -> QuerySet[CannedReply]:
    """The canned replies a reseller's admins write, change and delete in the portal (provider
    staff manage theirs in the admin); fetch through this so others' ids are a 404."""
    reseller = reseller_administered_by(user)
    return CannedReply.objects.none() if reseller is None else reseller.canned_replies.all()


# --- report rows (SPEC §9) --------------------------------------------------------------------


def can_see_reports(user) -> bool:
    """Provider staff, and the admins of a customer, a reseller or a sub-customer."""
    if is_provider_staff(user):
        return True
    membership = active_membership(user)
    return (
        membership is not None
        and membership.is_admin
        and membership.tenant.kind != TenantKind.PROVIDER
    )


def clocks_visible_to(user) -> QuerySet[ResponseClock]:
    """The response clocks whose figures the user may see in reports.

    Staff: all. A reseller's admins: their own cases' clocks and every clock of their
    sub-customers' cases (their tier one's and the provider's on escalations). A customer's or a
    sub-customer's admins: their organisation's tier-one clocks only (a sub-customer never sees
    the provider's clock). Everyone else: none.
    """
    clocks = ResponseClock.objects.all()
    if is_provider_staff(user):
        return clocks
    if not can_see_reports(user):
        return clocks.none()
    tenant = user.membership.tenant
    if tenant.kind == TenantKind.RESELLER:
        # The clock's own tenant (its case's): no join to the cases.
        return clocks.filter(tenant__in=Tenant.objects.filter(Q(pk=tenant.pk) | Q(parent=tenant)))
    return clocks.filter(tenant=tenant, tier=Tier.ONE)
