"""Two uses of one token at the same instant: the unique constraint lets exactly one through."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from tests.widget.conftest import HOST, make_token
from widget import services
from widget.models import SpentToken, WidgetSession
from widget.tokens import TokenRefused

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_token_used_twice_at_once_opens_one_session(cast) -> None:
    token = make_token(cast.acme_key, cast.acme_secret)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def use() -> None:
        try:
            barrier.wait()
            services.session_start(token=token, origin=HOST)
            outcomes.append("session")
        except TokenRefused as refused:
            outcomes.append(str(refused))
        finally:
            connection.close()

    threads = [threading.Thread(target=use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("session") == 1
    assert (
        sorted(outcomes)[:3]
        == ["This token was used already: the host portal must sign a new one."] * 3
    )
    assert WidgetSession.objects.count() == 1 and SpentToken.objects.count() == 1
