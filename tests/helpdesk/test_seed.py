import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from helpdesk.models import Case, CaseEvent, Severity
from tenants.models import Membership, Tenant, User

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_seed_demo_builds_the_readme_world_once() -> None:
    first = run("seed_demo")
    counts = (Tenant.objects.count(), User.objects.count(), Case.objects.count())
    events = CaseEvent.objects.count()
    second = run("seed_demo")
    assert (Tenant.objects.count(), User.objects.count(), Case.objects.count()) == counts
    assert CaseEvent.objects.count() == events
    assert counts[:2] == (6, 10) and counts[2] >= 30
    assert "ann@acme.test" in first and "demo-password" in second
    assert User.objects.get(email="alice@phonism.test").check_password("demo-password")
    globex = Tenant.objects.get(slug="globex")
    assert globex.emergency_entitlement and globex.priority == "strategic"
    assert Tenant.objects.get(slug="initech").parent.slug == "voicehub"
    assert Membership.objects.get(user__email="rita@voicehub.test").role == "admin"
    assert Case.objects.filter(severity=Severity.EMERGENCY).exclude(tenant=globex).count() == 0
    assert len(set(Case.objects.values_list("status", flat=True))) == 6


def test_seed_bulk_spreads_cases_and_gives_the_focus_its_share() -> None:
    run("seed_demo")
    before = Case.objects.count()
    run("seed_bulk", "--cases", "3000", "--tenants", "5", "--focus", "acme", "--focus-share", "0.5")
    added = Case.objects.exclude(description__startswith="Seen since")
    assert Case.objects.count() == before + 3000
    acme = added.filter(tenant__slug="acme").count()
    assert 1200 < acme < 1800
    assert added.values("tenant").distinct().count() == 6
    assert len(set(added.values_list("severity", flat=True))) >= 4
    references = list(Case.objects.values_list("reference", flat=True))
    assert len(references) == len(set(references))


def test_seed_bulk_explains_bad_arguments() -> None:
    with pytest.raises(CommandError, match="No tenant “nope”"):
        run("seed_bulk", "--cases", "10", "--focus", "nope")
