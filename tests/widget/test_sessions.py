"""Widget sessions: sliding and capped; and the framing header composing with django-csp."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpResponse
from django.utils import timezone

from widget import services
from widget.framing import DJANGO_CSP_MIDDLEWARE, allow_framing
from widget.models import WidgetSession

pytestmark = pytest.mark.django_db


def test_a_session_slides_while_used_but_never_past_eight_hours(cast, session_for) -> None:
    raw = session_for(cast.ann)
    session = WidgetSession.objects.get()
    WidgetSession.objects.update(expires_at=timezone.now() + timedelta(minutes=5))
    resolved = services.session_resolve(raw)
    assert resolved.expires_at > timezone.now() + timedelta(minutes=29)
    WidgetSession.objects.update(
        created_at=timezone.now() - timedelta(hours=7, minutes=55),
        expires_at=timezone.now() + timedelta(minutes=2),
    )
    capped = services.session_resolve(raw)
    assert capped.expires_at <= session.created_at + timedelta(hours=8)
    WidgetSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.session_resolve(raw) is None


def test_only_a_hash_of_the_session_is_stored(cast, session_for) -> None:
    raw = session_for(cast.ann)
    assert not WidgetSession.objects.filter(token_hash=raw).exists()
    assert services.session_resolve(raw).user == cast.ann
    assert services.session_resolve(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


def test_framing_sends_its_own_header_without_django_csp() -> None:
    response = allow_framing(HttpResponse(), ["https://a.example", "https://b.example"])
    assert response.xframe_options_exempt is True
    assert response["Content-Security-Policy"].startswith(
        "frame-ancestors https://a.example https://b.example;"
    )


def test_framing_hands_the_directive_to_django_csp_when_it_is_installed(settings) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, DJANGO_CSP_MIDDLEWARE]
    response = allow_framing(HttpResponse(), ["https://a.example"])
    assert "Content-Security-Policy" not in response  # the site-wide policy stays whole
    assert response._csp_replace == {"frame-ancestors": ["https://a.example"]}
    assert allow_framing(HttpResponse(), [])._csp_replace == {"frame-ancestors": ["'none'"]}
