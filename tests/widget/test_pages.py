"""The widget's pages: the organisation's cases, a new case, a case and its reply box, through
the portal's services and access policy; framed only by the tenant's allowed origins."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from helpdesk.models import Case, Channel, Severity
from helpdesk.services import update_add
from sla.selectors import sla_status
from tenants.models import Brand
from tests.factories import open_case, staff
from tests.widget.conftest import HOST, RESELLER_HOST, directives
from widget import services
from widget.models import WidgetSession

pytestmark = pytest.mark.django_db


def test_the_whole_site_denies_framing_but_widget_pages(cast, client, session_for) -> None:
    client.force_login(cast.ann)
    portal = client.get("/cases/")
    assert portal["X-Frame-Options"] == "DENY"
    page = client.get(f"/widget/s/{session_for(cast.ann)}/cases/")
    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert directives(page["Content-Security-Policy"])["frame-ancestors"] == [HOST]
    assert page["Referrer-Policy"] == "same-origin"


def test_a_sub_customer_is_framed_by_its_resellers_portal(cast, client, session_for) -> None:
    page = client.get(f"/widget/s/{session_for(cast.ivan, RESELLER_HOST)}/cases/")
    assert directives(page["Content-Security-Policy"])["frame-ancestors"] == [RESELLER_HOST]
    assert HOST not in page["Content-Security-Policy"]


def test_no_allowed_origin_means_nobody_frames_it(cast, client, session_for) -> None:
    raw = session_for(cast.ann)
    services.settings_update(tenant=cast.acme, actor=None, origins=[], create_agents=False)
    page = client.get(f"/widget/s/{raw}/cases/")
    assert directives(page["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]


def test_it_lists_the_organisations_cases_with_tier_ones_clock(cast, client, session_for):
    mine = open_case(cast.acme, cast.ann, subject="Acme phones down")
    open_case(cast.globex, cast.gina, subject="Globex secret")
    page = client.get(f"/widget/s/{session_for(cast.ann)}/cases/").content.decode()
    assert mine.reference in page and "Acme phones down" in page
    assert "Globex secret" not in page
    expected = sla_status(mine, timezone.now(), tier=1)
    assert f'<span class="sla sla-{expected.state}"' in page
    assert f'<span class="badge">{expected.label}</span>' in page


def test_the_requesting_side_sees_tier_ones_clock_on_an_escalated_case(
    cast, client, session_for
) -> None:
    case = open_case(cast.initech, cast.ivan, severity=Severity.MINOR)
    update_add(case=case, author=cast.rob, body="Looking into it.")  # tier one responded
    Case.objects.filter(pk=case.pk).update(tier=2)
    page = client.get(f"/widget/s/{session_for(cast.ivan, RESELLER_HOST)}/cases/").content.decode()
    assert "Met" in page


def test_an_agent_opens_a_case_with_an_attachment(cast, client, session_for) -> None:
    raw = session_for(cast.ann)
    response = client.post(
        f"/widget/s/{raw}/cases/new/",
        {
            "subject": "Handsets reboot",
            "severity": "4",
            "description": "Every night at 2am.",
            "attachments": SimpleUploadedFile("boot.log", b"reboot reason: watchdog"),
        },
        HTTP_ORIGIN="http://testserver",
    )
    case = Case.objects.get(subject="Handsets reboot")
    assert response.status_code == 302
    assert response["Location"] == f"/widget/s/{raw}/cases/{case.reference}/?notice=opened"
    assert (case.tenant, case.requester, case.channel, case.severity) == (
        cast.acme,
        cast.ann,
        Channel.WIDGET,
        Severity.MODERATE,
    )
    page = client.get(response["Location"]).content.decode()
    assert "is open" in page and "boot.log" in page
    download = client.get(f"/widget/s/{raw}/attachments/{case.attachments.get().pk}/")
    assert b"".join(download.streaming_content) == b"reboot reason: watchdog"


def test_there_is_no_silent_default_severity(cast, client, session_for) -> None:
    raw = session_for(cast.ann)
    page = client.get(f"/widget/s/{raw}/cases/new/").content.decode()
    assert "checked" not in page
    assert "Resolution effort" in page  # the contract's guide
    response = client.post(f"/widget/s/{raw}/cases/new/", {"subject": "x", "description": "y"})
    assert response.status_code == 400
    assert "Choose the severity that fits the issue." in response.content.decode()
    assert not Case.objects.exists()


def test_emergency_needs_the_entitlement(cast, client, session_for) -> None:
    raw = session_for(cast.ann)
    response = client.post(
        f"/widget/s/{raw}/cases/new/", {"subject": "x", "description": "y", "severity": "1"}
    )
    assert response.status_code == 400
    assert "contact your account manager" in response.content.decode()
    assert not Case.objects.exists()


def test_an_agent_replies_and_sees_public_updates_only(cast, client, session_for) -> None:
    case = open_case(cast.acme, cast.ann)
    alice = staff(email="alice@phonism.test")
    update_add(
        case=case,
        author=alice,
        body="Public answer",
        attachments=[SimpleUploadedFile("fix.txt", b"apply this")],
    )
    update_add(
        case=case,
        author=alice,
        body="Provider secret note",
        internal=True,
        attachments=[SimpleUploadedFile("secret.txt", b"internal")],
    )
    raw = session_for(cast.ann)
    page = client.get(f"/widget/s/{raw}/cases/{case.reference}/").content.decode()
    assert "Public answer" in page and "Provider secret note" not in page
    # A reply's file shows under it; an internal note's file nowhere.
    assert page.index("Public answer") < page.index("fix.txt") and "secret.txt" not in page
    response = client.post(f"/widget/s/{raw}/cases/{case.reference}/reply/", {"body": "Thanks!"})
    assert response.status_code == 302
    assert case.updates.filter(author=cast.ann, body="Thanks!", visibility="public").exists()


def test_another_tenants_case_and_attachment_are_not_found(cast, client, session_for) -> None:
    theirs = open_case(cast.globex, cast.gina, attachments=[SimpleUploadedFile("g.txt", b"globex")])
    raw = session_for(cast.ann)
    assert client.get(f"/widget/s/{raw}/cases/{theirs.reference}/").status_code == 404
    assert (
        client.post(f"/widget/s/{raw}/cases/{theirs.reference}/reply/", {"body": "hi"}).status_code
        == 404
    )
    attachment = theirs.attachments.get().pk
    assert client.get(f"/widget/s/{raw}/attachments/{attachment}/").status_code == 404
    assert not theirs.updates.exists()


def test_a_resellers_agent_sees_only_its_own_organisations_cases(cast, client, session_for):
    # In the portal Rob works Initech's cases; the widget is the requesting side's surface.
    initech_case = open_case(cast.initech, cast.ivan)
    raw = session_for(cast.rob, RESELLER_HOST)
    assert initech_case.reference not in client.get(f"/widget/s/{raw}/cases/").content.decode()
    assert client.get(f"/widget/s/{raw}/cases/{initech_case.reference}/").status_code == 404


def test_an_unknown_or_expired_session_opens_nothing(cast, client, session_for) -> None:
    assert client.get("/widget/s/made-up/cases/").status_code == 401
    raw = session_for(cast.ann)
    WidgetSession.objects.update(expires_at=timezone.now())
    response = client.get(f"/widget/s/{raw}/cases/")
    assert response.status_code == 401
    assert "has ended" in response.content.decode()


@pytest.mark.parametrize(
    "end",
    ["revoke key", "deactivate user", "deactivate tenant", "move user"],
)
def test_a_session_ends_with_its_key_user_or_tenant(cast, client, session_for, end) -> None:
    raw = session_for(cast.ann)
    if end == "revoke key":
        services.key_revoke(key=cast.acme_key, actor=None)
    elif end == "deactivate user":
        type(cast.ann).objects.filter(pk=cast.ann.pk).update(is_active=False)
    elif end == "deactivate tenant":
        type(cast.acme).objects.filter(pk=cast.acme.pk).update(is_active=False)
    else:
        cast.ann.membership.tenant = cast.globex
        cast.ann.membership.save()
    assert client.get(f"/widget/s/{raw}/cases/").status_code == 401


def test_a_post_from_another_origin_is_refused(cast, client, session_for) -> None:
    raw = session_for(cast.ann)
    response = client.post(
        f"/widget/s/{raw}/cases/new/",
        {"subject": "x", "description": "y", "severity": "4"},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_the_session_token_is_not_a_cookie_and_needs_none(cast, client, session_for) -> None:
    raw = session_for(cast.ann)
    client.cookies.clear()
    response = client.get(f"/widget/s/{raw}/cases/")
    assert response.status_code == 200
    assert not response.cookies


def test_a_sub_customer_never_sees_phonism(cast, client, session_for) -> None:
    Brand.objects.update_or_create(
        tenant=cast.voicehub, defaults={"name": "VoiceHub", "support_email": "s@voicehub.test"}
    )
    case = open_case(cast.initech, cast.ivan)
    raw = session_for(cast.ivan, RESELLER_HOST)
    for url in ("cases/", "cases/new/", f"cases/{case.reference}/"):
        page = client.get(f"/widget/s/{raw}/{url}").content.decode()
        assert "VoiceHub support" in page
        assert "phonism" not in page.lower()


def test_the_snippet_is_small_and_served_by_the_helpdesk(client) -> None:
    response = client.get("/widget/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert len(response.content) < 15 * 1024
    body = response.content.decode()
    assert "event.origin !== origin" in body  # only the helpdesk's messages are heard
