"""The portal's per-person and per-organisation limits on opening cases and uploading hold in the
widget too (issue 15), with the same counters: over a limit the widget shows the form again
inside the panel with what the person typed, the reason, a 429 with Retry-After, and nothing
written. Run on the embedded default cache (local memory) and on Redis (marker ``redis``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from helpdesk.models import Attachment, Case, CaseUpdate
from tests.factories import member, open_case
from tests.widget.conftest import HOST, directives

pytestmark = pytest.mark.django_db

REDIS_URL = django_settings.REDIS_URL  # one database per parallel test process
OWN_ORIGIN = "http://testserver"


@pytest.fixture(
    params=["locmem", pytest.param("redis", marks=pytest.mark.redis)],
)
def cache_backend(request, settings) -> Iterator[str]:
    """Each test once on local memory, once on Redis (the limits' counters are in the cache)."""
    if request.param == "locmem":
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    else:
        if not REDIS_URL:
            if os.environ.get("CI"):
                pytest.fail("CI must run with REDIS_URL set")
            pytest.skip("needs Redis (REDIS_URL=redis://...)")
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"test-widget-rate-{os.getpid()}",
            }
        }
    caches["default"].clear()
    yield request.param
    caches["default"].clear()


def log_file(name: str = "boot.log") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"reboot reason: watchdog\n")


def open_in_widget(client: Client, raw: str, subject: str = "Phones down", files=()):
    return client.post(
        f"/widget/s/{raw}/cases/new/",
        {
            "subject": subject,
            "severity": "4",
            "description": f"What happened: {subject}",
            "attachments": list(files),
        },
        HTTP_ORIGIN=OWN_ORIGIN,
    )


def reply_in_widget(client: Client, raw: str, case: Case, body: str, files=()):
    return client.post(
        f"/widget/s/{raw}/cases/{case.reference}/reply/",
        {"body": body, "attachments": list(files)},
        HTTP_ORIGIN=OWN_ORIGIN,
    )


def assert_refused_inside_the_widget(response, reason: str) -> str:
    """A 429 that says when to retry, shown in the panel (framed by the host portal)."""
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert directives(response["Content-Security-Policy"])["frame-ancestors"] == [HOST]
    page = response.content.decode()
    assert reason in page
    return page


def test_one_person_opening_too_many_cases_keeps_their_text(
    cast, client, session_for, settings, cache_backend
) -> None:
    settings.RATE_CASES_PER_PERSON_HOUR = 2
    raw = session_for(cast.ann)
    assert [open_in_widget(client, raw, f"Case {n}").status_code for n in (1, 2)] == [302, 302]

    refused = open_in_widget(client, raw, "Handsets reboot every night")
    page = assert_refused_inside_the_widget(
        refused, "You have reached the limit of 2 cases opened per hour."
    )
    # What they typed is in the form again; nothing was opened.
    assert 'value="Handsets reboot every night"' in page
    assert "What happened: Handsets reboot every night</textarea>" in page
    assert not Case.objects.filter(subject="Handsets reboot every night").exists()
    # Another organisation's person is not affected.
    assert open_in_widget(client, session_for(cast.gina), "Globex down").status_code == 302


def test_the_organisations_limit_spans_its_people_not_other_organisations(
    cast, client, session_for, settings, cache_backend
) -> None:
    settings.RATE_CASES_PER_PERSON_HOUR = 2
    settings.RATE_CASES_PER_TENANT_HOUR = 3
    bob = member(cast.acme, email="bob@acme.test")
    ann_raw, bob_raw = session_for(cast.ann), session_for(bob)
    assert open_in_widget(client, ann_raw, "Ann 1").status_code == 302
    assert open_in_widget(client, ann_raw, "Ann 2").status_code == 302
    assert open_in_widget(client, bob_raw, "Bob 1").status_code == 302  # his own allowance...
    refused = open_in_widget(client, bob_raw, "Bob 2")  # ...but Acme's is used up
    assert_refused_inside_the_widget(
        refused, "Your organisation has reached the limit of 3 cases opened per hour."
    )
    assert not Case.objects.filter(subject="Bob 2").exists()
    assert Case.objects.filter(tenant=cast.acme).count() == 3
    gina_raw = session_for(cast.gina)
    assert [open_in_widget(client, gina_raw, f"Globex {n}").status_code for n in (1, 2)] == [
        302,
        302,
    ]


