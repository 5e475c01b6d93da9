"""Per-person and per-organisation limits on opening cases and uploading (issue 15): a clear
429 with the reason, on the cache the deployment has (local memory by default; Redis in
production, tested with the marker ``redis``)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from helpdesk.models import Case
from tests.factories import TenantFactory, member, open_case

pytestmark = pytest.mark.django_db

REDIS_URL = django_settings.REDIS_URL  # one database per parallel test process


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def open_one(client: Client, subject: str = "Phones down", files=()):
    return client.post(
        reverse("case-new"),
        {"subject": subject, "description": "x", "severity": "4", "attachments": list(files)},
    )


def text(name: str = "a.log") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"a line of log\n")


def exercise_case_limits(settings) -> None:
    settings.RATE_CASES_PER_PERSON_HOUR = 2
    settings.RATE_CASES_PER_TENANT_HOUR = 3
    acme = TenantFactory()
    ann, bob = signed_in(member(acme)), signed_in(member(acme))
    assert [open_one(ann).status_code for _ in range(2)] == [302, 302]
    refused = open_one(ann, subject="One too many")
    assert refused.status_code == 429
    assert "You have reached the limit of 2 cases opened per hour." in refused.content.decode()
    assert not Case.objects.filter(subject="One too many").exists()
    assert open_one(bob).status_code == 302  # Bob has his own allowance...
    refused = open_one(bob)  # ...but the organisation's is used up
    assert refused.status_code == 429
    assert "Your organisation has reached the limit of 3" in refused.content.decode()
    other = signed_in(member(TenantFactory()))
    assert open_one(other).status_code == 302  # another organisation is not affected


def test_opening_cases_is_limited_per_person_and_per_organisation(settings) -> None:
    exercise_case_limits(settings)


@pytest.mark.redis
def test_the_limits_hold_on_redis(settings) -> None:
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must run with REDIS_URL set")
        pytest.skip("needs Redis (REDIS_URL=redis://...)")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": f"test-rate-{os.getpid()}",
        }
    }
    caches["default"].clear()
    try:
        exercise_case_limits(settings)
    finally:
        caches["default"].clear()


def test_a_refused_form_uses_up_no_allowance(settings) -> None:
    settings.RATE_CASES_PER_PERSON_HOUR = 1
    acme = TenantFactory()
    ann = signed_in(member(acme))
    bad = ann.post(reverse("case-new"), {"subject": "", "description": "", "severity": "4"})
    assert bad.status_code == 200 and "This field is required." in bad.content.decode()
    assert open_one(ann).status_code == 302


def test_uploads_are_limited_with_a_reason_on_the_form(settings) -> None:
    settings.RATE_UPLOADS_PER_PERSON_HOUR = 2
    acme = TenantFactory()
    ann_user = member(acme)
    ann = signed_in(ann_user)
    assert open_one(ann, files=[text(), text("b.log")]).status_code == 302
    case = open_case(acme, ann_user)
    response = ann.post(
        reverse("case-comment", args=[case.reference]), {"body": "more", "attachments": [text()]}
    )
    assert response.status_code == 429
    page = response.content.decode()
    assert "You have reached the limit of 2 files uploaded per hour" in page
    assert not case.updates.filter(body="more").exists()
    # A comment without files is no upload: it still goes through.
    response = ann.post(reverse("case-comment", args=[case.reference]), {"body": "text only"})
    assert response.status_code == 302
