"""A database outage is answered with a clear, branded 503, never a 500 (issue 15, point 7).
The real thing, PostgreSQL restarted under a stream of openings, is tests/faults/."""

import pytest

from tests.conftest import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.helpdesk.error_urls")]


def test_a_database_outage_is_a_503_that_says_to_try_again(client, demo) -> None:
    client.raise_request_exception = False
    sign_in(client, demo["ann"])
    response = client.get("/boom/db/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "Temporarily unavailable" in page and "try again in a minute" in page
    assert "Phonism support" in page  # Ann's brand
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_a_sub_customer_sees_its_resellers_name_on_it(client, demo) -> None:
    client.raise_request_exception = False
    sign_in(client, demo["ivan"])
    page = client.get("/boom/db/").content.decode()
    assert "VoiceHub support" in page and "phonism" not in page.lower()


def test_other_errors_stay_a_plain_500(client, demo) -> None:
    client.raise_request_exception = False
    response = client.get("/boom/bug/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_under_the_api_the_same_answers_are_json_with_a_reason(client, demo) -> None:
    client.raise_request_exception = False
    outage = client.get("/api/v1/boom/db/")
    assert outage.status_code == 503 and outage["Retry-After"] == "30"
    assert outage["Content-Type"] == "application/json"
    assert "try again" in outage.json()["detail"]
    bug = client.get("/api/v1/boom/bug/")
    assert bug.status_code == 500 and bug.json()["detail"].startswith("Server error")
