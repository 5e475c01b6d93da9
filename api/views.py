"""The REST API, v1 (issue 17). Each endpoint fetches through the access policy
(``helpdesk.access``: another tenant's id is a 404) and writes through the services: no rule is
written twice. Errors are JSON with a reason (``api.errors``)."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, pagination, parsers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api import serializers as s
from api.models import WebhookSubscription, new_webhook_secret
from api.webhook_sender import UnsafeTarget, check_target
from helpdesk import access, services
from helpdesk.filters import CaseFilter
from helpdesk.models import Case, Channel
from sla.models import Plan, ResponseClock
from tenants import services as tenant_services
from tenants.models import Membership, Tenant

# Opening a case and adding an update take attachments: multipart as well as JSON.
WITH_FILES = [parsers.JSONParser, parsers.MultiPartParser]


class CasePagination(pagination.CursorPagination):
    """Keyset paging, newest first: no COUNT over millions of cases."""

    ordering = ("-created_at", "-id")
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request: Request) -> int:
        """A page size that is not a whole number from 1 to 100 is a 400, not quietly 25."""
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        try:
            size = int(value)
        except ValueError:
            size = 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({"page_size": f"A whole number from 1 to {self.max_page_size}."})
        return size

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class ApiCaseFilter(CaseFilter):
    """The portal's filters and search; the order is the cursor's (newest first), so there is
    no ``sort``. Every filter the schema lists is there for every caller (no ``short_form``):
    where the portal leaves one out (one organisation, one clock), a value the caller cannot
    choose is a 400 here, never silently ignored."""

    short_form = False

    def __init__(self, data=None, *args, **kwargs) -> None:
        if data is not None:  # as in the portal's form, a filter sent empty is no filter
            data = data.copy()
            for key in list(data):
                kept = [value for value in data.getlist(key) if value != ""]
                if kept:
                    data.setlist(key, kept)
                else:
                    del data[key]
        super().__init__(data, *args, **kwargs)

    def filter_queryset(self, queryset):
        return super(CaseFilter, self).filter_queryset(queryset)


del ApiCaseFilter.base_filters["sort"]


class CaseFilterBackend(DjangoFilterBackend):
    """The portal's filters. A request that names none of them (the first page of everything)
    is not run through the filter form, which would filter nothing and sort what the cursor
    sorts anyway: building and checking that form cost more than the page's query."""

    def filter_queryset(self, request: Request, queryset, view):
        if not any(name in request.query_params for name in ApiCaseFilter.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)


# What a case's summary shows (and the list's cursor orders by): a page leaves descriptions, and
# the rest of each case and its organisation, in the database.
SUMMARY_COLUMNS = [
    "id",
    "reference",
    "tenant__slug",
    "subject",
    "severity",
    "status",
    "channel",
    "requester_email",
    "created_at",
    "updated_at",
    "first_response_at",
]

# In the body's order (the clocks' default order is by their case: a join for nothing here).
_CLOCKS = Prefetch(
    "response_clocks", ResponseClock.objects.select_related("calendar").order_by("tier", "sequence")
)


def _case_for(request: Request, reference: str, *, to_change: bool = True) -> Case:
    """The case through the policy (another tenant's is a 404), with what the services need to
    change it (the people on it, the tenant's parent for notifications), or, to read it, only
    what its body shows."""
    cases = access.cases_visible_to(request.user).prefetch_related(_CLOCKS)
    if to_change:
        cases = cases.select_related("tenant__parent", "requester", "assignee")
    else:
        # (The organisation's parent decides which updates a reseller sees: ``updates_of``.)
        cases = cases.select_related("tenant").only(
            *SUMMARY_COLUMNS, "description", "tenant__parent_id"
        )
    return get_object_or_404(cases, reference=reference)


