"""The demo world that ``demo`` puts back after a transactional test's flush is the one
``seed_demo`` built for the session, row for row (tests/snapshot.py), triggers' roll-ups
included."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from helpdesk.models import Case
from tenants.models import User
from tests.conftest import DEMO_SENTINEL
from tests.snapshot import snapshot_restore, snapshot_take


@pytest.mark.django_db(transaction=True)
def test_the_world_put_back_after_a_flush_is_the_seeded_one_row_for_row(_demo_world) -> None:
    seeded = _demo_world.rows
    call_command("flush", verbosity=0, interactive=False)
    assert not User.objects.exists() and not Case.objects.exists()

    snapshot_restore(connection, seeded)
    assert User.objects.filter(email=DEMO_SENTINEL).exists()
    assert snapshot_take(connection) == seeded
    # Twice over: what the first one wrote is replaced, not added to.
    snapshot_restore(connection, seeded)
    assert snapshot_take(connection) == seeded
