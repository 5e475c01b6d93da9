import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_password_reset_by_email(client, demo) -> None:
    response = client.post(reverse("password_reset"), {"email": "ann@acme.test"})
    assert response.status_code == 302
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", mail.outbox[0].body)
    page = client.get(link.group(1), follow=True)
    form_url = page.redirect_chain[-1][0]
    client.post(form_url, {"new_password1": "N3w-pass-phrase", "new_password2": "N3w-pass-phrase"})
    demo["ann"].refresh_from_db()
    assert demo["ann"].check_password("N3w-pass-phrase")


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, demo) -> None:
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert mail.outbox == []


def test_sign_in_is_throttled_after_five_failures(client, demo) -> None:
    cache.clear()
    url = reverse("login")
    for _ in range(5):
        client.post(url, {"username": "ann@acme.test", "password": "wrong"})
    response = client.post(url, {"username": "ann@acme.test", "password": "demo-password"})
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address from the same client is not locked out by Ann's failures.
    ok = client.post(url, {"username": "bob@acme.test", "password": "demo-password"})
    assert ok.status_code == 302
