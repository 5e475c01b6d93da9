"""A reseller's admins manage their customers (sub-customers), those customers' people and the
plan of their tier one (SPEC §1, §3, §8). Other people get a 403 that says why; another
reseller's customer is a 404 (fetched through helpdesk.access)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import access
from helpdesk.forms import apply_service_errors
from helpdesk.selectors import with_people_and_open_cases
from tenants import services
from tenants.access import SignedInRequest
from tenants.forms import InviteForm, SubcustomerForm, TierOnePlanForm
from tenants.models import Membership, Role, Tenant
from tenants.views import (
    active_flag,
    change_role,
    confirm_deactivation,
    invite_from_form,
    resend_invitation,
)


def _reseller(request: SignedInRequest) -> Tenant:
    reseller = access.reseller_administered_by(request.user)
    if reseller is None:
        raise PermissionDenied("Only a reseller's admins manage its customers.")
    return reseller


def _subcustomer(request: SignedInRequest, pk: int) -> Tenant:
    _reseller(request)  # people with no say get the 403 that says why, before any lookup
    return get_object_or_404(access.subcustomers_managed_by(request.user), pk=pk)


@login_required
@require_GET
def subcustomer_list(request: SignedInRequest) -> HttpResponse:
    reseller = _reseller(request)
    return _list_page(request, reseller, TierOnePlanForm(initial={"plan": reseller.tier_one_plan}))


def _list_page(
    request: SignedInRequest, reseller: Tenant, plan_form: TierOnePlanForm, status: int = 200
) -> HttpResponse:
    customers = with_people_and_open_cases(access.subcustomers_managed_by(request.user))
    context = {"reseller": reseller, "customers": customers, "plan_form": plan_form}
    return render(request, "tenants/subcustomer_list.html", context, status=status)


@login_required
@require_POST
def tier_one_plan(request: SignedInRequest) -> HttpResponse:
    reseller = _reseller(request)
    form = TierOnePlanForm(request.POST)
    if form.is_valid():
        try:
            services.reseller_set_tier_one_plan(
                actor=request.user, reseller=reseller, plan=form.cleaned_data["plan"]
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            plan = form.cleaned_data["plan"]
            messages.success(
                request, f"Your customers' cases now use {plan or 'the default plan'}."
            )
            return redirect("subcustomer-list")
    return _list_page(request, reseller, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def subcustomer_new(request: SignedInRequest) -> HttpResponse:
    reseller = _reseller(request)
    form = SubcustomerForm(request.POST or None, initial={"timezone": reseller.timezone})
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.subcustomer_create(
                actor=request.user, reseller=reseller, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{customer.name} is added. Invite its people below.")
            return redirect("subcustomer-detail", pk=customer.pk)
    return render(
        request,
        "tenants/subcustomer_new.html",
        {"reseller": reseller, "form": form},
        status=400 if form.errors else 200,
    )


def _detail_page(
    request: SignedInRequest,
    customer: Tenant,
    edit_form: SubcustomerForm | None = None,
    invite_form: InviteForm | None = None,
) -> HttpResponse:
    people = (
        Membership.objects.filter(tenant=customer).select_related("user").order_by("user__email")
    )
    context = {
        "customer": customer,
        "people": people,
        "edit_form": edit_form
        or SubcustomerForm(
            creating=False, initial={"name": customer.name, "timezone": customer.timezone}
        ),
        "invite_form": invite_form or InviteForm(),
        "roles": Role.choices,
    }
    status = 400 if edit_form or invite_form else 200
    return render(request, "tenants/subcustomer_detail.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def subcustomer_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    customer = _subcustomer(request, pk)
    if request.method == "GET":
        return _detail_page(request, customer)
    form = SubcustomerForm(request.POST, creating=False)
    if form.is_valid():
        try:
            services.subcustomer_update(
                actor=request.user, subcustomer=customer, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"{customer.name} is saved.")
            return redirect("subcustomer-detail", pk=customer.pk)
    customer.refresh_from_db()  # the heading shows the saved name, not the rejected one
    return _detail_page(request, customer, edit_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def subcustomer_active(request: SignedInRequest, pk: int) -> HttpResponse:
    customer = _subcustomer(request, pk)
    if request.method == "GET":
        return confirm_deactivation(
            request,
            name=customer.name,
            consequence=f"None of {customer.name}'s people will be able to sign in or open "
            "cases. Its cases and people are kept.",
            cancel_url=reverse("subcustomer-detail", args=[customer.pk]),
        )
    active = active_flag(request)
    services.subcustomer_set_active(actor=request.user, subcustomer=customer, active=active)
    if active:
        messages.success(request, f"{customer.name} is active again; its people can sign in.")
    else:
        messages.success(
            request, f"{customer.name} is deactivated: its people cannot sign in or open cases."
        )
    return redirect("subcustomer-detail", pk=customer.pk)


@login_required
@require_POST
def subcustomer_invite(request: SignedInRequest, pk: int) -> HttpResponse:
    customer = _subcustomer(request, pk)
    form = InviteForm(request.POST)
    if invite_from_form(request, customer, form):
        return redirect("subcustomer-detail", pk=customer.pk)
    return _detail_page(request, customer, invite_form=form)


def _subcustomer_member(request: SignedInRequest, pk: int, user_id: int) -> Membership:
    customer = _subcustomer(request, pk)
    return get_object_or_404(
        Membership.objects.filter(tenant=customer).select_related("user", "tenant"),
        user_id=user_id,
    )


@login_required
@require_POST
def subcustomer_member_resend(request: SignedInRequest, pk: int, user_id: int) -> HttpResponse:
    resend_invitation(request, _subcustomer_member(request, pk, user_id))
    return redirect("subcustomer-detail", pk=pk)


@login_required
@require_POST
def subcustomer_member_role(request: SignedInRequest, pk: int, user_id: int) -> HttpResponse:
    change_role(request, _subcustomer_member(request, pk, user_id))
    return redirect("subcustomer-detail", pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def subcustomer_member_active(request: SignedInRequest, pk: int, user_id: int) -> HttpResponse:
    customer = _subcustomer(request, pk)
    membership = get_object_or_404(
        Membership.objects.filter(tenant=customer).select_related("user"), user_id=user_id
    )
    if request.method == "GET":
        return confirm_deactivation(
            request,
            name=membership.user.email,
            consequence=f"{membership.user.email} will no longer be able to sign in to "
            f"{customer.name}'s cases.",
            cancel_url=reverse("subcustomer-detail", args=[customer.pk]),
        )
    active = active_flag(request)
    services.member_set_active(actor=request.user, member=membership.user, active=active)
    state = "reactivated" if active else "deactivated"
    messages.success(request, f"{membership.user.email} is {state}.")
    return redirect("subcustomer-detail", pk=customer.pk)
