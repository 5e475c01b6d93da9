"""On PostgreSQL the admin case list's default order ("awaiting a response, due soonest") is
read from its index, not computed and sorted over every case (a million, in production)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_default_list_reads_the_case_admin_order_index(client, demo) -> None:
    sign_in(client, demo["alice"])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:helpdesk_case_changelist")).status_code == 200
    listing = [
        q["sql"]
        for q in queries
        if 'FROM "helpdesk_case"' in q["sql"]
        and "ORDER BY CASE" in q["sql"]
        and "LIMIT" in q["sql"]
    ]
    assert len(listing) == 1, [q["sql"][:200] for q in queries]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: can an index serve?
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {listing[0]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "case_admin_order" in plan, plan
    assert "Sort" not in plan, plan  # read in order, not sorted
