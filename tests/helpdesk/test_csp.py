"""The Content-Security-Policy (issue 15, point 2): strict on every page, enforced in
production and report-only in development, with per-view framing for pages that need it. The
browser journeys (tests/browser) show that no page breaks it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.urls import reverse

from helpdesk.models import Case
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


def test_every_kind_of_page_carries_the_strict_policy(client, demo) -> None:
    pages = [reverse("login"), reverse("password_reset"), "/no-such-page/"]
    for url in pages:
        response = client.get(url)
        policy = directives(response["Content-Security-Policy"])
        assert {k: policy.get(k) for k in STRICT} == STRICT, url
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
    sign_in(client, demo["ann"])
    case = Case.objects.filter(tenant__slug="acme").first()
    for url in [reverse("case-list"), reverse("case-new"), case.get_absolute_url()]:
        response = client.get(url)
        assert directives(response["Content-Security-Policy"])["script-src"] == "'self'", url


def test_the_brand_style_carries_the_nonce_of_its_response(client, demo) -> None:
    first = client.get(reverse("login"))
    second = client.get(reverse("login"))
    nonces = []
    for response in (first, second):
        nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
        assert f'<style nonce="{nonce}">:root {{ --brand:' in response.content.decode()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]  # a fresh nonce per response


def test_the_admin_pages_carry_the_same_policy(client, demo) -> None:
    sign_in(client, demo["alice"])
    response = client.get(reverse("admin:helpdesk_case_changelist"))
    assert response.status_code == 200
    assert directives(response["Content-Security-Policy"])["style-src"].startswith("'self'")
    assert "<style" not in response.content.decode()


def test_a_change_list_without_actions_has_its_rule_from_a_file(client, demo, monkeypatch) -> None:
    """Django 5.2 writes an inline <style> for a change list without actions; ours links a file."""
    case_admin = admin.site._registry[Case]
    monkeypatch.setattr(case_admin, "actions_on_top", False)
    monkeypatch.setattr(case_admin, "actions_on_bottom", False)
    sign_in(client, demo["alice"])
    page = client.get(reverse("admin:helpdesk_case_changelist")).content.decode()
    assert "<style" not in page
    assert "admin-csp/changelist-no-actions.css" in page
    assert "admin/css/changelists.css" in page


def test_templates_hold_no_inline_script_style_or_handler() -> None:
    """What the policy would block, looked for in every page template (emails are not pages)."""
    offences = []
    pages = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]
    for template in sorted(pages):
        if "emails" in template.parts:
            continue
        text = template.read_text()
        for pattern, what in [
            (r"<script(?![^>]*\bsrc=)[^>]*>", "inline script"),
            (r"<style(?![^>]*\bnonce=)[^>]*>", "style element without a nonce"),
            (r"\sstyle=", "style attribute"),
            (r"\son[a-z]+=", "event handler attribute"),
            (r"javascript:", "javascript: URL"),
        ]:
            if re.search(pattern, text, re.IGNORECASE):
                offences.append(f"{template.relative_to(ROOT)}: {what}")
    assert offences == []
    # The one nonce is the brand's colours in the portal's and the widget's base pages.
    nonced = {str(t.relative_to(ROOT)) for t in pages if "nonce=" in t.read_text()}
    assert nonced == {"templates/base.html", "widget/templates/widget/base.html"}


@pytest.mark.urls("tests.helpdesk.csp_urls")
def test_a_view_can_let_named_origins_frame_it(client, settings) -> None:
    for report_only in (False, True):
        header = "Content-Security-Policy" + ("-Report-Only" if report_only else "")
        settings.CONTENT_SECURITY_POLICY = None if report_only else settings.SECURITY_POLICY
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = (
            settings.SECURITY_POLICY if report_only else None
        )
        fixed = client.get("/framed/fixed/")
        policy = directives(fixed[header])
        assert policy["frame-ancestors"] == "https://portal.example.com"
        assert policy["script-src"] == "'self'"  # the rest of the policy stays
        assert "X-Frame-Options" not in fixed
        per_request = client.get(
            "/framed/per-request/", {"origin": ["https://a.example", "https://b.example"]}
        )
        assert (
            directives(per_request[header])["frame-ancestors"]
            == "https://a.example https://b.example"
        )
        nobody = client.get("/framed/per-request/")
        assert directives(nobody[header])["frame-ancestors"] == "'none'"
        # ...and every other page still refuses framing.
        assert directives(client.get("/accounts/login/")[header])["frame-ancestors"] == "'none'"


def policy_settings(**environment: str) -> dict:
    """The CSP settings a fresh process reads from this environment."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({'enforced': settings.CONTENT_SECURITY_POLICY is not None, "
        "'report_only': settings.CONTENT_SECURITY_POLICY_REPORT_ONLY is not None}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "CSP_REPORT_ONLY"}}
    env.update(environment, DJANGO_SETTINGS_MODULE="helpdesk.settings")
    output = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def test_the_policy_is_enforced_in_production_and_report_only_in_development() -> None:
    assert policy_settings(DEBUG="false") == {"enforced": True, "report_only": False}
    assert policy_settings(DEBUG="true") == {"enforced": False, "report_only": True}
    assert policy_settings(DEBUG="true", CSP_REPORT_ONLY="false") == {
        "enforced": True,
        "report_only": False,
    }
    assert policy_settings(DEBUG="false", CSP_REPORT_ONLY="true") == {
        "enforced": False,
        "report_only": True,
    }


def test_report_only_mode_sends_the_same_policy_as_a_report_only_header(client, settings) -> None:
    settings.CONTENT_SECURITY_POLICY = None
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = settings.SECURITY_POLICY
    response = client.get(reverse("login"))
    assert "Content-Security-Policy" not in response
    policy = directives(response["Content-Security-Policy-Report-Only"])
    assert {k: policy.get(k) for k in STRICT} == STRICT
