"""On PostgreSQL the admin's word search is full text (stemmed) and reads the GIN index."""

import pytest
from django.db import connection

from helpdesk import services
from helpdesk.admin_views import case_search
from helpdesk.models import Case

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_it_finds_words_by_their_stem_in_subjects_descriptions_and_updates(demo) -> None:
    case = Case.objects.filter(tenant__slug="acme").first()
    services.update_add(case=case, author=demo["alice"], body="Rebooted the gateways tonight.")
    assert case in case_search(Case.objects.all(), "gateway reboot")
    registering = Case.objects.filter(subject__icontains="register")
    assert registering.exists()
    assert set(case_search(Case.objects.all(), "registering")) >= set(registering)


def test_the_word_search_reads_the_full_text_indexes(demo) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    # The updates' words through their index; the case's own words are ORed with that
    # EXISTS, which keeps PostgreSQL from a bitmap scan of case_fulltext (see the report).
    plan = case_search(Case.objects.all(), "register").explain()
    assert "caseupdate_fulltext" in plan