@extend_schema(tags=["cases"])
class CaseList(generics.ListAPIView):
    serializer_class = s.CaseSummarySerializer
    pagination_class = CasePagination
    filter_backends = [CaseFilterBackend]
    filterset_class = ApiCaseFilter
    parser_classes = WITH_FILES

    def get_queryset(self):
        cases = access.cases_visible_to(self.request.user)
        return cases.select_related("tenant").only(*SUMMARY_COLUMNS)

    @extend_schema(request=s.CaseOpenSerializer, responses={201: s.CaseSerializer})
    def post(self, request: Request) -> Response:
        """Open a case, with the portal's rules: the severity is required (no silent default),
        Emergency needs the entitlement."""
        data = s.CaseOpenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        membership = access.membership_of(request.user)
        if "tenant" in values:
            tenant = access.tenants_visible_to(request.user).filter(slug=values["tenant"]).first()
            if tenant is None:
                raise Http404("No such organisation.")
        elif membership is not None:
            tenant = membership.tenant
        else:
            raise ValidationError({"tenant": "Name the organisation the case is for."})
        requester = request.user if membership and membership.tenant_id == tenant.pk else None
        case = services.case_open(
            tenant=tenant,
            subject=values["subject"],
            description=values["description"],
            channel=Channel.API,
            severity=values["severity"],
            requester=requester,
            requester_email=request.user.email,
            opened_by=request.user,
            attachments=values.get("attachments", []),
        )
        # The case as the service left it (its tenant is the caller's or one fetched through
        # the policy above) with the one clock it started (``opened_clock``): no second fetch.
        # (Set as Django's prefetch sets it; the case is answered with and then dropped.)
        clocks = case.response_clocks.get_queryset()
        clocks._result_cache = [case.opened_clock] if case.opened_clock else []
        clocks._prefetch_done = True
        case._prefetched_objects_cache = {"response_clocks": clocks}
        return Response(
            s.CaseSerializer(case, context={"request": request, "just_opened": True}).data,
            status=status.HTTP_201_CREATED,
        )


@extend_schema(tags=["cases"])
class CaseDetail(APIView):
    @extend_schema(responses=s.CaseSerializer)
    def get(self, request: Request, reference: str) -> Response:
        case = _case_for(request, reference, to_change=False)
        return Response(s.CaseSerializer(case, context={"request": request}).data)

    @extend_schema(request=s.CaseChangeSerializer, responses=s.CaseSerializer)
    def patch(self, request: Request, reference: str) -> Response:
        """Change the severity (with a reason) or the status."""
        case = _case_for(request, reference)
        data = s.CaseChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "severity" in values:
            services.case_change_severity(
                case=case, actor=request.user, severity=values["severity"], reason=values["reason"]
            )
        else:
            services.case_change_status(
                case=case, actor=request.user, status=values["status"], reason=values["reason"]
            )
        case = _case_for(request, reference)
        return Response(s.CaseSerializer(case, context={"request": request}).data)


@extend_schema(tags=["cases"])
class CaseUpdates(APIView):
    parser_classes = WITH_FILES

    @extend_schema(responses=s.UpdateSerializer(many=True))
    def get(self, request: Request, reference: str) -> Response:
        case = _case_for(request, reference)
        updates = (
            access.updates_of(request.user, case)
            .prefetch_related("attachments")
            .order_by("created_at", "pk")
        )
        return Response(s.UpdateSerializer(updates, many=True).data)

    @extend_schema(request=s.UpdateAddSerializer, responses={201: s.UpdateSerializer})
    def post(self, request: Request, reference: str) -> Response:
        """A public reply, an internal note (``internal``), or a message in the escalation
        thread (``escalation``), under the same rules as the pages."""
        case = _case_for(request, reference)
        data = s.UpdateAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        update = services.update_add(
            case=case,
            author=request.user,
            body=values["body"],
            internal=values["internal"],
            escalation=values["escalation"],
            attachments=values.get("attachments", []),
        )
        return Response(s.UpdateSerializer(update).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["cases"])
class CaseClocks(APIView):
    @extend_schema(responses=s.ClockSerializer(many=True))
    def get(self, request: Request, reference: str) -> Response:
        """The response clocks the caller's side follows, with their SLA state now."""
        case = _case_for(request, reference)
        return Response([s.ClockSerializer(c).data for c in s.viewer_clocks(case, request.user)])


