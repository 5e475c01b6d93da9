from __future__ import annotations

import pytest

from helpdesk.models import Case
from tests.factories import open_case
from tests.intake.helpers import expand_notifications


@pytest.fixture
def acme_case(demo) -> Case:
    """A case Ann (Acme) opened on the portal: the thread replies attach to."""
    case = open_case(demo["ann"].membership.tenant, demo["ann"], subject="Voicemail is silent")
    expand_notifications()
    return case
