import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from helpdesk import services
from helpdesk.models import CaseEvent, Channel, EventKind, Severity, Status, Visibility
from tenants.models import TenantKind
from tests.factories import TenantFactory, member, open_case, staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme():
    return TenantFactory(name="Acme")


@pytest.fixture
def ann(acme):
    return member(acme, email="ann@acme.example")


@pytest.fixture
def alice():
    return staff(email="alice@phonism.example")


def kinds(case) -> list[str]:
    return list(case.events.values_list("kind", flat=True))


def test_it_opens_a_case_with_a_reference_and_an_opened_event(acme, ann) -> None:
    case = open_case(acme, ann, Severity.MAJOR)
    assert case.reference.startswith("CS-")
    assert case.status == Status.NEW
    assert case.dispatched_at == case.created_at
    assert case.requester_email == "ann@acme.example"
    event = case.events.get()
    assert (event.kind, event.actor, event.new_value) == (EventKind.OPENED, ann, "Major")


def test_it_refuses_emergency_without_the_entitlement(acme, ann) -> None:
    with pytest.raises(ValidationError) as error:
        open_case(acme, ann, Severity.EMERGENCY)
    assert "contact your account manager" in error.value.message_dict["severity"][0]
    assert not acme.cases.exists()


def test_it_accepts_emergency_with_the_entitlement(acme, ann) -> None:
    acme.emergency_entitlement = True
    acme.save()
    assert open_case(acme, ann, Severity.EMERGENCY).severity == Severity.EMERGENCY


def test_the_portal_needs_an_explicit_severity(acme, ann) -> None:
    with pytest.raises(ValidationError) as error:
        services.case_open(
            tenant=acme, subject="s", description="d", channel=Channel.PORTAL, requester=ann
        )
    assert "severity" in error.value.message_dict


@pytest.mark.parametrize("channel", [Channel.EMAIL, Channel.PHONE, Channel.CHAT, Channel.OTHER])
def test_other_channels_default_to_minor(acme, ann, channel) -> None:
    case = services.case_open(
        tenant=acme, subject="s", description="d", channel=channel, requester=ann
    )
    assert case.severity == Severity.MINOR


def test_a_deactivated_tenant_cannot_open_cases(acme, ann, alice) -> None:
    acme.is_active = False
    acme.save()
    with pytest.raises(ValidationError) as error:
        services.case_open(
            tenant=acme,
            subject="s",
            description="d",
            channel=Channel.PHONE,
            requester_email="x@acme.example",
            opened_by=alice,
        )
    assert "deactivated" in error.value.message_dict["tenant"][0]


def test_an_agent_cannot_open_a_case_for_another_tenant(acme, ann) -> None:
    other = TenantFactory()
    with pytest.raises(PermissionDenied):
        services.case_open(
            tenant=other,
            subject="s",
            description="d",
            channel=Channel.PORTAL,
            severity=Severity.MINOR,
            requester=ann,
            opened_by=ann,
        )


def test_the_support_sides_first_public_reply_is_the_response(acme, ann, alice) -> None:
    case = open_case(acme, ann)
    services.update_add(case=case, author=ann, body="More detail: only Yealink phones.")
    services.update_add(case=case, author=alice, body="Looking at the SBC.", internal=True)
    case.refresh_from_db()
    assert case.first_response_at is None and case.status == Status.NEW

    reply = services.update_add(case=case, author=alice, body="We are on it; update in 1h.")
    assert case.first_response_at == reply.created_at
    assert case.status == Status.RESPONDED
    assert kinds(case) == [
        EventKind.OPENED,
        EventKind.UPDATE_ADDED,
        EventKind.UPDATE_ADDED,
        EventKind.UPDATE_ADDED,
        EventKind.RESPONDED,
        EventKind.STATUS_CHANGED,
    ]
    status_event = case.events.get(kind=EventKind.STATUS_CHANGED)
    assert (status_event.old_value, status_event.new_value) == ("New", "Responded")

    services.update_add(case=case, author=alice, body="Second reply")
    case.refresh_from_db()
    assert case.first_response_at == reply.created_at


def test_internal_notes_get_the_writers_visibility(acme, ann, alice) -> None:
    case = open_case(acme, ann)
    note = services.update_add(case=case, author=alice, body="SBC issue", internal=True)
    assert note.visibility == Visibility.PROVIDER_NOTE
    assert case.events.get(kind=EventKind.UPDATE_ADDED).visibility == Visibility.PROVIDER_NOTE

    reseller = TenantFactory(kind=TenantKind.RESELLER)
    sub = TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)
    rob, ivan = member(reseller), member(sub)
    sub_case = open_case(sub, ivan)
    assert (
        services.update_add(case=sub_case, author=rob, body="n", internal=True).visibility
        == Visibility.RESELLER_NOTE
    )
    services.update_add(case=sub_case, author=rob, body="Hi Ivan, we're on it.")
    sub_case.refresh_from_db()
    assert sub_case.status == Status.RESPONDED