@extend_schema(tags=["cases"], responses={(200, "application/octet-stream"): bytes})
class AttachmentDownload(APIView):
    def get(self, request: Request, pk: int) -> FileResponse:
        attachment = get_object_or_404(access.attachments_visible_to(request.user), pk=pk)
        return FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.filename,
            content_type=attachment.content_type,
        )


# --- people ---------------------------------------------------------------------------------


def _people_tenant(request: Request, tenant_pk: int | None) -> Tenant:
    """A tenant whose people the caller manages (their own, or a reseller's customer)."""
    if tenant_pk is None:
        membership = access.membership_of(request.user)
        if membership is None:
            raise Http404
        tenant = membership.tenant
    else:
        tenant = get_object_or_404(access.subcustomers_managed_by(request.user), pk=tenant_pk)
    if not access.can_manage_people_of(request.user, tenant):
        raise PermissionDenied("Only your organisation's admins manage its people.")
    return tenant


@extend_schema(tags=["people"])
class People(APIView):
    @extend_schema(responses=s.PersonSerializer(many=True))
    def get(self, request: Request, tenant_pk: int | None = None) -> Response:
        tenant = _people_tenant(request, tenant_pk)
        people = (
            Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")
        )
        return Response(s.PersonSerializer(people, many=True).data)

    @extend_schema(request=s.InviteSerializer, responses={201: s.PersonSerializer})
    def post(self, request: Request, tenant_pk: int | None = None) -> Response:
        """Invite a person: they get an email with a link to set their password."""
        tenant = _people_tenant(request, tenant_pk)
        data = s.InviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.member_invite(actor=request.user, tenant=tenant, **data.validated_data)
        return Response(s.PersonSerializer(user.membership).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["people"])
class PersonActive(APIView):
    @extend_schema(request=s.ActiveSerializer, responses=s.PersonSerializer)
    def post(self, request: Request, user_pk: int, tenant_pk: int | None = None) -> Response:
        tenant = _people_tenant(request, tenant_pk)
        membership = get_object_or_404(
            Membership.objects.select_related("user"), tenant=tenant, user_id=user_pk
        )
        data = s.ActiveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant_services.member_set_active(
            actor=request.user, member=membership.user, active=data.validated_data["active"]
        )
        membership.user.refresh_from_db()
        return Response(s.PersonSerializer(membership).data)


# --- a reseller's customers -------------------------------------------------------------------


def _reseller(request: Request) -> Tenant:
    reseller = access.reseller_administered_by(request.user)
    if reseller is None:
        raise Http404("Only a reseller's admins manage customers.")
    return reseller


@extend_schema(tags=["customers"])
class Customers(APIView):
    @extend_schema(responses=s.CustomerSerializer(many=True))
    def get(self, request: Request) -> Response:
        _reseller(request)
        customers = access.subcustomers_managed_by(request.user).order_by("name")
        return Response(s.CustomerSerializer(customers, many=True).data)

    @extend_schema(request=s.CustomerSerializer, responses={201: s.CustomerSerializer})
    def post(self, request: Request) -> Response:
        reseller = _reseller(request)
        data = s.CustomerSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = tenant_services.subcustomer_create(
            actor=request.user,
            reseller=reseller,
            name=values["name"],
            slug=values.get("slug", ""),
            timezone=values.get("timezone", ""),
        )
        return Response(s.CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["customers"])