def test_uploads_are_limited_per_person_on_opening_and_on_replies(
    cast, client, session_for, settings, cache_backend
) -> None:
    settings.RATE_UPLOADS_PER_PERSON_HOUR = 2
    raw = session_for(cast.ann)
    files = [log_file("a.log"), log_file("b.log"), log_file("c.log")]
    refused = open_in_widget(client, raw, "Three logs", files=files)
    assert_refused_inside_the_widget(
        refused,
        "You have reached the limit of 2 files uploaded per hour. Try again in",
    )
    assert "or send fewer files at once." in refused.content.decode()
    assert not Case.objects.filter(subject="Three logs").exists()
    assert not Attachment.objects.filter(filename="c.log").exists()

    two = [log_file("a.log"), log_file("b.log")]
    assert open_in_widget(client, raw, "Two logs", files=two).status_code == 302
    case = open_case(cast.acme, cast.ann, subject="Existing")
    refused = reply_in_widget(client, raw, case, "One more log attached", [log_file("d.log")])
    page = assert_refused_inside_the_widget(
        refused, "You have reached the limit of 2 files uploaded per hour."
    )
    assert "One more log attached</textarea>" in page  # the reply they typed is kept
    assert not CaseUpdate.objects.filter(case=case, body="One more log attached").exists()
    assert not Attachment.objects.filter(filename="d.log").exists()
    # A reply without files is no upload: it goes through.
    assert reply_in_widget(client, raw, case, "Text only").status_code == 302
    # Another organisation's person uploads as before.
    gina_raw = session_for(cast.gina)
    two = [log_file("a.log"), log_file("b.log")]
    assert open_in_widget(client, gina_raw, "Globex logs", files=two).status_code == 302


def test_uploads_are_limited_per_organisation_across_its_people(
    cast, client, session_for, settings, cache_backend
) -> None:
    settings.RATE_UPLOADS_PER_TENANT_HOUR = 3
    bob = member(cast.acme, email="bob@acme.test")
    ann_raw, bob_raw = session_for(cast.ann), session_for(bob)
    assert open_in_widget(client, ann_raw, "Ann", files=[log_file(), log_file()]).status_code == 302
    case = open_case(cast.acme, bob, subject="Bob's case")
    assert reply_in_widget(client, bob_raw, case, "Log 3", [log_file("three.log")]).status_code == (
        302
    )
    refused = reply_in_widget(client, bob_raw, case, "Log 4", [log_file("four.log")])
    assert_refused_inside_the_widget(
        refused, "Your organisation has reached the limit of 3 files uploaded per hour."
    )
    assert not Attachment.objects.filter(filename="four.log").exists()
    gina_raw = session_for(cast.gina)
    files = [log_file("g1.log"), log_file("g2.log"), log_file("g3.log")]
    assert open_in_widget(client, gina_raw, "Globex", files=files).status_code == 302


def test_portal_and_widget_draw_on_one_allowance(
    cast, client, session_for, settings, cache_backend
) -> None:
    """Same limits, same counters: the widget is not a way round the portal's limit."""
    settings.RATE_CASES_PER_PERSON_HOUR = 2
    portal = Client()
    portal.force_login(cast.ann)
    portal_form = {"subject": "From the portal", "description": "x", "severity": "4"}
    assert portal.post("/cases/new/", portal_form).status_code == 302
    raw = session_for(cast.ann)
    assert open_in_widget(client, raw, "From the widget").status_code == 302
    assert_refused_inside_the_widget(
        open_in_widget(client, raw, "One too many"), "limit of 2 cases opened per hour"
    )
    refused = portal.post("/cases/new/", portal_form)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0


def test_a_case_the_service_refuses_uses_up_no_allowance(
    cast, client, session_for, settings, cache_backend
) -> None:
    """Counted only when written: Acme has no emergency entitlement, so the service refuses
    an Emergency after the allowance was reserved, and gives it back."""
    settings.RATE_CASES_PER_PERSON_HOUR = 1
    raw = session_for(cast.ann)
    refused = client.post(
        f"/widget/s/{raw}/cases/new/",
        {"subject": "Emergency", "description": "x", "severity": "1"},
        HTTP_ORIGIN=OWN_ORIGIN,
    )
    assert refused.status_code == 400
    assert "contact your account manager" in refused.content.decode()
    assert open_in_widget(client, raw, "Counted once").status_code == 302
