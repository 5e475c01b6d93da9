"""SLA tests: the contract's calendars and default plan are present (a transactional test
elsewhere may have flushed the migration's rows), and built calendars are never carried over
from another test (ids and pinned clocks repeat across rollbacks)."""

from __future__ import annotations

import pytest
from django.apps import apps

from sla.defaults import ensure_defaults
from sla.models import clear_calendar_cache


@pytest.fixture(autouse=True)
def _sla_defaults(request) -> None:
    clear_calendar_cache()
    if "db" in request.fixturenames or request.node.get_closest_marker("django_db"):
        request.getfixturevalue("db")
        ensure_defaults(apps)
    yield
    clear_calendar_cache()