class CustomerDetail(APIView):
    @extend_schema(responses=s.CustomerSerializer)
    def get(self, request: Request, pk: int) -> Response:
        customer = get_object_or_404(access.subcustomers_managed_by(request.user), pk=pk)
        return Response(s.CustomerSerializer(customer).data)

    @extend_schema(request=s.CustomerChangeSerializer, responses=s.CustomerSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        """Rename, change the time zone, or (de)activate a customer."""
        customer = get_object_or_404(access.subcustomers_managed_by(request.user), pk=pk)
        data = s.CustomerChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if "name" in values or "timezone" in values:
            zone = values.get("timezone", customer.timezone)
            if zone not in zoneinfo.available_timezones():
                raise ValidationError({"timezone": f"Unknown time zone “{zone}”."})
            tenant_services.subcustomer_update(
                actor=request.user,
                subcustomer=customer,
                name=values.get("name", customer.name),
                timezone=zone,
            )
        if "active" in values:
            tenant_services.subcustomer_set_active(
                actor=request.user, subcustomer=customer, active=values["active"]
            )
        customer.refresh_from_db()
        return Response(s.CustomerSerializer(customer).data)


@extend_schema(tags=["customers"])
class TierOnePlan(APIView):
    @extend_schema(responses=s.PlanSerializer)
    def get(self, request: Request) -> Response:
        reseller = _reseller(request)
        return Response({"plan": reseller.tier_one_plan.name if reseller.tier_one_plan else None})

    @extend_schema(request=s.PlanSerializer, responses=s.PlanSerializer)
    def put(self, request: Request) -> Response:
        """The plan the reseller's tier one gives its customers (null: the default plan)."""
        reseller = _reseller(request)
        data = s.PlanSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        name = data.validated_data["plan"]
        plan = None
        if name is not None:
            plan = Plan.objects.filter(name=name).first()
            if plan is None:
                raise ValidationError({"plan": f"No plan named “{name}”."})
        tenant_services.reseller_set_tier_one_plan(actor=request.user, reseller=reseller, plan=plan)
        return Response({"plan": plan.name if plan else None})


# --- webhooks ---------------------------------------------------------------------------------


def _webhook_tenant(request: Request) -> Tenant:
    """Webhooks belong to the caller's organisation; its admins manage them."""
    membership = access.membership_of(request.user)
    if membership is None or not membership.is_admin or not membership.tenant.is_usable():
        raise Http404("Only an organisation's admins manage its webhooks.")
    return membership.tenant


def _subscription_for(request: Request, pk: int) -> WebhookSubscription:
    return get_object_or_404(
        WebhookSubscription.objects.filter(tenant=_webhook_tenant(request)), pk=pk
    )


@extend_schema(tags=["webhooks"])
class Webhooks(APIView):
    @extend_schema(responses=s.WebhookSubscriptionSerializer(many=True))
    def get(self, request: Request) -> Response:
        subscriptions = WebhookSubscription.objects.filter(tenant=_webhook_tenant(request))
        return Response(s.WebhookSubscriptionSerializer(subscriptions, many=True).data)

    @extend_schema(
        request=s.WebhookSubscriptionSerializer, responses={201: s.WebhookSecretSerializer}
    )
    def post(self, request: Request) -> Response:
        """Subscribe a URL; the response shows the signing secret, once."""
        tenant = _webhook_tenant(request)
        data = s.WebhookSubscriptionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        url = data.validated_data["url"]
        try:
            check_target(url)
        except UnsafeTarget as refused:
            raise ValidationError({"url": str(refused)}) from None
        subscription = WebhookSubscription.objects.create(
            tenant=tenant,
            url=url,
            events=",".join(data.validated_data.get("events", [])),
            is_active=data.validated_data.get("is_active", True),
            created_by=request.user,
        )
        body = s.WebhookSecretSerializer(subscription).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(tags=["webhooks"])
class WebhookDetail(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        _subscription_for(request, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["webhooks"])
class WebhookRotate(APIView):
    @extend_schema(request=None, responses=s.WebhookSecretSerializer)
    def post(self, request: Request, pk: int) -> Response:
        """A new secret; deliveries carry signatures by both until the next rotation."""
        subscription = _subscription_for(request, pk)
        subscription.previous_secret = subscription.secret
        subscription.secret = new_webhook_secret()
        subscription.save(update_fields=["secret", "previous_secret"])
        return Response(s.WebhookSecretSerializer(subscription).data)
