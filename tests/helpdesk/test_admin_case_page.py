"""The admin case page costs the same number of queries however long the case's timeline is
(issue 10): no query per reply, event, attachment or person."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.admin import AdminSite
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import Attachment, CaseEvent, CaseUpdate, EventKind, Visibility
from tenants.models import Tenant, User
from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case, staff

pytestmark = pytest.mark.django_db


def case_with_timeline(tenant, requester, entries: int):
    """A case whose timeline has ``entries`` replies and events, each by a different person,
    with an attachment on every fifth reply."""
    case = open_case(tenant, requester, subject=f"Timeline of {entries}")
    people = User.objects.bulk_create(
        User(email=f"p{entries}-{n}@example.test", password="!") for n in range(entries)
    )
    start = timezone.now()
    updates, events = [], []
    for n, person in enumerate(people):
        at = start + timedelta(seconds=n)
        if n % 2:
            events.append(
                CaseEvent(
                    case=case,
                    actor=person,
                    kind=EventKind.ASSIGNED,
                    new_value=person.email,
                    visibility=Visibility.PROVIDER_NOTE,
                    created_at=at,
                )
            )
        else:
            updates.append(
                CaseUpdate(
                    case=case,
                    author=person,
                    author_email=person.email,
                    visibility=Visibility.PUBLIC,
                    body=f"Reply number {n}",
                    by_support=True,
                    created_at=at,
                )
            )
    CaseEvent.objects.bulk_create(events)
    CaseUpdate.objects.bulk_create(updates)
    Attachment.objects.bulk_create(
        Attachment(
            case=case,
            update=update,
            file=f"cases/{case.pk}/log-{n}.txt",
            filename=f"log-{n}.txt",
            content_type="text/plain",
            size=10,
            uploaded_by=update.author,
        )
        for n, update in enumerate(updates[::5])
    )
    return case


def test_the_admin_case_page_makes_as_many_queries_for_200_entries_as_for_5(client) -> None:
    acme = TenantFactory(name="Acme Telecom")
    ann = member(acme)
    sign_in(client, staff(is_superuser=True, email="admin@phonism.test"))
    short = case_with_timeline(acme, ann, 5)
    long = case_with_timeline(acme, ann, 200)

    counts = {}
    for case in (short, long):
        url = reverse("admin:helpdesk_case_change", args=[case.pk])
        client.get(url)  # warm-up: caches that fill once per process
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        counts[case.subject] = len(queries)
    page = response.content.decode()
    # The long timeline is all there: the last reply and event with their people.
    assert "Reply number 198" in page and "p200-198@example.test" in page
    assert "p200-199@example.test" in page  # the last event's actor
    assert "log-19.txt" in page  # the last attachment
    assert counts["Timeline of 5"] == counts["Timeline of 200"], counts


def test_the_case_page_reads_each_thing_once(client, demo) -> None:
    """No query repeated: the canned replies are read once for their texts and their options,
    the requester once for the placeholders, and there is no second reply form (no "add
    another" on a page that takes one reply per save)."""
    case = case_with_timeline(Tenant.objects.get(slug="acme"), demo["ann"], 20)
    sign_in(client, demo["alice"])  # staff with the support group's permissions
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url).content.decode()
    statements = [query["sql"] for query in queries.captured_queries]
    assert [s for s in statements if statements.count(s) > 1] == []
    assert page.count('name="updates-2-0-body"') == 1
    assert "__prefix__" not in page


