"""What every support-side case page reads and that changes rarely is remembered per process
(issue 10): the team's canned replies and the device a staff session was verified with. A
visit reads neither from the database, and any change to them reaches the next page at once.

Committed (transactional) tests: the memory is only kept across transactions, as in
production."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from helpdesk.canned import CANNED_REPLIES
from helpdesk.models import CannedReply, Case, Status, Tier
from tenants.memo import StampedMemo
from tenants.models import Tenant, TenantKind
from tests.conftest import sign_in
from tests.factories import staff
from twofactor.devices import DEVICES

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _memos_on(settings) -> None:
    settings.PEOPLE_MEMO = True


def canned_options(page: str) -> list[str]:
    select = re.search(r'<select name="[^"]*canned".*?</select>', page, re.S)
    assert select is not None, "no canned-reply picker on the page"
    return re.findall(r"<option value=\"\d+\"[^>]*>([^<]*)</option>", select.group(0))


def queries_of(queries: CaptureQueriesContext, table: str) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if f'FROM "{table}"' in q["sql"]]


def admin_case_url(demo) -> str:
    case = Case.objects.filter(tenant__slug="acme").order_by("id").first()
    return reverse("admin:helpdesk_case_change", args=[case.pk])


def test_the_admin_case_page_offers_the_teams_canned_replies_without_a_query(client, demo):
    provider = Tenant.objects.get(kind=TenantKind.PROVIDER)
    url = admin_case_url(demo)
    sign_in(client, demo["alice"])
    seeded = sorted(CannedReply.objects.filter(team=provider).values_list("title", flat=True))
    assert canned_options(client.get(url).content.decode()) == seeded

    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    assert canned_options(page) == seeded
    assert queries_of(queries, "helpdesk_cannedreply") == []

    # Written, renamed, deleted: the next page shows each change.
    added = CannedReply.objects.create(team=provider, title="Aaa first", body="Hello {reference}")
    assert canned_options(client.get(url).content.decode())[0] == "Aaa first"
    added.title = "Zzz last"
    added.save()
    assert canned_options(client.get(url).content.decode())[-1] == "Zzz last"
    added.delete()
    assert canned_options(client.get(url).content.decode()) == seeded


def test_each_team_is_offered_its_own_replies_from_memory(client, demo) -> None:
    """Remembered per team: a reseller's agent, after the provider's staff filled the memory,
    is offered the reseller's replies only (and the other way round)."""
    provider = Tenant.objects.get(kind=TenantKind.PROVIDER)
    voicehub = Tenant.objects.get(slug="voicehub")
    CannedReply.objects.create(team=provider, title="PROVIDER ONLY", body="x")
    CannedReply.objects.create(team=voicehub, title="VOICEHUB ONLY", body="y")
    initech_case = Case.objects.filter(tenant__slug="initech", status=Status.NEW).first()
    assert initech_case is not None

    sign_in(client, demo["alice"])
    staff_page = client.get(admin_case_url(demo)).content.decode()
    client.logout()
    sign_in(client, demo["rob"])  # VoiceHub's agent, on its customer's case
    reseller_page = client.get(reverse("case-detail", args=[initech_case.reference]))
    options = canned_options(reseller_page.content.decode())
    assert "VOICEHUB ONLY" in options and "PROVIDER ONLY" not in options
    assert "PROVIDER ONLY" in canned_options(staff_page)
    assert "VOICEHUB ONLY" not in canned_options(staff_page)


