"""Senders and brands are remembered between messages (intake/directory.py), and a change to
them is seen by the very next message: a deactivated agent, a moved one, a new one, a
deactivated organisation, a brand's new address. A change that no save announces is seen
within a minute."""

from __future__ import annotations

import pytest
from django.db import connection

from helpdesk.models import Case, OutboundEmail
from intake import directory
from intake.models import Outcome
from tenants.models import Brand, Membership, Tenant, User
from tests.factories import open_case
from tests.intake.helpers import expand_notifications, ingest, mail

pytestmark = pytest.mark.django_db


def test_an_agent_deactivated_after_writing_opens_nothing_next_time(demo):
    assert ingest(mail(subject="First")).outcome == Outcome.CASE_OPENED  # Ann remembered
    ann = User.objects.get(email="ann@acme.test")
    ann.is_active = False
    ann.save()
    row = ingest(mail(subject="Second"))
    assert row.outcome == Outcome.TRIAGE and "deactivated" in row.reason


def test_an_agent_deactivated_in_bulk_opens_nothing_next_time(demo):
    """A queryset update (the admin's bulk action) sends no save signal; it is seen at once."""
    assert ingest(mail(subject="First")).outcome == Outcome.CASE_OPENED  # Ann remembered
    User.objects.filter(email="ann@acme.test").update(is_active=False)
    row = ingest(mail(subject="Second"))
    assert row.outcome == Outcome.TRIAGE and "deactivated" in row.reason


def test_an_agent_moved_to_another_organisation_opens_cases_there_at_once(demo):
    assert ingest(mail(subject="First")).case.tenant.slug == "acme"
    membership = Membership.objects.get(user__email="ann@acme.test")
    membership.tenant = Tenant.objects.get(slug="globex")
    membership.save()
    row = ingest(mail(subject="Second"))
    assert row.outcome == Outcome.CASE_OPENED
    assert row.case.tenant.slug == "globex" and row.sender_tenant.slug == "globex"


def test_a_stranger_who_becomes_an_agent_opens_a_case_next_time(demo):
    stranger = "newcomer@acme.test"
    assert ingest(mail(sender=stranger, subject="First")).outcome == Outcome.TRIAGE
    user = User.objects.create_user(email=stranger, password=None)
    Membership.objects.create(user=user, tenant=Tenant.objects.get(slug="acme"))
    row = ingest(mail(sender=stranger, subject="Second"))
    assert row.outcome == Outcome.CASE_OPENED and row.case.requester == user


def test_an_agent_whose_organisation_is_deactivated_opens_nothing_next_time(demo):
    assert ingest(mail(subject="First")).outcome == Outcome.CASE_OPENED
    acme = Tenant.objects.get(slug="acme")
    acme.is_active = False
    acme.save()
    row = ingest(mail(subject="Second"))
    assert row.outcome == Outcome.TRIAGE and "deactivated" in row.reason


def test_a_resellers_deactivation_reaches_its_customers_agents_next_time(demo):
    ivan = mail(sender="ivan@initech.test", to="support@voicehub.test")
    assert ingest(ivan).outcome == Outcome.CASE_OPENED
    voicehub = Tenant.objects.get(slug="voicehub")
    voicehub.is_active = False
    voicehub.save()
    again = ingest(mail(sender="ivan@initech.test", to="support@voicehub.test"))
    assert again.outcome == Outcome.TRIAGE and "deactivated" in again.reason


def test_a_brand_deleted_is_no_longer_the_brand_of_its_address(demo):
    voicehub = mail(sender="ivan@initech.test", to="support@voicehub.test")
    assert ingest(voicehub).brand.name == "VoiceHub"
    Brand.objects.get(name="VoiceHub").delete()
    row = ingest(mail(sender="ivan@initech.test", to="support@voicehub.test"))
    assert row.brand is None


def test_a_change_no_save_announces_is_seen_within_a_minute(demo, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(directory.time, "monotonic", lambda: clock[0])
    directory.forget()
    assert ingest(mail(subject="First")).outcome == Outcome.CASE_OPENED
    # A write in SQL sends no signal (a script, a data migration): remembered (for at most
    # DIRECTORY_SECONDS) ...
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {User._meta.db_table} SET is_active = %s WHERE email = %s",  # noqa: S608
            [False, "ann@acme.test"],
        )
    clock[0] += 1
    assert ingest(mail(subject="Second")).outcome == Outcome.CASE_OPENED
    # ... then read again.
    clock[0] += directory.DIRECTORY_SECONDS
    row = ingest(mail(subject="Third"))
    assert row.outcome == Outcome.TRIAGE and "deactivated" in row.reason


def test_each_message_gets_its_own_objects(demo):
    first = directory.Directory().sender("ann@acme.test")
    first.membership.tenant.name = "Changed in memory only"
    first.is_active = False
    second = directory.Directory().sender("ann@acme.test")
    assert second is not first
    assert second.is_active and second.membership.tenant.name == "Acme Telecom"


def test_a_sign_in_does_not_forget_what_is_remembered(demo, django_assert_num_queries):
    directory.Directory().sender("ann@acme.test")
    ann = User.objects.get(email="ann@acme.test")
    ann.save(update_fields=["last_login"])
    with django_assert_num_queries(0):
        assert directory.Directory().sender("ann@acme.test").email == "ann@acme.test"


def test_our_message_id_from_a_resellers_brand_coming_back_is_ignored(demo):
    """Its Message-ID has VoiceHub's domain: one of ours, though it answers nothing."""
    ivan = User.objects.get(email="ivan@initech.test")
    case = open_case(ivan.membership.tenant, ivan, subject="Fax line is dead")
    expand_notifications()
    ack = OutboundEmail.objects.get(case=case, kind="acknowledgement")
    assert ack.message_id.endswith("@voicehub.test>")
    before = Case.objects.count()
    row = ingest(mail(sender="ivan@initech.test", message_id=ack.message_id))
    assert row.outcome == Outcome.IGNORED and "one of ours" in row.reason
    assert Case.objects.count() == before
