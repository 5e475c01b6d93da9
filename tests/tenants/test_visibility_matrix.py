"""The visibility matrix of the demo world: for every person and every case, seen or not."""

import pytest

from helpdesk import access
from helpdesk.models import Attachment, Case, CaseUpdate, Visibility

# person → the organisations whose cases they see ("*" = all)
SEES_CASES_OF = {
    "admin": "*",
    "alice": "*",
    "sam": "*",
    "ann": {"acme"},
    "bob": {"acme"},
    "gina": {"globex"},
    "rita": {"voicehub", "initech", "umbrella"},
    "rob": {"voicehub", "initech", "umbrella"},
    "ivan": {"initech"},
    "uma": {"umbrella"},
}

# person → the update visibilities they see on the cases they see, by organisation of the case
SEES_UPDATES = {
    "admin": {"*": set(Visibility.values)},
    "alice": {"*": set(Visibility.values)},
    "sam": {"*": set(Visibility.values)},
    "ann": {"acme": {Visibility.PUBLIC}},
    "bob": {"acme": {Visibility.PUBLIC}},
    "gina": {"globex": {Visibility.PUBLIC}},
    "rita": {
        "voicehub": {Visibility.PUBLIC},
        "initech": {Visibility.PUBLIC, Visibility.RESELLER_NOTE, Visibility.ESCALATION},
        "umbrella": {Visibility.PUBLIC, Visibility.RESELLER_NOTE, Visibility.ESCALATION},
    },
    "rob": {
        "voicehub": {Visibility.PUBLIC},
        "initech": {Visibility.PUBLIC, Visibility.RESELLER_NOTE, Visibility.ESCALATION},
        "umbrella": {Visibility.PUBLIC, Visibility.RESELLER_NOTE, Visibility.ESCALATION},
    },
    "ivan": {"initech": {Visibility.PUBLIC}},
    "uma": {"umbrella": {Visibility.PUBLIC}},
}


@pytest.mark.parametrize("person", sorted(SEES_CASES_OF))
def test_each_person_sees_exactly_the_cases_of_their_organisations(demo, person) -> None:
    user = demo[person]
    visible = set(access.cases_visible_to(user).values_list("reference", flat=True))
    rows = Case.objects.select_related("tenant").all()
    assert rows.count() >= 30
    for case in rows:
        expected = SEES_CASES_OF[person] == "*" or case.tenant.slug in SEES_CASES_OF[person]
        assert (case.reference in visible) == expected, (person, case.reference, case.tenant.slug)


@pytest.mark.parametrize("person", sorted(SEES_UPDATES))
def test_each_person_sees_exactly_the_updates_meant_for_them(demo, person) -> None:
    user = demo[person]
    visible = set(access.updates_visible_to(user).values_list("pk", flat=True))
    rules = SEES_UPDATES[person]
    kinds_seen = set()
    for update in CaseUpdate.objects.select_related("case__tenant"):
        allowed = rules.get("*", rules.get(update.case.tenant.slug, set()))
        expected = update.visibility in allowed
        assert (update.pk in visible) == expected, (
            person,
            update.case.reference,
            update.visibility,
        )
        if expected:
            kinds_seen.add(update.visibility)
    # Every kind the person may see really occurs in the demo world, so no rule goes untested.
    assert kinds_seen == set().union(*rules.values())


@pytest.mark.parametrize("person", sorted(SEES_UPDATES))
def test_the_updates_of_a_case_in_hand_follow_the_same_rules(demo, person) -> None:
    """``updates_of`` decides on the fetched case what ``updates_visible_to`` decides in SQL:
    the same updates for every person and every case, those they cannot see included (none)."""
    user = demo[person]
    for case in Case.objects.select_related("tenant"):
        expected = set(
            access.updates_visible_to(user).filter(case=case).values_list("pk", flat=True)
        )
        got = set(access.updates_of(user, case).values_list("pk", flat=True))
        assert got == expected, (person, case.reference)


@pytest.mark.parametrize("person", sorted(SEES_UPDATES))
def test_the_events_and_files_of_a_case_in_hand_follow_the_same_rules(demo, person) -> None:
    """``events_of`` and ``attachments_of`` decide on the fetched case what
    ``events_visible_to`` and ``attachments_visible_to`` decide in SQL: the same rows for every
    person and every case, none of a case they cannot see."""
    user = demo[person]
    # A file on every update (each visibility) and one sent with each opening request.
    files = [
        Attachment(case=u.case, update=u, file=f"t/{u.pk}", filename="u.txt", size=1)
        for u in CaseUpdate.objects.select_related("case")
    ]
    files += [
        Attachment(case=c, update=None, file=f"t/c{c.pk}", filename="c.txt", size=1)
        for c in Case.objects.all()
    ]
    Attachment.objects.bulk_create(files)
    seen_files = 0
    for case in Case.objects.select_related("tenant"):
        expected = set(
            access.events_visible_to(user).filter(case=case).values_list("pk", flat=True)
        )
        assert set(access.events_of(user, case).values_list("pk", flat=True)) == expected
        visible = access.cases_visible_to(user).filter(pk=case.pk).exists()
        assert access.sees_case(user, case) == visible, (person, case.reference)
        expected = set(
            access.attachments_visible_to(user).filter(case=case).values_list("pk", flat=True)
        )
        got = {f.pk for f in access.attachments_of(user, case, access.updates_of(user, case))}
        assert got == expected, (person, case.reference)
        seen_files += len(expected)
    assert seen_files  # the demo world's files are in the comparison


def test_a_staff_flag_on_a_customer_member_grants_nothing_more(demo) -> None:
    ann = demo["ann"]
    ann.is_staff = True
    ann.save()
    assert not access.is_provider_staff(ann)
    assert set(access.cases_visible_to(ann).values_list("tenant__slug", flat=True)) == {"acme"}


def test_people_of_a_deactivated_tenant_see_nothing(demo) -> None:
    voicehub = demo["rob"].membership.tenant
    voicehub.is_active = False
    voicehub.save()
    for person in ("rob", "rita", "ivan", "uma"):
        user = type(demo[person]).objects.get(pk=demo[person].pk)
        assert not access.cases_visible_to(user).exists(), person