def test_customers_cannot_write_internal_notes(acme, ann) -> None:
    case = open_case(acme, ann)
    with pytest.raises(ValidationError) as error:
        services.update_add(case=case, author=ann, body="psst", internal=True)
    assert error.value.message_dict["internal"] == [
        "Only the support side can write internal notes."
    ]


def test_outsiders_cannot_write_on_a_case(acme, ann) -> None:
    case = open_case(acme, ann)
    outsider = member(TenantFactory())
    with pytest.raises(PermissionDenied):
        services.update_add(case=case, author=outsider, body="hello")
    assert not case.updates.exists()


def test_severity_change_needs_a_reason_and_is_recorded(acme, ann) -> None:
    case = open_case(acme, ann, Severity.MODERATE)
    with pytest.raises(ValidationError):
        services.case_change_severity(case=case, actor=ann, severity=Severity.MAJOR, reason=" ")
    services.case_change_severity(
        case=case, actor=ann, severity=Severity.MAJOR, reason="Now all sites are down"
    )
    assert case.severity == Severity.MAJOR
    event = case.events.get(kind=EventKind.SEVERITY_CHANGED)
    assert (event.actor, event.old_value, event.new_value, event.reason) == (
        ann,
        "Moderate",
        "Major",
        "Now all sites are down",
    )
    with pytest.raises(ValidationError) as error:
        services.case_change_severity(
            case=case, actor=ann, severity=Severity.EMERGENCY, reason="urgent"
        )
    assert "account manager" in error.value.message_dict["severity"][0]


def test_status_follows_the_allowed_transitions(acme, ann, alice) -> None:
    case = open_case(acme, ann)
    with pytest.raises(ValidationError) as error:
        services.case_change_status(case=case, actor=alice, status=Status.IN_PROGRESS)
    assert error.value.message_dict["status"] == [
        "A case that is New cannot be moved to In progress."
    ]
    with pytest.raises(ValidationError) as error:
        services.case_change_status(case=case, actor=alice, status=Status.RESPONDED)
    assert "first public reply" in error.value.message_dict["status"][0]

    services.update_add(case=case, author=alice, body="On it")
    services.case_change_status(case=case, actor=alice, status=Status.IN_PROGRESS)
    services.case_change_status(case=case, actor=alice, status=Status.WAITING)
    services.update_add(case=case, author=ann, body="Here are the logs")
    assert case.status == Status.IN_PROGRESS  # the customer's answer hands the ball back
    services.case_change_status(case=case, actor=alice, status=Status.RESOLVED)
    assert case.resolved_at is not None
    services.case_change_status(case=case, actor=ann, status=Status.IN_PROGRESS)  # reopen
    assert case.resolved_at is None
    services.case_change_status(case=case, actor=ann, status=Status.RESOLVED)
    services.case_change_status(case=case, actor=alice, status=Status.CLOSED)
    assert case.closed_at is not None

    with pytest.raises(ValidationError) as error:
        services.case_change_status(case=case, actor=ann, status=Status.IN_PROGRESS)
    assert error.value.message_dict["status"] == ["This case is closed; closed is final."]
    with pytest.raises(ValidationError):
        services.update_add(case=case, author=ann, body="one more thing")
    transitions = list(
        CaseEvent.objects.filter(case=case, kind=EventKind.STATUS_CHANGED).values_list(
            "old_value", "new_value"
        )
    )
    assert transitions == [
        ("New", "Responded"),
        ("Responded", "In progress"),
        ("In progress", "Waiting on customer"),
        ("Waiting on customer", "In progress"),
        ("In progress", "Resolved"),
        ("Resolved", "In progress"),
        ("In progress", "Resolved"),
        ("Resolved", "Closed"),
    ]


def test_customers_may_only_resolve_and_reopen(acme, ann, alice) -> None:
    case = open_case(acme, ann)
    services.update_add(case=case, author=alice, body="On it")
    assert services.allowed_statuses(case, ann) == [Status.RESOLVED]
    with pytest.raises(ValidationError):
        services.case_change_status(case=case, actor=ann, status=Status.WAITING)


def test_assignment_goes_to_the_support_side_only(acme, ann, alice) -> None:
    case = open_case(acme, ann)
    services.case_assign(case=case, actor=alice, assignee=alice)
    assert case.assignee == alice
    assert case.events.get(kind=EventKind.ASSIGNED).new_value == alice.email
    with pytest.raises(ValidationError):
        services.case_assign(case=case, actor=alice, assignee=ann)
    with pytest.raises(PermissionDenied):
        services.case_assign(case=case, actor=ann, assignee=alice)
