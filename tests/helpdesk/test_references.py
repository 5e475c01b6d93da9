import threading

import pytest
from django.db import connection

from helpdesk.models import Case, Severity
from tests.factories import TenantFactory, member, open_case


@pytest.mark.django_db
def test_references_count_up_and_are_never_reused_after_a_delete() -> None:
    acme = TenantFactory()
    ann = member(acme)
    first = open_case(acme, ann)
    second = open_case(acme, ann)
    assert int(second.reference[3:]) == int(first.reference[3:]) + 1
    second.delete()
    third = open_case(acme, ann)
    assert third.reference not in {first.reference, second.reference}
    assert int(third.reference[3:]) > int(second.reference[3:])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_references_stay_unique_when_cases_are_opened_concurrently() -> None:
    acme = TenantFactory()
    agents = [member(acme) for _ in range(8)]
    per_thread = 15
    errors: list[BaseException] = []
    start = threading.Barrier(len(agents))

    def open_many(agent) -> None:
        try:
            start.wait()
            for _ in range(per_thread):
                open_case(acme, agent, Severity.MINOR)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_many, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    references = list(Case.objects.values_list("reference", flat=True))
    assert len(references) == len(agents) * per_thread
    assert len(set(references)) == len(references)
    numbers = sorted(int(r[3:]) for r in references)
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
