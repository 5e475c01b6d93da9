"""The case page's assignee options are remembered with the people (helpdesk.admin
``staff_options``): no query for them on a visit, and a person who joins the staff, is renamed
or leaves is in the next page's options as they are now.

Committed (transactional) tests: the memory is only kept across transactions, as in
production."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case, staff

pytestmark = pytest.mark.django_db(transaction=True)


def options(page: str) -> list[str]:
    select = re.search(r'<select name="assignee".*?</select>', page, re.S)
    assert select is not None
    return re.findall(r">([^<]*)</option>", select.group(0))


def test_the_assignee_options_follow_the_staff_without_a_query_per_visit(client, settings) -> None:
    settings.PEOPLE_MEMO = True
    acme = TenantFactory(name="Acme")
    case = open_case(acme, member(acme))
    alice = staff(email="alice@phonism.test", first_name="Alice", last_name="Admin")
    alice.is_superuser = True
    alice.save()
    bob = staff(email="bob@phonism.test")
    sign_in(client, alice)
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    assert options(client.get(url).content.decode()) == [
        "---------",
        "Alice Admin",
        "bob@phonism.test",
    ]

    with CaptureQueriesContext(connection) as queries:
        client.get(url)

    def staff_list(sql: str) -> bool:
        return 'FROM "tenants_user" WHERE' in sql and '"is_staff"' in sql.split("WHERE", 1)[1]

    assert not [q for q in queries.captured_queries if staff_list(q["sql"])]

    bob.first_name, bob.last_name = "Bob", "Builder"
    bob.save()
    staff(email="carol@phonism.test")
    assert options(client.get(url).content.decode())[1:] == [
        "Alice Admin",
        "Bob Builder",
        "carol@phonism.test",
    ]
    bob.is_active = False
    bob.save()
    assert "Bob Builder" not in options(client.get(url).content.decode())
