"""A sub-customer never sees the word Phonism (SPEC §1, §8): every portal page Ivan of Initech
(VoiceHub's customer) can reach, found by following links from the home page, plus the error
pages, the forms with errors, and the pages of a visitor on VoiceHub's host name."""

from __future__ import annotations

import html
import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from helpdesk.models import Case, Severity, Status
from sla.models import SlaState
from tenants.models import Tenant

pytestmark = pytest.mark.django_db

VOICEHUB = "voicehub.localhost"
MAX_PAGES = 400
HREF = re.compile(r'href="([^"]+)"')


def assert_white_label(response, where: str) -> None:
    text = response.content.decode()
    assert "phonism" not in text.lower(), f"{where} says Phonism"
    if response.status_code != 302:
        assert "VoiceHub support" in text, f"{where} is not in VoiceHub's brand"


def crawl(client: Client, start: list[str], host: str = "testserver") -> dict[str, int]:
    """GET every same-site page reachable by links; every HTML page is checked on the way."""
    seen: dict[str, int] = {}
    todo = deque(start)
    while todo and len(seen) < MAX_PAGES:
        path = todo.popleft()
        if path in seen or path.startswith(("/admin/", "/static/", "/accounts/logout/")):
            continue
        response = client.get(path, HTTP_HOST=host)
        seen[path] = response.status_code
        if response.status_code in (301, 302):
            todo.append(response["Location"])
            continue
        if not response.get("Content-Type", "").startswith("text/html"):
            continue  # attachments and logos are files, not pages
        assert_white_label(response, path)
        for link in HREF.findall(response.content.decode()):
            url = urlsplit(html.unescape(link))
            if url.netloc or not url.path.startswith("/"):
                continue
            todo.append(url.path + (f"?{url.query}" if url.query else ""))
    return seen


@pytest.fixture
def ivan(client, demo) -> Client:
    client.force_login(demo["ivan"])
    return client


def test_every_page_ivan_can_reach_wears_voicehubs_brand(ivan, demo) -> None:
    initech_cases = list(Case.objects.filter(tenant__slug="initech"))
    assert initech_cases
    filters = [
        *({"status": s} for s in Status.values),
        *({"severity": s} for s in Severity.values),
        *({"sla": s} for s in SlaState.values),
        *({"sort": s} for s in ["newest", "oldest", "severity", "due"]),
        {"q": "phones"},
        {"page": 2, "size": 10},
    ]
    start = ["/", reverse("case-list"), reverse("case-new")]
    start += [
        f"{reverse('case-list')}?{'&'.join(f'{k}={v}' for k, v in f.items())}" for f in filters
    ]
    start += [case.get_absolute_url() for case in initech_cases]
    seen = crawl(ivan, start)
    for case in initech_cases:
        assert seen[case.get_absolute_url()] == 200
    assert len(seen) > len(initech_cases) + len(filters)


@pytest.mark.parametrize(
    "path",
    [
        "/team/",  # 403: agents do not manage the team
        "/customers/",  # 403: not a reseller
        "/queue/",  # 403
        "/cases/CS-99999/",  # 404
        "/no-such-page/",  # 404
    ],
)
def test_error_pages_wear_voicehubs_brand(ivan, path) -> None:
    response = ivan.get(path)
    assert response.status_code in (403, 404)
    assert_white_label(response, path)


def test_other_organisations_cases_are_a_branded_404(ivan, demo) -> None:
    for case in Case.objects.exclude(tenant__slug="initech")[:5]:
        response = ivan.get(case.get_absolute_url())
        assert response.status_code == 404
        assert_white_label(response, case.reference)


def test_forms_with_errors_wear_voicehubs_brand(ivan, demo) -> None:
    new = reverse("case-new")
    response = ivan.post(new, {"subject": "", "description": ""})
    assert response.status_code in (200, 400)
    assert_white_label(response, "new case with errors")
    emergency = ivan.post(
        new, {"subject": "All down", "severity": Severity.EMERGENCY, "description": "Nothing."}
    )
    assert "contact your account manager" in emergency.content.decode()
    assert_white_label(emergency, "Emergency refused")
    guide = ivan.get(new).content.decode()
    assert "On-call incident coordination between VoiceHub and designated customer" in guide

    case = Case.objects.filter(tenant__slug="initech").first()
    ref = case.reference
    for name, data in [
        ("case-comment", {"body": ""}),
        ("case-severity", {"severity": "", "reason": ""}),
        ("case-status", {"status": "nonsense"}),
    ]:
        response = ivan.post(reverse(name, args=[ref]), data)
        assert_white_label(response, name)


def test_a_visitor_on_voicehubs_host_never_sees_phonism(demo) -> None:
    visitor = Client(HTTP_HOST=VOICEHUB)
    seen = crawl(visitor, ["/", reverse("login"), reverse("password_reset"), "/nowhere/"], VOICEHUB)
    assert seen[reverse("login")] == 200
    wrong = visitor.post(reverse("login"), {"username": "ivan@initech.test", "password": "no"})
    assert_white_label(wrong, "failed sign-in")
    sent = visitor.post(reverse("password_reset"), {"email": "ivan@initech.test"}, follow=True)
    assert_white_label(sent, "reset sent")
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", mail.outbox[-1].body)
    form = visitor.get(link.group(1), follow=True)
    assert_white_label(form, "reset form")
    too_short = visitor.post(
        form.redirect_chain[-1][0], {"new_password1": "a", "new_password2": "b"}
    )
    assert_white_label(too_short, "reset form with errors")
    done = visitor.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-long-Passphrase-42", "new_password2": "a-long-Passphrase-42"},
        follow=True,
    )
    assert_white_label(done, "reset complete")


def test_a_sub_customers_emails_never_say_phonism(client, demo, django_capture_on_commit_callbacks):
    client.post(reverse("password_reset"), {"email": "ivan@initech.test"})
    client.force_login(demo["rita"])
    initech = Tenant.objects.get(slug="initech")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("subcustomer-invite", args=[initech.pk]),
            {"email": "iris@initech.test", "role": "agent"},
        )
    reset, invitation = mail.outbox[-2:]
    for message in (reset, invitation):
        headers = " ".join(f"{k}: {v}" for k, v in message.message().items())
        assert "phonism" not in f"{headers} {message.body}".lower()
        assert message.from_email == "VoiceHub <support@voicehub.test>"
    link = re.search(r"https?://[^/\s]+(/accounts/invitation/\S+/)", invitation.body).group(1)
    page = Client().get(link, follow=True)
    assert_white_label(page, "invitation page")


def test_the_static_500_page_names_nobody() -> None:
    page = (Path(__file__).resolve().parents[2] / "templates" / "500.html").read_text()
    assert "phonism" not in page.lower()
