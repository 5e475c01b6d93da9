"""Issue 11, point 6 (and point 2 with frozen time): the words shown with a clock. Outside the
target's support hours a clock says it is paused and when it resumes; round-the-clock targets
say so; an Emergency says on-call was paged; every time carries its zone (portal, admin,
email). Frozen in standard time, in both daylight-saving change weeks, and on a weekday night.
"""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from helpdesk import services
from helpdesk.emails import build_message
from helpdesk.models import Case, NotificationKind, OutboundEmail, Severity
from sla import sweep as sweeping
from sla.models import ResponseClock, SlaEvent, SlaEventKind, SlaState
from sla.selectors import sla_status
from tenants.models import Tenant
from tests.conftest import sign_in
from tests.factories import open_case
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db


def opened(demo, when, severity=Severity.CRITICAL, person="ann") -> Case:
    tenant = Tenant.objects.get(slug="globex" if person == "gina" else "acme")
    return open_case(tenant, demo[person], severity, at=when)


@pytest.mark.parametrize(
    ("dispatched", "looked", "words"),
    [
        # A weekday evening: due the next morning, not "30 min left".
        (
            ny(2026, 3, 10, 19, 14),
            ny(2026, 3, 10, 19, 15),
            "Paused until Wed 09:00 EDT · due Wed 09:30 EDT",
        ),
        # Winter (EST): the contract's own example.
        (
            ny(2026, 1, 9, 16, 50),
            ny(2026, 1, 9, 17, 5),
            "Paused until Mon 09:00 EST · due Mon 09:20 EST",
        ),
        # Spring forward over the weekend: Friday is EST, Monday EDT.
        (
            ny(2026, 3, 6, 16, 50),
            ny(2026, 3, 7, 12, 0),
            "Paused until Mon 09:00 EDT · due Mon 09:20 EDT",
        ),
        # Fall back over the weekend: Friday is EDT, Monday EST.
        (
            ny(2026, 10, 30, 16, 50),
            ny(2026, 11, 1, 1, 30),
            "Paused until Mon 09:00 EST · due Mon 09:20 EST",
        ),
    ],
)
def test_outside_support_hours_the_clock_says_paused_and_when_it_resumes(
    demo, dispatched, looked, words
) -> None:
    case = opened(demo, dispatched)
    status = sla_status(case, looked)
    assert status.state == SlaState.ON_TRACK
    assert status.time_left == words
    client = Client()
    sign_in(client, demo["ann"])
    with time_machine.travel(looked, tick=False):
        page = client.get(reverse("case-detail", args=[case.reference])).content.decode()
        listing = client.get(reverse("case-list"), {"q": case.reference}).content.decode()
    assert words in page and words in listing
    assert "Only support hours count towards the target" in page
    assert "on-call" not in page


def test_in_support_hours_the_clock_runs_and_shows_its_due_time_with_zone(demo) -> None:
    case = opened(demo, ny(2026, 3, 9, 10, 0))
    status = sla_status(case, ny(2026, 3, 9, 10, 10))
    assert status.paused_until is None and status.time_left == "20 min left"
    client = Client()
    sign_in(client, demo["ann"])
    with time_machine.travel(ny(2026, 3, 9, 10, 10), tick=False):
        listing = client.get(reverse("case-list"), {"q": case.reference}).content.decode()
    assert "20 min left · due Mon 10:30 EDT" in listing


def test_an_emergency_says_round_the_clock_and_that_on_call_was_paged(demo) -> None:
    # Sunday night in the fall-back week: round the clock never pauses.
    case = opened(demo, ny(2026, 11, 1, 23, 0), Severity.EMERGENCY, person="gina")
    status = sla_status(case, ny(2026, 11, 1, 23, 4))
    assert status.round_the_clock and status.paused_until is None
    assert status.time_left == "6 min left"
    client = Client()
    sign_in(client, demo["gina"])
    with time_machine.travel(ny(2026, 11, 1, 23, 4), tick=False):
        page = client.get(reverse("case-detail", args=[case.reference])).content.decode()
    assert "Round the clock" in page
    assert "on-call engineer was paged" in page
    assert "Only support hours" not in page
    assert "Nov 1, 2026 23:10 EST" in page  # due, in the calendar's zone


def test_admin_times_carry_their_zone(demo, client) -> None:
    case = opened(demo, ny(2026, 3, 9, 10, 0))
    sign_in(client, demo["alice"])
    with time_machine.travel(ny(2026, 3, 9, 10, 5), tick=False):
        change = client.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()
        listing = client.get(reverse("admin:helpdesk_case_changelist")).content.decode()
    assert "10:30 a.m. EDT" in change  # response due, read-only field
    assert "10 a.m. EDT" in change  # created / dispatched
    assert "due Mon 10:30 EDT" in listing


def test_the_opened_email_gives_the_due_time_with_its_zone(
    demo, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the worker expands the intent
        case = opened(demo, ny(2026, 3, 9, 10, 0))
    row = OutboundEmail.objects.get(case=case, kind=NotificationKind.OPENED)
    message = build_message(row)
    assert "Mon Mar 9, 2026 10:30 EDT" in message.body
    assert "Mon Mar 9, 2026 10:30 EDT" in message.alternatives[0][0]


def test_a_late_answer_before_any_sweep_still_counts_one_breach_at_the_due_instant(demo) -> None:
    """Spring-forward Monday: due 09:20 EDT, answered 09:40 before any sweep ran; two sweeps
    after that record one breach, dated 09:20, and email nobody about it."""
    case = opened(demo, ny(2026, 3, 6, 16, 50))
    with time_machine.travel(ny(2026, 3, 9, 9, 40), tick=False):
        services.update_add(case=case, author=demo["alice"], body="Sorry for the wait.")
    sweeping.sweep(now=ny(2026, 3, 9, 9, 41))
    sweeping.sweep(now=ny(2026, 3, 9, 9, 42))
    breach = SlaEvent.objects.get(case=case)
    assert breach.kind == SlaEventKind.BREACHED
    assert (
        breach.occurred_at == ny(2026, 3, 9, 9, 20) == ResponseClock.objects.get(case=case).due_at
    )
    assert not OutboundEmail.objects.filter(case=case, kind=NotificationKind.BREACHED).exists()
    assert sla_status(case, ny(2026, 3, 9, 10)).state == SlaState.MISSED
