"""The portal's case page (issue 10): as many queries for a long timeline as for a short one,
and its entries, remembered once written (helpdesk.timeline), always shown as they are now and
as this viewer sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from helpdesk.models import Attachment, Case, CaseEvent, CaseUpdate, EventKind, Visibility
from tenants.models import Tenant, TenantKind, User
from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 15, 4, tzinfo=UTC)


def case_with_timeline(tenant: Tenant, requester: User, entries: int) -> Case:
    """A case whose timeline has ``entries`` public replies and events, each by a different
    person, a file on every fifth reply, and an internal note and a file on it (which the
    requesting side must never see)."""
    case = open_case(tenant, requester, subject=f"Timeline of {entries}")
    people = User.objects.bulk_create(
        User(email=f"p{entries}-{n}@example.test", first_name=f"Person{n}", password="!")
        for n in range(entries)
    )
    updates, events = [], []
    for n, person in enumerate(people):
        at = START + timedelta(minutes=n)
        if n % 2:
            events.append(
                CaseEvent(
                    case=case,
                    actor=person,
                    kind=EventKind.STATUS_CHANGED,
                    old_value="new",
                    new_value="in_progress",
                    visibility=Visibility.PUBLIC,
                    created_at=at,
                )
            )
        else:
            updates.append(
                CaseUpdate(
                    case=case,
                    author=person,
                    author_email=person.email,
                    visibility=Visibility.PUBLIC,
                    body=f"Reply number {n}",
                    created_at=at,
                )
            )
    updates.append(
        CaseUpdate(
            case=case,
            author=people[0],
            author_email=people[0].email,
            visibility=Visibility.PROVIDER_NOTE,
            body="Secret internal note",
            created_at=START,
        )
    )
    CaseEvent.objects.bulk_create(events)
    CaseUpdate.objects.bulk_create(updates)
    Attachment.objects.bulk_create(
        Attachment(
            case=case,
            update=update,
            file=f"cases/{case.pk}/log-{n}.txt",
            filename=f"log-{n}.txt" if update.visibility == Visibility.PUBLIC else "secret.txt",
            content_type="text/plain",
            size=10,
        )
        for n, update in enumerate([*updates[:-1:5], updates[-1]])
    )
    return case


def page_of(client: Client, case: Case) -> str:
    response = client.get(case.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_the_case_page_makes_as_many_queries_for_200_entries_as_for_5() -> None:
    acme = TenantFactory(name="Acme Telecom")
    ann = member(acme)
    client = Client()
    client.force_login(ann)
    short, long = case_with_timeline(acme, ann, 5), case_with_timeline(acme, ann, 200)
    counts = {}
    for case in (short, long):
        page_of(client, case)  # warm-up: caches that fill once per process
        with CaptureQueriesContext(connection) as queries:
            page = page_of(client, case)
        counts[case.subject] = len(queries)
    # The long timeline is all there, its files too, and nothing internal.
    assert "Reply number 198" in page and "Person199" in page and "log-19.txt" in page
    assert "Secret internal note" not in page and "secret.txt" not in page
    assert counts["Timeline of 5"] == counts["Timeline of 200"], counts


def test_an_entry_changed_after_it_was_shown_is_shown_as_it_is_now() -> None:
    """Each change on an entry of its own, so that each value the page remembers an entry by
    is checked alone."""
    acme = TenantFactory(name="Acme Telecom", timezone="UTC")
    ann = member(acme)
    client = Client()
    client.force_login(ann)
    case = case_with_timeline(acme, ann, 12)
    first = page_of(client, case)
    assert "Reply number 0" in first and "Mar 2, 2026 15:04 UTC" in first
    replies = list(case.updates.filter(visibility=Visibility.PUBLIC).order_by("created_at"))
    events = list(case.events.filter(kind=EventKind.STATUS_CHANGED).order_by("created_at"))
    assert "log-0.txt" in first and replies[0].attachments.exists()
    assert "Reply number 2<" in first and "Person4" in first and "· Person3</li>" in first

    Attachment.objects.filter(update=replies[0]).update(filename="renamed.txt", size=2048)
    CaseUpdate.objects.filter(pk=replies[1].pk).update(body="Edited **text** <b>raw</b>")
    User.objects.filter(pk=replies[2].author_id).update(first_name="Renamed", last_name="Author")
    CaseEvent.objects.filter(pk=events[0].pk).update(reason="A reason added later")
    User.objects.filter(pk=events[1].actor_id).update(first_name="Moved", last_name="Actor")
    page = page_of(client, case)
    assert "renamed.txt" in page and "2.0\xa0KB" in page and "log-0.txt" not in page
    assert "Reply number 2<" not in page
    assert "<strong>text</strong> &lt;b&gt;raw&lt;/b&gt;" in page
    assert "Renamed Author" in page and "Person4" not in page
    assert "A reason added later" in page
    assert "Moved Actor" in page and "· Person3</li>" not in page

    # The viewer's organisation moves to another zone: every time is shown in the new one.
    Tenant.objects.filter(pk=acme.pk).update(timezone="Asia/Tokyo")
    page = page_of(client, case)
    assert "Mar 3, 2026 00:04 JST" in page and "Mar 2, 2026 15:04 UTC" not in page


def test_staff_see_each_messages_kind_and_the_customer_does_not(demo) -> None:
    """The same entries on a direct customer's case, for provider staff (the support side:
    each message's kind) and for the customer (no kinds), whoever looked first."""
    acme = Tenant.objects.get(slug="acme")
    case = case_with_timeline(acme, demo["ann"], 4)
    customer_client, staff_client = Client(), sign_in(Client(), demo["alice"])
    customer_client.force_login(demo["ann"])
    for _ in range(2):
        customer, support = page_of(customer_client, case), page_of(staff_client, case)
        assert 'class="kind kind-public"' in support and "kind-public" not in customer
        assert "Reply number 2" in customer and "Reply number 2" in support


def test_each_side_sees_its_own_entries_of_the_same_case() -> None:
    """A reseller's people (the support side of a sub-customer's case) see each message's kind
    and may pass escalation messages on; the sub-customer sees neither, whoever looked first."""
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    initech = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    ivan, rob = member(initech), member(reseller)
    case = case_with_timeline(initech, ivan, 4)
    CaseUpdate.objects.create(
        case=case,
        author=rob,
        author_email=rob.email,
        visibility=Visibility.ESCALATION,
        body="From the provider",
        created_at=START,
    )
    ivan_client, rob_client = Client(), Client()
    ivan_client.force_login(ivan)
    rob_client.force_login(rob)
    for _ in range(2):  # each side after the other has looked
        customer, support = page_of(ivan_client, case), page_of(rob_client, case)
        assert 'class="kind kind-public"' in support and "kind-public" not in customer
        assert "Pass on to Initech" in support and "Pass on to" not in customer
        assert "From the provider" in support and "From the provider" not in customer
        assert "Reply number 2" in customer and "Reply number 2" in support
