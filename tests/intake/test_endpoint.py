"""POST /intake/email: the raw message, a shared secret, an honest status code."""

import pytest
from django.db import OperationalError
from django.test import override_settings

from intake.models import InboundMessage, Outcome
from tests.intake.helpers import mail

pytestmark = pytest.mark.django_db
SECRET = "s3cret-for-the-relay-0123456789"
URL = "/intake/email"


def post(client, body: bytes, secret: str | None = SECRET, content_type="message/rfc822", **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret is not None else {}
    return client.post(URL, data=body, content_type=content_type, **headers, **extra)


@override_settings(INTAKE_SECRET=SECRET)
def test_it_stores_the_message_and_opens_the_case(client, demo):
    response = post(client, mail(subject="From the relay"))
    assert response.status_code == 202
    data = response.json()
    row = InboundMessage.objects.get(pk=data["id"])
    assert data["outcome"] == Outcome.CASE_OPENED == row.outcome
    assert row.case.subject == "From the relay" and row.source == "http"


@override_settings(INTAKE_SECRET=SECRET)
def test_the_recipient_parameter_picks_the_brand(client, demo):
    raw = mail(sender="ivan@initech.test", to="undisclosed-recipients:;")
    response = post(client, raw, QUERY_STRING="recipient=support@voicehub.test")
    assert response.status_code == 202
    assert InboundMessage.objects.get().brand.name == "VoiceHub"


@override_settings(INTAKE_SECRET=SECRET)
def test_the_secret_may_come_in_its_own_header(client, demo):
    response = client.post(
        URL, data=mail(), content_type="message/rfc822", HTTP_X_INTAKE_SECRET=SECRET
    )
    assert response.status_code == 202


@override_settings(INTAKE_SECRET=SECRET)
@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET[:-1], SECRET + "x"])
def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_stored(client, db, secret):
    response = post(client, mail(), secret=secret)
    assert response.status_code == 403
    assert "secret" in response.json()["error"]
    assert not InboundMessage.objects.exists()


@override_settings(INTAKE_SECRET="")
def test_without_a_configured_secret_the_endpoint_is_off(client, db):
    response = post(client, mail(), secret="")
    assert response.status_code == 404
    assert "INTAKE_SECRET" in response.json()["error"]


@override_settings(INTAKE_SECRET=SECRET)
def test_a_form_post_is_refused_with_the_reason(client, db):
    response = client.post(URL, {"a": "b"}, HTTP_AUTHORIZATION=f"Bearer {SECRET}")
    assert response.status_code == 415 and "message/rfc822" in response.json()["error"], (
        response.content
    )


@override_settings(INTAKE_SECRET=SECRET)
def test_an_empty_body_is_a_400(client, db):
    assert post(client, b"").status_code == 400


@override_settings(INTAKE_SECRET=SECRET, INTAKE_MAX_BYTES=1000)
def test_a_message_over_the_limit_is_a_413(client, db):
    response = post(client, mail(body="x" * 5000))
    assert response.status_code == 413
    assert not InboundMessage.objects.exists()


@override_settings(INTAKE_SECRET=SECRET)
def test_get_is_not_allowed(client, db):
    assert client.get(URL).status_code == 405


@override_settings(INTAKE_SECRET=SECRET)
def test_when_the_message_cannot_be_stored_the_sender_is_told_to_retry(client, db, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr("intake.services.InboundMessage.save", down)
    response = post(client, mail())
    assert response.status_code == 503
    assert "try again" in response.json()["error"]


@override_settings(INTAKE_SECRET=SECRET)
def test_garbage_is_stored_with_an_outcome_never_a_500(client, db):
    response = post(client, b"\x00\xff garbage \r\n\r\n\x80\x81")
    assert response.status_code == 202
    assert response.json()["outcome"] in {Outcome.TRIAGE, Outcome.IGNORED}