def test_a_submitted_canned_reply_is_checked_against_the_database(client, demo) -> None:
    """The options come from memory; what is chosen is still checked by the access policy's
    query: another team's reply is no choice, even when submitted by id."""
    voicehub = Tenant.objects.get(slug="voicehub")
    theirs = CannedReply.objects.create(team=voicehub, title="Theirs", body="THEIRS-ONLY")
    case = Case.objects.filter(tenant__slug="acme", tier=Tier.ONE).order_by("id").first()
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    sign_in(client, demo["alice"])
    page = client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(
        url,
        {
            "csrfmiddlewaretoken": token,
            "severity": case.severity,
            "status": case.status,
            "assignee": "",
            "reason": "",
            "updates-2-TOTAL_FORMS": "1",
            "updates-2-INITIAL_FORMS": "0",
            "updates-2-MIN_NUM_FORMS": "0",
            "updates-2-MAX_NUM_FORMS": "1",
            "updates-2-0-body": "",
            "updates-2-0-canned": str(theirs.pk),
            "updates-2-0-kind": "public",
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert "Select a valid choice" in response.content.decode()
    assert not case.updates.filter(body__contains="THEIRS-ONLY").exists()


def test_another_process_reads_the_replies_again_after_a_change(demo) -> None:
    other = StampedMemo(CANNED_REPLIES.name)
    loads: list[int] = []
    other.get("team", lambda: loads.append(1))
    other.get("team", lambda: loads.append(1))
    provider = Tenant.objects.get(kind=TenantKind.PROVIDER)
    CannedReply.objects.create(team=provider, title="New", body="x")
    other.get("team", lambda: loads.append(1))
    assert len(loads) == 2


def test_a_verified_staff_session_reads_its_device_from_memory(client, demo) -> None:
    url = admin_case_url(demo)
    sign_in(client, demo["alice"])
    assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert queries_of(queries, "otp_totp_totpdevice") == []


def test_a_removed_or_reassigned_device_no_longer_verifies_the_session(client, demo) -> None:
    """Staff whose authenticator app is removed (a lost phone) are asked for their second
    factor again on their very next page, as without the memory; so are they when the device
    is given to someone else."""
    url = admin_case_url(demo)
    sign_in(client, demo["alice"])
    assert client.get(url).status_code == 200
    device = TOTPDevice.objects.get(user=demo["alice"], confirmed=True)
    device.user = demo["bob"]
    device.save()
    response = client.get(url)
    assert response.status_code == 302 and "/two-factor/" in response["Location"]

    sign_in(client, demo["alice"])  # a new app, a verified session again
    assert client.get(url).status_code == 200
    TOTPDevice.objects.filter(user=demo["alice"]).delete()
    response = client.get(url)
    assert response.status_code == 302 and "/two-factor/" in response["Location"]


def test_another_process_reads_the_devices_again_after_a_change(demo) -> None:
    other = StampedMemo(DEVICES.name)
    loads: list[int] = []
    other.get("otp_totp.totpdevice/1", lambda: loads.append(1))
    other.get("otp_totp.totpdevice/1", lambda: loads.append(1))
    TOTPDevice.objects.create(user=demo["alice"], name="Another app", confirmed=True)
    other.get("otp_totp.totpdevice/1", lambda: loads.append(1))
    assert len(loads) == 2


def test_the_object_tools_link_the_history_with_the_lists_filters(client, demo) -> None:
    case = Case.objects.filter(tenant__slug="acme", tier=Tier.ONE).order_by("id").first()
    sign_in(client, demo["alice"])
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    page = client.get(f"{url}?_changelist_filters=status%3Dnew").content.decode()
    history = reverse("admin:helpdesk_case_history", args=[case.pk])
    assert f'href="{history}?_changelist_filters=status%3Dnew" class="historylink"' in page
    assert 'class="viewsitelink"' in page
    assert "Hand back to tier one" not in page  # a tier-one case: nothing to hand back

    escalated = Case.objects.filter(tier=Tier.TWO).order_by("id").first()
    assert escalated is not None, "the demo world has an escalated case"
    page = client.get(reverse("admin:helpdesk_case_change", args=[escalated.pk])).content.decode()
    hand_back = reverse("admin:helpdesk_case_hand_back", args=[escalated.pk])
    assert f'<a href="{hand_back}">Hand back to tier one</a>' in page


def test_the_form_follows_a_persons_permissions_as_they_change(client, demo) -> None:
    """The change form's and the reply formset's classes are built once per person: a right
    given or taken away shows on the next page (and another person's rights never do)."""
    viewer = staff(email="viewer@phonism.test")
    view, change = (
        Permission.objects.get(content_type__app_label="helpdesk", codename=f"{action}_case")
        for action in ("view", "change")
    )
    viewer.user_permissions.add(view)
    url = admin_case_url(demo)
    sign_in(client, demo["alice"])  # who may change cases: her class is built first
    assert '<select name="severity"' in client.get(url).content.decode()

    sign_in(client, viewer)
    response = client.get(url)
    # Staff who may only view cases read the page with nothing to change (it was a 500).
    assert response.status_code == 200
    page = response.content.decode()
    assert '<select name="severity"' not in page and "updates-2-0-body" not in page
    assert "Times" in page and 'class="historylink"' in page
    viewer.user_permissions.add(change)
    page = client.get(url).content.decode()
    assert '<select name="severity"' in page
    viewer.user_permissions.remove(change)
    assert '<select name="severity"' not in client.get(url).content.decode()


def test_the_timeline_names_its_people_from_memory_and_follows_a_rename(client, demo) -> None:
    """The timeline's and the files' people are named from memory (no join of every row to
    its person, no query once remembered); a renamed person shows renamed at once."""
    case = Case.objects.filter(tenant__slug="acme").order_by("id").first()
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    sign_in(client, demo["alice"])
    client.post(
        url,
        {
            "severity": case.severity,
            "status": case.status,
            "assignee": demo["alice"].pk,
            "reason": "",
            "updates-2-0-body": "",
            "updates-2-0-kind": "public",
        },
    )
    page = client.get(url).content.decode()
    timeline = page[page.index('id="events-group"') :]
    assert "Alice Agent" in timeline  # who assigned the case
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    joined = [q for q in queries_of(queries, "helpdesk_caseevent") if "tenants_user" in q]
    assert joined == [] and queries_of(queries, "tenants_user") == []

    alice = demo["alice"]
    alice.first_name = "Alicia"
    alice.save()
    timeline = client.get(url).content.decode().split('id="events-group"')[1]
    assert "Alicia Agent" in timeline and "Alice Agent" not in timeline
