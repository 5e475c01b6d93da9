"""Opening a case is cheap and never queues behind another opening (issue 10): the reference
comes from a sequence on PostgreSQL, and the request writes one notification intent that the
worker expands into the emails."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from api.models import WebhookDelivery, WebhookSubscription
from helpdesk import notifications, services, tasks
from helpdesk.models import (
    Case,
    Counter,
    NotificationIntent,
    NotificationKind,
    OutboundEmail,
    Severity,
)
from tests.factories import TenantFactory, member, open_case, staff


@pytest.fixture
def acme(db):
    agent = staff(email="alice@phonism.test")
    agent.groups.add(Group.objects.get(name=notifications.SUPPORT_AGENT))
    return TenantFactory(name="Acme Telecom")


@pytest.mark.django_db
def test_the_request_writes_one_intent_and_works_out_no_recipients(acme) -> None:
    ann = member(acme, email="ann@acme.test")
    with CaptureQueriesContext(connection) as queries:
        case = open_case(acme, ann)
    sql = [query["sql"] for query in queries]
    assert NotificationIntent.objects.filter(case=case).count() == 1
    assert not OutboundEmail.objects.filter(case=case).exists()  # the worker writes them
    # Nobody's address, no brand, no outbox row is looked up while the customer waits.
    assert not [q for q in sql if "tenants_user" in q or "auth_group" in q]
    assert not [q for q in sql if "brand" in q or "outboundemail" in q]
    # The case, its clock, its "opened" event and the intent, each written once.
    tables = [
        "helpdesk_case",
        "sla_responseclock",
        "helpdesk_caseevent",
        "helpdesk_notificationintent",
    ]
    written = [q for q in sql if "INSERT INTO" in q]
    assert [sum(q.count(f'INSERT INTO "{table}"') for q in written) for table in tables] == [1] * 4
    # On PostgreSQL in one statement, with the reference from the sequence (no round trip each).
    assert len(written) == (1 if connection.vendor == "postgresql" else 4)


@pytest.mark.django_db
def test_the_worker_expands_an_intent_once_however_often_it_is_delivered(acme) -> None:
    ann = member(acme, email="ann@acme.test")
    case = open_case(acme, ann, Severity.MAJOR)
    intent = NotificationIntent.objects.get(case=case)
    assert notifications.intent_expand(intent.pk) is True
    assert notifications.intent_expand(intent.pk) is False  # a redelivered task
    tasks.notification_expand.apply(args=(intent.pk,))
    kinds = sorted(OutboundEmail.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == [NotificationKind.ACKNOWLEDGEMENT, NotificationKind.OPENED]
    assert not NotificationIntent.objects.exists()


@pytest.mark.django_db
def test_the_emails_tell_the_severity_chosen_at_opening_even_if_expanded_later(acme) -> None:
    acme.emergency_entitlement = True
    acme.save()
    ann = member(acme, email="ann@acme.test")
    case = open_case(acme, ann, Severity.EMERGENCY)
    Case.objects.filter(pk=case.pk).update(severity=Severity.MINOR)  # before the worker runs
    notifications.intent_expand(NotificationIntent.objects.get(case=case).pk)
    opened = OutboundEmail.objects.get(case=case, kind=NotificationKind.OPENED)
    assert opened.subject.startswith(f"[{case.reference}] New Emergency case from Acme Telecom")
    assert OutboundEmail.objects.filter(case=case, kind=NotificationKind.EMERGENCY_OPENED).exists()


@pytest.mark.django_db
def test_references_can_be_reserved_in_bulk_and_are_unique(acme) -> None:
    ann = member(acme)
    first = open_case(acme, ann).reference
    taken = services.reserve_references(3)
    after = open_case(acme, ann).reference
    numbers = [int(reference[3:]) for reference in [first, *taken, after]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 5


@pytest.mark.django_db
def test_references_start_where_no_counter_row_exists_yet() -> None:
    """A database whose counter row is gone (or never made) still gives references: the row is
    made, then bumped, in the same call (SQLite; PostgreSQL takes them from its sequence)."""
    Counter.objects.all().delete()
    first, second = services.reserve_references(1), services.reserve_references(2)
    numbers = [int(reference[3:]) for reference in [*first, *second]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    assert numbers[1:] == [numbers[0] + 1, numbers[0] + 2]


@pytest.mark.django_db
def test_a_rolled_back_opening_may_leave_a_gap_but_never_a_reused_reference(acme) -> None:
    ann = member(acme)
    first = open_case(acme, ann)
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = open_case(acme, ann)
        raise RuntimeError("the request failed after the case was written")
    assert not Case.objects.filter(reference=lost.reference).exists()
    again = open_case(acme, ann)
    assert int(again.reference[3:]) > int(first.reference[3:])
    assert again.reference != first.reference


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_opening_does_not_wait_for_another_one_still_in_its_transaction() -> None:
    """The reference used to be an UPDATE of one counter row, locked until commit: every
    opening queued behind the slowest one. A sequence takes no lasting lock."""
    acme = TenantFactory(name="Acme Telecom")
    ann, bob = member(acme), member(acme)
    opened, release, done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_opening() -> None:
        try:
            with transaction.atomic():
                open_case(acme, ann)
                opened.set()
                release.wait(timeout=30)  # a slow request, still inside its transaction
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    def quick_opening() -> None:
        try:
            open_case(acme, bob)
            done.set()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    slow = threading.Thread(target=slow_opening)
    slow.start()
    assert opened.wait(timeout=30)
    quick = threading.Thread(target=quick_opening)
    quick.start()
    finished_while_the_other_was_open = done.wait(timeout=10)
    release.set()
    slow.join()
    quick.join()
    assert errors == []
    assert finished_while_the_other_was_open
    assert Case.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_opening_is_one_statement_committed_at_once_then_published(monkeypatch) -> None:
    """With nothing else to write (no file, no webhook), the case and its clock, event and
    intent are one statement, committed by itself: no BEGIN or COMMIT round trip, and the
    intent's publish follows its commit."""
    acme = TenantFactory(name="Acme Telecom")
    ann = member(acme, email="ann@acme.test")
    published = []
    monkeypatch.setattr(
        notifications, "publish", lambda name, pk: published.append((name, pk)) or True
    )
    open_case(acme, ann)  # the SLA targets and subscriptions, read once and remembered
    published.clear()
    with CaptureQueriesContext(connection) as queries:
        case = open_case(acme, ann)
    # (Reads of the SLA targets aside: this emptied database has none, so nothing to remember.)
    writes = [q["sql"].split()[0] for q in queries if not q["sql"].startswith("SELECT")]
    assert writes == ["WITH"]
    intent = NotificationIntent.objects.get(case=case)
    assert published == [(notifications.EXPAND_TASK, intent.pk)]
    assert case.events.get().kind == "opened"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_opening_a_webhook_hears_writes_its_delivery_in_the_same_transaction() -> None:
    acme = TenantFactory(name="Acme Telecom")
    ann = member(acme, email="ann@acme.test")
    WebhookSubscription.objects.create(tenant=acme, url="https://hooks.example.com/in", events="")
    open_case(acme, ann)  # the subscriptions, read once and remembered
    with CaptureQueriesContext(connection) as queries:
        case = open_case(acme, ann)
    # (Reads of the SLA targets aside: this emptied database has none, so nothing to remember.)
    # (Then the eager test broker's tasks run: expanding the intent, sending the delivery.)
    sql = [q["sql"].split()[0] for q in queries if not q["sql"].startswith("SELECT")]
    assert sql[: sql.index("COMMIT") + 1] == ["BEGIN", "WITH", "INSERT", "COMMIT"], sql
    assert WebhookDelivery.objects.filter(case_reference=case.reference).count() == 1
    assert OutboundEmail.objects.filter(case=case).exists()  # its intent, expanded after commit
