"""Issue 11, point 1: the clock each demo person sees, in lists, filters and sorts, at every stage
of an escalated case's life (opened, escalated, provider answered, reseller answered, handed
back, re-escalated). Time is frozen in the first week of daylight saving time (Mon 9 Mar 2026).

The demo plans give a Major one hour of standard hours on both tiers. Case A is Ivan's Major,
opened Mon 09:00 EDT (tier one due 10:00, at risk from 09:45); case B, the control, is his
Major opened 09:10 (due 10:10) and never escalated. Rob escalates A at 09:20 (provider due
10:20), Alice answers him at 09:55, Rob answers Ivan at 10:10 (late), Alice hands back at 10:30,
Rob escalates again at 11:00 (a new provider clock, due 12:00, at risk from 11:45).

Who sees what (SPEC §5): Ivan tier one's clock; Rob and Rita tier one's, then the provider's;
Alice and Sam the case's current clock, and either one on request.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from helpdesk import services
from helpdesk.admin import CaseAdmin
from helpdesk.models import Case, Severity
from sla.models import SlaState
from tenants.models import Tenant
from tests.conftest import sign_in
from tests.factories import open_case
from tests.sla.helpers import ny

pytestmark = pytest.mark.django_db

ON, RISK, BREACHED, MET, MISSED = (
    SlaState.ON_TRACK,
    SlaState.AT_RISK,
    SlaState.BREACHED,
    SlaState.MET,
    SlaState.MISSED,
)

# stage → (when we look, {person: the states of the clocks they see on case A, in order}, the
# due time shown for Ivan's running clock, whether Alice's current clock sorts A before B)
STAGES = {
    "opened": (ny(2026, 3, 9, 9, 12), ON, ON, ON, True),
    "escalated": (ny(2026, 3, 9, 9, 50), RISK, ON, ON, False),
    "provider answered": (ny(2026, 3, 9, 10, 5), BREACHED, MET, MET, False),
    "reseller answered": (ny(2026, 3, 9, 10, 15), MISSED, MET, MET, False),
    "handed back": (ny(2026, 3, 9, 10, 35), MISSED, MET, MISSED, True),
    "re-escalated": (ny(2026, 3, 9, 11, 50), MISSED, RISK, RISK, False),
}
ESCALATED = {"escalated", "provider answered", "reseller answered", "handed back", "re-escalated"}


def play(demo, until: str) -> tuple[Case, Case]:
    """Case A through its life up to the stage ``until``, and the control case B."""
    initech = Tenant.objects.get(slug="initech")
    ivan, rob, alice = demo["ivan"], demo["rob"], demo["alice"]
    with time_machine.travel(ny(2026, 3, 9, 9, 0), tick=False):
        a = open_case(initech, ivan, Severity.MAJOR, subject="Zebra phones down")
    with time_machine.travel(ny(2026, 3, 9, 9, 10), tick=False):
        b = open_case(initech, ivan, Severity.MAJOR, subject="Zebra fax down")
    steps = [
        ("escalated", (9, 20), lambda: services.case_escalate(case=a, actor=rob, note="Look")),
        (
            "provider answered",
            (9, 55),
            lambda: services.update_add(case=a, author=alice, body="Seen", escalation=True),
        ),
        ("reseller answered", (10, 10), lambda: services.update_add(case=a, author=rob, body="Hi")),
        (
            "handed back",
            (10, 30),
            lambda: services.case_hand_back(case=a, actor=alice, note="Yours"),
        ),
        ("re-escalated", (11, 0), lambda: services.case_escalate(case=a, actor=rob, note="Again")),
    ]
    for name, (hour, minute), step in steps:
        if list(STAGES).index(name) > list(STAGES).index(until):
            break
        with time_machine.travel(ny(2026, 3, 9, hour, minute), tick=False):
            step()
    a.refresh_from_db()
    return a, b


def seen(demo, person: str, stage: str) -> list[SlaState]:
    _, ivan_sees, provider_sees, current, _ = STAGES[stage]
    if person == "ivan":
        return [ivan_sees]
    if person in ("rob", "rita"):
        return [ivan_sees, provider_sees] if stage in ESCALATED else [ivan_sees]
    return [current]


def row_text(html: str, reference: str) -> str:
    for row in html.split("<tr")[1:]:
        if f">{reference}<" in row:
            return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.split("</tr>")[0]))
    raise AssertionError(f"{reference} not listed")


def listed(client: Client, url: str, **params) -> str:
    response = client.get(url, {"q": "Zebra", **params})
    assert response.status_code == 200
    return response.content.decode()


def shows_in_order(text: str, words: list[str]) -> bool:
    at = 0
    for word in words:
        found = text.find(word, at)
        if found < 0:
            return False
        at = found + len(word)
    return True


@pytest.mark.parametrize("stage", list(STAGES))
@pytest.mark.parametrize("person", ["ivan", "rob", "rita", "alice", "sam"])
def test_each_person_sees_their_sides_clock_in_lists_filters_and_sorts(demo, person, stage):
    a, b = play(demo, stage)
    now: datetime = STAGES[stage][0]
    expected = seen(demo, person, stage)
    client = Client()
    sign_in(client, demo[person])
    pages = [reverse("case-list")]
    if person in ("rob", "rita"):
        pages.append(reverse("tier-one-queue"))
    with time_machine.travel(now, tick=False):
        for page in pages:
            text = row_text(listed(client, page), a.reference)
            labels = [state.label for state in expected]
            if len(expected) == 2:
                labels = [labels[0], "Provider:", labels[1]]
            assert shows_in_order(text, labels), (page, text)
            if person == "ivan":
                # Only ever his own clock: the provider's due times never appear.
                assert "10:20" not in text and "12:00" not in text and "Provider" not in text
                if expected[0] in (ON, RISK):
                    assert "due Mon 10:00 EDT" in text
            # The SLA filter files the case under the state of the viewer's (first) clock.
            for state in SlaState:
                html = listed(client, page, sla=state.value)
                assert (f">{a.reference}<" in html) == (state == expected[0]), (page, state)
            # "Due soonest" sorts on the viewer's clock: Ivan's and the reseller's tier one (A's
            # 10:00 before B's 10:10), provider staff the current one.
            html = listed(client, page, sort="due")
            a_first = html.index(f">{a.reference}<") < html.index(f">{b.reference}<")
            assert a_first == (person not in ("alice", "sam") or STAGES[stage][4]), page


@pytest.mark.parametrize("stage", list(STAGES))
def test_provider_staff_filter_and_sort_on_either_clock_in_portal_and_admin(demo, stage):
    a, _ = play(demo, stage)
    now, tier_one, provider, current, a_first = STAGES[stage]
    client = Client()
    sign_in(client, demo["alice"])
    admin_url = reverse("admin:helpdesk_case_changelist")
    # The admin's "o" counts the action checkbox column first.
    sla_column = str(CaseAdmin.list_display.index("sla") + 1)
    with time_machine.travel(now, tick=False):
        text = row_text(listed(client, admin_url), a.reference)
        assert current.label in text and "EDT" in text  # times in the admin carry their zone
        for state in SlaState:
            for clock, wanted in (("", current), ("1", tier_one), ("2", provider)):
                if clock == "2" and stage not in ESCALATED:
                    wanted = None  # no provider clock yet: no state
                shown_in = []
                for url, key in ((admin_url, "sla_clock"), (reverse("case-list"), "clock")):
                    params = {"sla": state.value, key: clock} if clock else {"sla": state.value}
                    shown_in.append(f">{a.reference}<" in listed(client, url, **params))
                assert shown_in == [state == wanted] * 2, (state, clock, shown_in)
        html = listed(client, admin_url, o=sla_column)
        b_ref = Case.objects.get(subject="Zebra fax down").reference
        assert (html.index(f">{a.reference}<") < html.index(f">{b_ref}<")) == a_first