def test_the_case_page_shows_the_cases_facts_as_read_only_rows(client, demo) -> None:
    acme = Tenant.objects.get(slug="acme")
    case = open_case(
        acme,
        demo["ann"],
        subject="<b>Trunk</b> & registrar",
        description="First line\nsecond <i>line</i>",
    )
    sign_in(client, demo["alice"])
    page = client.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()

    def shown(label: str) -> str:
        row = rf'<label>{label}:</label>\s*<div class="readonly">(.*?)</div>'
        found = re.search(row, page, re.S)
        assert found is not None, label
        return found.group(1)

    assert shown("Reference") == case.reference
    tenant_link = reverse("admin:tenants_tenant_change", args=[acme.pk])
    assert shown("Tenant") == f'<a href="{tenant_link}">{acme}</a>'
    assert shown("Requester email") == case.requester_email
    assert shown("Subject") == "&lt;b&gt;Trunk&lt;/b&gt; &amp; registrar"  # as text, escaped
    assert shown("Description") == "First line<br>second &lt;i&gt;line&lt;/i&gt;"
    assert shown("Channel") == "Portal" and shown("Tier") == "Tier one"
    assert shown("Resolved at") == "-"
    assert "sla-admin-" in shown("SLA")
    assert "When the request reached the party whose SLA applies." in page  # its help text
    times = page[page.index('id="case-times-heading"') :]
    assert times.index("Created at") < times.index("Dispatched at") < times.index("Closed at")
    # The timeline's opening row: an empty old value and reason show the admin's empty mark.
    opened = re.search(r'<td data-label="Kind">Opened</td>(.*?)</tr>', page, re.S)
    assert opened is not None
    assert '<td data-label="Old value">-</td>' in opened.group(1)
    assert '<td data-label="Reason">-</td>' in opened.group(1)
    # Still changed on the same page: severity, status, assignee, with a reason.
    for name in ("severity", "status", "assignee", "reason"):
        assert f'name="{name}"' in page


def test_the_case_page_lists_no_admin_apps_and_the_sidebar_pages_still_do(
    client, demo, monkeypatch
) -> None:
    """The list of apps and models is only for the navigation sidebar, which the case page does
    not show (helpdesk.admin_site): it is not built there, and pages with the sidebar list the
    same apps as before."""
    built: list[str | None] = []
    build = AdminSite._build_app_dict

    def counted(self, request, label=None):
        built.append(label)
        return build(self, request, label)

    monkeypatch.setattr(AdminSite, "_build_app_dict", counted)
    case = open_case(Tenant.objects.get(slug="acme"), demo["ann"], subject="No sidebar")
    sign_in(client, demo["alice"])
    page = client.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()
    assert built == [] and 'id="nav-sidebar"' not in page

    page = client.get(reverse("admin:helpdesk_case_changelist")).content.decode()
    assert built == [None] and 'id="nav-sidebar"' in page
    sidebar = page[page.index('id="nav-sidebar"') :]
    assert 'href="/admin/helpdesk/case/"' in sidebar and 'href="/admin/tenants/' in sidebar


def test_a_history_row_changed_after_it_was_shown_is_shown_as_it_is_now(client, demo) -> None:
    """The page remembers the rows it wrote (helpdesk.rowmemo.RowMemo) by everything shown in
    them: a reply, a file, an event or a person changed since shows as it is now."""
    case = case_with_timeline(Tenant.objects.get(slug="acme"), demo["ann"], 6)
    sign_in(client, demo["alice"])
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    client.get(url)
    update = case.updates.order_by("pk").first()
    event = case.events.filter(kind=EventKind.ASSIGNED).order_by("pk").first()
    assert update is not None and event is not None
    old_actor = event.actor.email

    CaseUpdate.objects.filter(pk=update.pk).update(
        body="Edited <b>text</b>", author_email="new@example.test", visibility="provider_note"
    )
    CaseEvent.objects.filter(pk=event.pk).update(reason="A reason added later")
    User.objects.filter(pk=event.actor_id).update(first_name="Renamed", last_name="Person")
    Attachment.objects.filter(update=update).update(filename="renamed.txt", size=2048)
    page = client.get(url).content.decode()

    def group(prefix: str) -> str:
        start = page.index(f'id="{prefix}-group"')
        return page[start : page.index("</table>", start)]

    conversation, files, timeline = group("updates"), group("attachments"), group("events")
    assert "Edited &lt;b&gt;text&lt;/b&gt;" in conversation and "Reply number 0" not in page
    assert "new@example.test" in conversation and "entry-provider_note" in conversation
    assert "Internal note (provider only)" in conversation
    assert "renamed.txt" in conversation and "log-0.txt" not in page
    assert "renamed.txt" in files and "2.0\xa0KB" in files
    assert "A reason added later" in timeline
    assert "Renamed Person" in timeline and f'<td data-label="Actor">{old_actor}<' not in page


