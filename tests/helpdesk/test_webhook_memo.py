"""Opening a case reads the tenant's webhook subscriptions from memory (issue 10), and every
change to them reaches the next case opened. Committed (transactional) tests: the memory is
only kept across transactions, as in production."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiKey, WebhookDelivery, WebhookSubscription
from helpdesk.webhooks import SUBSCRIPTIONS
from tenants.memo import StampedMemo
from tenants.models import Role, TenantKind
from tests.factories import TenantFactory, member, open_case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(settings) -> dict:
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    initech = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    acme = TenantFactory(name="Acme")
    return {
        "acme": acme,
        "initech": initech,
        "ann": member(acme),
        "bob": member(acme, Role.ADMIN),
        "ivan": member(initech),
        "rita": member(reseller, Role.ADMIN),
    }


def subscribe(admin, url: str = "http://127.0.0.1:9/hook") -> int:
    """As an organisation's admin does it: through the API."""
    _, token = ApiKey.issue(user=admin, name="hooks")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(reverse("api:webhooks"), {"url": url}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def deliveries(case) -> int:
    return WebhookDelivery.objects.filter(case_reference=case.reference).count()


def subscription_queries(queries: CaptureQueriesContext) -> list[str]:
    """The opening's look-up of subscriptions (not the sender's, run here at the commit)."""
    return [q["sql"] for q in queries if '"api_webhooksubscription"."tenant_id" IN' in q["sql"]]


def test_an_organisation_without_subscriptions_costs_no_query_after_the_first(world) -> None:
    open_case(world["acme"], world["ann"])
    with CaptureQueriesContext(connection) as queries:
        case = open_case(world["acme"], world["ann"])
    assert not subscription_queries(queries) and deliveries(case) == 0


def test_a_new_subscription_hears_of_the_next_case(world) -> None:
    assert deliveries(open_case(world["acme"], world["ann"])) == 0
    subscribe(world["bob"])
    assert deliveries(open_case(world["acme"], world["ann"])) == 1
    with CaptureQueriesContext(connection) as queries:
        assert deliveries(open_case(world["acme"], world["ann"])) == 1
    assert not subscription_queries(queries)


def test_a_resellers_new_subscription_hears_of_its_customers_next_case(world) -> None:
    assert deliveries(open_case(world["initech"], world["ivan"])) == 0
    subscribe(world["rita"])
    assert deliveries(open_case(world["initech"], world["ivan"])) == 1


def test_a_deactivated_or_deleted_subscription_hears_nothing_more(world) -> None:
    pk = subscribe(world["bob"])
    assert deliveries(open_case(world["acme"], world["ann"])) == 1
    subscription = WebhookSubscription.objects.get(pk=pk)
    subscription.is_active = False
    with transaction.atomic():  # as the admin saves
        subscription.save()
    assert deliveries(open_case(world["acme"], world["ann"])) == 0
    subscription.is_active = True
    subscription.save()
    assert deliveries(open_case(world["acme"], world["ann"])) == 1
    _, token = ApiKey.issue(user=world["bob"], name="hooks")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.delete(reverse("api:webhook-detail", args=[pk])).status_code == 204
    assert deliveries(open_case(world["acme"], world["ann"])) == 0


def test_another_process_reads_them_again_after_a_change(world) -> None:
    other = StampedMemo(SUBSCRIPTIONS.name)
    loads: list[int] = []
    other.get(world["acme"].pk, lambda: loads.append(1))
    other.get(world["acme"].pk, lambda: loads.append(1))
    subscribe(world["bob"])
    other.get(world["acme"].pk, lambda: loads.append(1))
    assert len(loads) == 2
