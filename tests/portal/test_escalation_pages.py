import pytest
from django.test import Client
from django.urls import reverse

from helpdesk.models import Case, Tier, Visibility
from tests.conftest import sign_in
from tests.factories import open_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(demo) -> Case:
    return open_case(demo["ivan"].membership.tenant, demo["ivan"])


def escalate(client, case, note="Please look: SBC logs attached"):
    return client.post(reverse("case-escalate", args=[case.reference]), {"note": note})


def test_the_reseller_escalates_from_the_case_page(client, demo, case) -> None:
    client.force_login(demo["rob"])
    page = client.get(case.get_absolute_url()).content.decode()
    assert "Escalate to the provider" in page
    assert escalate(client, case).status_code == 302
    case.refresh_from_db()
    assert case.tier == Tier.TWO
    page = client.get(case.get_absolute_url()).content.decode()
    assert "Please look: SBC logs attached" in page
    assert "Provider&#x27;s response (escalation)" in page  # both clocks for the reseller
    assert "Message in the escalation thread" in page


def test_an_empty_escalation_message_is_a_form_error(client, demo, case) -> None:
    client.force_login(demo["rob"])
    response = escalate(client, case, note="")
    assert response.status_code == 400
    assert "Tell the provider what you need" in response.content.decode()
    case.refresh_from_db()
    assert case.tier == Tier.ONE


def test_the_reseller_writes_in_the_thread_and_relays(client, demo, case) -> None:
    client.force_login(demo["rob"])
    escalate(client, case)
    url = reverse("case-comment", args=[case.reference])
    client.post(url, {"body": "Any news?", "kind": "escalation"})
    client.post(url, {"body": "Ivan, a fix is coming tonight", "kind": "public"})
    kinds = dict(case.updates.values_list("body", "visibility"))
    assert kinds["Any news?"] == Visibility.ESCALATION
    assert kinds["Ivan, a fix is coming tonight"] == Visibility.PUBLIC


def test_the_sub_customer_sees_neither_the_thread_nor_the_button(client, demo, case) -> None:
    rob = Client()
    rob.force_login(demo["rob"])
    escalate(rob, case, note="Secret thread message")
    client.force_login(demo["ivan"])
    page = client.get(case.get_absolute_url()).content.decode()
    assert "Secret thread message" not in page
    assert "Escalate" not in page and "escalation" not in page.lower()
    assert "Tier two" not in page
    # The route does not exist for the requesting side, whatever the note (issue 15).
    for note in ("Please escalate", ""):
        refused = escalate(client, case, note=note)
        assert refused.status_code == 404
        assert "Escalate" not in refused.content.decode()
    assert client.post(
        reverse("case-comment", args=[case.reference]), {"body": "x", "kind": "escalation"}
    ).status_code in (302, 400)
    assert not case.updates.filter(author=demo["ivan"], visibility=Visibility.ESCALATION).exists()


@pytest.mark.parametrize("outsider", ["uma", "gina", "ann"])
def test_outsiders_get_404(client, demo, case, outsider) -> None:
    sign_in(client, demo[outsider])
    assert escalate(client, case).status_code == 404
