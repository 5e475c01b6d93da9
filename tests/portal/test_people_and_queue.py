"""A reseller's and a tenant admin's daily people work (issue 16): deactivation asks first, an
invitation can be resent, roles change in place, time zones are grouped, plans show their
targets, and the queue assigns cases among the reseller's own people."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from helpdesk.models import Case
from sla.models import Plan
from tenants.forms import SubcustomerForm, plan_targets
from tenants.models import Membership, Role, Tenant, TenantKind
from tests.conftest import sign_in
from tests.factories import member

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    return sign_in(Client(), user)


def test_deactivating_a_customer_asks_first(demo) -> None:
    initech = Tenant.objects.get(slug="initech")
    rita = client_for(demo["rita"])
    detail = rita.get(reverse("subcustomer-detail", args=[initech.pk])).content.decode()
    confirm_url = reverse("subcustomer-active", args=[initech.pk])
    assert f'href="{confirm_url}"' in detail  # a link to a page that asks, not a button
    page = rita.get(confirm_url).content.decode()
    assert "Deactivate Initech?" in page
    assert "Yes, deactivate Initech" in page
    initech.refresh_from_db()
    assert initech.is_active
    rita.post(confirm_url, {"active": "0"})
    initech.refresh_from_db()
    assert not initech.is_active


def test_deactivating_a_customers_person_asks_first(demo) -> None:
    initech = Tenant.objects.get(slug="initech")
    url = reverse("subcustomer-member-active", args=[initech.pk, demo["ivan"].pk])
    page = client_for(demo["rita"]).get(url).content.decode()
    assert "Deactivate ivan@initech.test?" in page
    demo["ivan"].refresh_from_db()
    assert demo["ivan"].is_active


def test_confirm_pages_of_another_tenant_are_not_found(demo) -> None:
    acme = Tenant.objects.get(slug="acme")
    rita = client_for(demo["rita"])
    assert rita.get(reverse("subcustomer-active", args=[acme.pk])).status_code == 404
    bob = client_for(demo["bob"])
    assert bob.get(reverse("team-member-active", args=[demo["gina"].pk])).status_code == 404


def test_an_invitation_is_resent_from_the_team_page(
    demo, django_capture_on_commit_callbacks
) -> None:
    bob = client_for(demo["bob"])
    bob.post(reverse("team"), {"email": "carla@acme.test", "role": Role.AGENT})
    carla = Membership.objects.get(user__email="carla@acme.test").user
    page = bob.get(reverse("team")).content.decode()
    assert reverse("team-member-resend", args=[carla.pk]) in page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = bob.post(reverse("team-member-resend", args=[carla.pk]), follow=True)
    assert "A new invitation is on its way to carla@acme.test" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["carla@acme.test"]]


def test_no_resend_for_someone_who_has_signed_in(demo, django_capture_on_commit_callbacks) -> None:
    bob = client_for(demo["bob"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = bob.post(reverse("team-member-resend", args=[demo["ann"].pk]), follow=True)
    assert "already has an account" in response.content.decode()
    assert mail.outbox == []


def test_an_admin_changes_a_persons_role(demo) -> None:
    bob = client_for(demo["bob"])
    bob.post(reverse("team-member-role", args=[demo["ann"].pk]), {"role": Role.ADMIN})
    assert Membership.objects.get(user=demo["ann"]).role == Role.ADMIN
    response = bob.post(
        reverse("team-member-role", args=[demo["ann"].pk]), {"role": "owner"}, follow=True
    )
    assert "Choose agent or admin" in response.content.decode()
    assert Membership.objects.get(user=demo["ann"]).role == Role.ADMIN


def test_an_admin_cannot_demote_themselves(demo) -> None:
    response = client_for(demo["bob"]).post(
        reverse("team-member-role", args=[demo["bob"].pk]), {"role": Role.AGENT}, follow=True
    )
    assert "cannot change your own role" in response.content.decode()
    assert Membership.objects.get(user=demo["bob"]).role == Role.ADMIN


def test_a_reseller_changes_a_customers_persons_role_but_not_anothers(demo) -> None:
    initech = Tenant.objects.get(slug="initech")
    rita = client_for(demo["rita"])
    rita.post(
        reverse("subcustomer-member-role", args=[initech.pk, demo["ivan"].pk]),
        {"role": Role.ADMIN},
    )
    assert Membership.objects.get(user=demo["ivan"]).role == Role.ADMIN
    acme = Tenant.objects.get(slug="acme")
    response = rita.post(
        reverse("subcustomer-member-role", args=[acme.pk, demo["ann"].pk]), {"role": Role.ADMIN}
    )
    assert response.status_code == 404
    assert Membership.objects.get(user=demo["ann"]).role == Role.AGENT


def test_time_zones_are_grouped_by_region() -> None:
    groups = dict(SubcustomerForm().fields["timezone"].choices)
    assert ("America/New_York", "New York") in groups["America"]
    assert ("Europe/Paris", "Paris") in groups["Europe"]
    html = str(SubcustomerForm()["timezone"])
    assert '<optgroup label="Europe">' in html


def test_the_plan_choice_shows_the_targets(demo) -> None:
    default = Plan.objects.get(is_default=True)
    assert plan_targets(default) == (
        "Emergency 10 min · Critical 30 min · Major 1 h · Moderate 4 h · Minor 1 day"
    )
    page = client_for(demo["rita"]).get(reverse("subcustomer-list")).content.decode()
    assert "The default plan: Emergency 10 min" in page


def test_the_queue_assigns_cases_to_the_resellers_people(demo) -> None:
    rita = client_for(demo["rita"])
    cases = list(Case.objects.filter(tenant__parent__slug="voicehub", status="new")[:2])
    assert cases
    page = rita.get(reverse("tier-one-queue")).content.decode()
    assert 'form="assign-form"' in page
    assert "rob@voicehub.test" in page or "Rob" in page
    response = rita.post(
        reverse("queue-assign"),
        {"case": [c.reference for c in cases], "assignee": demo["rob"].pk, "back": "?page=1"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("tier-one-queue") + "?page=1"
    assert {c.assignee_id for c in Case.objects.filter(pk__in=[c.pk for c in cases])} == {
        demo["rob"].pk
    }


def test_the_queue_refuses_people_and_cases_outside_the_reseller(demo) -> None:
    rita = client_for(demo["rita"])
    voicehub_case = Case.objects.filter(tenant__parent__slug="voicehub").first()
    acme_case = Case.objects.filter(tenant__slug="acme").first()
    # Someone outside the reseller cannot be chosen.
    rita.post(
        reverse("queue-assign"), {"case": [voicehub_case.reference], "assignee": demo["ann"].pk}
    )
    voicehub_case.refresh_from_db()
    assert voicehub_case.assignee_id is None
    # Another tenant's case is not found among the choices: nothing is assigned.
    response = rita.post(
        reverse("queue-assign"),
        {"case": [acme_case.reference], "assignee": demo["rob"].pk},
        follow=True,
    )
    acme_case.refresh_from_db()
    assert acme_case.assignee_id is None
    assert "Select a valid choice" in response.content.decode()


def test_only_a_resellers_people_use_the_queue(demo) -> None:
    assert client_for(demo["ann"]).post(reverse("queue-assign"), {}).status_code == 403


def test_an_outsiders_membership_is_not_a_choice(demo) -> None:
    other = Tenant.objects.create(
        name="CallCo",
        slug="callco",
        kind=TenantKind.RESELLER,
        parent=Tenant.objects.get(slug="phonism"),
    )
    stranger = member(other)
    page = client_for(demo["rita"]).get(reverse("tier-one-queue")).content.decode()
    assert stranger.email not in page