def test_the_history_reads_only_what_its_tables_show(client, demo) -> None:
    """Each history table's query joins only the rows its columns show (a reply's table joins
    nothing: ``select_related()`` with no names would join its case, the case's organisation
    and on, for every row)."""
    case = case_with_timeline(Tenant.objects.get(slug="acme"), demo["ann"], 10)
    sign_in(client, demo["alice"])
    url = reverse("admin:helpdesk_case_change", args=[case.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    replies = [
        q["sql"] for q in queries if q["sql"].startswith('SELECT "helpdesk_caseupdate"."id"')
    ]
    assert len(replies) == 1 and " JOIN " not in replies[0]


def test_the_pages_scripts_are_written_once_per_set_and_as_django_writes_them(client, demo):
    from django import forms  # noqa: PLC0415

    from helpdesk.admin import media_html  # noqa: PLC0415

    first = forms.Media(js=["a.js", "b.js"], css={"all": ["x.css"]})
    again = forms.Media(js=["a.js", "b.js"], css={"all": ["x.css"]})
    other = forms.Media(js=["a.js"], css={"all": ["x.css"]})
    assert media_html(first) == str(first)
    assert media_html(again) is media_html(first)  # the same set: written once
    assert media_html(other) == str(other) != str(first)

    case = case_with_timeline(Tenant.objects.get(slug="acme"), demo["ann"], 5)
    sign_in(client, demo["alice"])
    page = client.get(reverse("admin:helpdesk_case_change", args=[case.pk])).content.decode()
    # The admin's own, the assignee widget's and the page's, all on the page.
    assert re.search(r'<script src="[^"]*/admin/js/core[^"]*\.js"', page)
    assert re.search(r'<script src="[^"]*/admin/RelatedObjectLookups[^"]*\.js"', page)
    assert re.search(r'<script src="[^"]*/js/canned[^"]*\.js"', page)
    assert re.search(r'<link href="[^"]*/admin-daily/case[^"]*\.css"', page)


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "UTC"])
@pytest.mark.parametrize("language", ["en", "de"])
def test_the_pages_times_read_as_the_admin_writes_them(zone, language) -> None:
    """The case page's times (its summary rows and history tables) come from one remembered
    formatter (``helpdesk.admin._when``): the same text as Django's ``display_for_field``, in
    the viewer's zone and language."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from django.contrib.admin.utils import display_for_field  # noqa: PLC0415
    from django.db import models  # noqa: PLC0415
    from django.utils import translation  # noqa: PLC0415
    from django.utils.formats import get_format  # noqa: PLC0415

    from helpdesk.admin import _when  # noqa: PLC0415

    instants = [datetime(2026, 3, 29, 0, 30, tzinfo=UTC), datetime(2026, 11, 27, 16, 5, tzinfo=UTC)]
    with timezone.override(zone), translation.override(language):
        for instant in [*instants, None]:
            expected = display_for_field(instant, models.DateTimeField(), "-")
            assert _when(instant, get_format("DATETIME_FORMAT"), "-") == expected


def test_files_get_their_replies_from_the_replies_read_or_in_one_query(demo) -> None:
    from helpdesk.admin import with_replies  # noqa: PLC0415

    case = case_with_timeline(Tenant.objects.get(slug="acme"), demo["ann"], 30)
    updates = list(case.updates.all())
    with CaptureQueriesContext(connection) as queries:
        files = with_replies(list(case.attachments.all()), updates)
    assert len(queries) == 1  # the files alone: their replies were in hand
    assert files and all(f.update is not None and f.update.pk == f.update_id for f in files)
    with CaptureQueriesContext(connection) as queries:
        files = with_replies(list(case.attachments.all()), [])  # replies not in hand
        kinds = [f.update.visibility for f in files]
    assert len(queries) == 2 and set(kinds) == {Visibility.PUBLIC}
