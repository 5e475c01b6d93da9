"""The REST API (issue 17): keys, cases, people and customers, within the same walls as the
pages: another tenant's ids are a 404, rules come from the services, errors are JSON."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.serializers import ModelSerializer
from rest_framework.test import APIClient

from api import serializers as s
from api.authentication import PerKeyThrottle
from api.models import ApiKey
from helpdesk.models import (
    Attachment,
    Case,
    CaseUpdate,
    Channel,
    NotificationKind,
    OutboundEmail,
    Severity,
)
from tenants.models import Tenant, User

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    _, token = ApiKey.issue(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_request_without_a_valid_key_is_a_401_with_a_reason(demo) -> None:
    response = APIClient().get(reverse("api:case-list"))
    assert response.status_code == 401
    assert "credentials" in response.json()["detail"]
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer phk_0000000000000000_nope")
    assert bad.get(reverse("api:case-list")).json()["detail"].startswith("This API key is unknown")
    bad.credentials(HTTP_AUTHORIZATION="Token abc")
    assert bad.get(reverse("api:case-list")).status_code == 401


def test_a_revoked_key_or_a_deactivated_person_stops_at_once(demo) -> None:
    key, token = ApiKey.issue(user=demo["ann"], name="sync")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(reverse("api:case-list")).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert client.get(reverse("api:case-list")).status_code == 401
    _, token = ApiKey.issue(user=demo["ann"], name="again")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    User.objects.filter(pk=demo["ann"].pk).update(is_active=False)
    assert client.get(reverse("api:case-list")).status_code == 401


def test_the_secret_is_stored_hashed(demo) -> None:
    key, token = ApiKey.issue(user=demo["ann"], name="sync")
    assert token.split("_", 2)[2] not in key.secret_hash
    assert len(key.secret_hash) == 64


def test_an_agent_lists_only_their_organisations_cases_in_pages(demo) -> None:
    client = client_for(demo["ann"])
    first = client.get(reverse("api:case-list"), {"page_size": 2}).json()
    assert "count" not in first  # keyset paging: no COUNT over millions
    assert len(first["results"]) == 2 and first["next"]
    seen = []
    url = reverse("api:case-list")
    while url:
        page = client.get(url).json()
        seen += [case["reference"] for case in page["results"]]
        url = page["next"]
    acme = set(Case.objects.filter(tenant__slug="acme").values_list("reference", flat=True))
    assert set(seen) == acme and len(seen) == len(acme)


def test_the_list_takes_the_portals_filters(demo) -> None:
    client = client_for(demo["ann"])
    case = Case.objects.filter(tenant__slug="acme").first()
    found = client.get(reverse("api:case-list"), {"q": case.reference}).json()["results"]
    assert [c["reference"] for c in found] == [case.reference]
    minor = client.get(reverse("api:case-list"), {"severity": Severity.MINOR}).json()["results"]
    assert all(c["severity"] == Severity.MINOR for c in minor)
    assert client.get(reverse("api:case-list"), {"sla": "nonsense"}).status_code == 400


def test_another_tenants_case_is_a_404_everywhere(demo) -> None:
    client = client_for(demo["ann"])
    other = Case.objects.filter(tenant__slug="globex").first()
    for name in ("api:case-detail", "api:case-updates", "api:case-clocks"):
        assert client.get(reverse(name, args=[other.reference])).status_code == 404
    assert (
        client.patch(
            reverse("api:case-detail", args=[other.reference]),
            {"status": "resolved"},
            format="json",
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("api:case-updates", args=[other.reference]), {"body": "hi"}, format="json"
        ).status_code
        == 404
    )
    attachment = other.attachments.first()
    if attachment is not None:
        assert (
            client.get(reverse("api:attachment-download", args=[attachment.pk])).status_code == 404
        )


def test_opening_follows_the_portals_rules(demo) -> None:
    client = client_for(demo["ann"])
    url = reverse("api:case-list")
    payload = {"subject": "Trunk down", "description": "No calls since 9."}
    missing = client.post(url, payload, format="json")
    assert missing.status_code == 400 and "severity" in missing.json()
    emergency = client.post(url, {**payload, "severity": 1}, format="json")
    assert emergency.status_code == 400
    assert "account manager" in emergency.json()["severity"][0]
    opened = client.post(url, {**payload, "severity": Severity.MAJOR}, format="json")
    assert opened.status_code == 201, opened.json()
    body = opened.json()
    case = Case.objects.get(reference=body["reference"])
    assert case.channel == Channel.API and case.tenant.slug == "acme"
    assert case.requester == demo["ann"]
    assert [c["tier"] for c in body["clocks"]] == [1]
    assert body["clocks"][0]["state"] == "on_track"


def test_the_opening_answer_shows_the_clock_the_case_really_has(demo) -> None:
    """The answer's clock is the one the case opened with (handed over by the service, not read
    again): the same as a later read of the case shows, to the second."""
    client = client_for(demo["ivan"])  # a sub-customer's case: the reseller's tier-one clock
    opened = client.post(
        reverse("api:case-list"),
        {"subject": "Fax", "description": "Fax down.", "severity": 3},
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    again = client.get(reverse("api:case-detail", args=[opened.json()["reference"]])).json()
    keep = ("tier", "state", "dispatched_at", "due_at", "responded_at", "stopped_at")
    answer = [{k: c[k] for k in keep} for c in opened.json()["clocks"]]
    assert answer == [{k: c[k] for k in keep} for c in again["clocks"]]
    assert len(answer) == 1 and answer[0]["due_at"]


def test_an_agent_cannot_open_for_another_organisation(demo) -> None:
    client = client_for(demo["ann"])
    response = client.post(
        reverse("api:case-list"),
        {"tenant": "globex", "subject": "x", "description": "y", "severity": 5},
        format="json",
    )
    assert response.status_code == 404


def test_replies_and_changes_go_through_the_services(demo) -> None:
    client = client_for(demo["ann"])
    case = (
        Case.objects.filter(tenant__slug="acme", status="new").first()
        or Case.objects.filter(tenant__slug="acme").exclude(status="closed").first()
    )
    url = reverse("api:case-updates", args=[case.reference])
    reply = client.post(url, {"body": "Any news?"}, format="json")
    assert reply.status_code == 201 and reply.json()["visibility"] == "public"
    note = client.post(url, {"body": "secret", "internal": True}, format="json")
    assert note.status_code == 400
    assert "support side" in note.json()["internal"][0]
    change = client.patch(
        reverse("api:case-detail", args=[case.reference]),
        {"severity": Severity.MINOR},
        format="json",
    )
    assert change.status_code == 400 and "reason" in change.json()
    both = client.patch(
        reverse("api:case-detail", args=[case.reference]),
        {"severity": Severity.MINOR, "status": "resolved"},
        format="json",
    )
    assert both.status_code == 400


def test_a_sub_customer_never_sees_the_providers_clock_or_notes(demo) -> None:
    client = client_for(demo["ivan"])
    escalated = Case.objects.filter(tenant__slug="initech", tier=2).first()
    assert escalated is not None
    body = client.get(reverse("api:case-detail", args=[escalated.reference])).json()
    assert [c["tier"] for c in body["clocks"]] == [1]
    assert {u["visibility"] for u in body["updates"]} <= {"public"}
    assert "Phonism" not in str(body)


def test_a_reseller_provisions_a_customer_and_its_people(demo) -> None:
    client = client_for(demo["rita"])
    created = client.post(
        reverse("api:customers"), {"name": "Hooli", "timezone": "Europe/Paris"}, format="json"
    )
    assert created.status_code == 201, created.json()
    customer = created.json()
    assert customer["slug"] == "hooli"
    people_url = reverse("api:customer-people", args=[customer["id"]])
    invited = client.post(people_url, {"email": "gavin@hooli.test"}, format="json")
    assert invited.status_code == 201
    invitation = OutboundEmail.objects.get(kind=NotificationKind.INVITATION)
    assert invitation.recipients == ["gavin@hooli.test"]  # sent by a worker after commit
    person = invited.json()
    off = client.post(
        reverse("api:customer-person-active", args=[customer["id"], person["id"]]),
        {"active": False},
        format="json",
    )
    assert off.status_code == 200 and off.json()["active"] is False
    renamed = client.patch(
        reverse("api:customer-detail", args=[customer["id"]]), {"name": "Hooli XYZ"}, format="json"
    )
    assert renamed.json()["name"] == "Hooli XYZ"
    bad_zone = client.patch(
        reverse("api:customer-detail", args=[customer["id"]]),
        {"timezone": "Mars/Base"},
        format="json",
    )
    assert bad_zone.status_code == 400 and "timezone" in bad_zone.json()
    assert (
        client.put(reverse("api:tier-one-plan"), {"plan": "No such"}, format="json").status_code
        == 400
    )


def test_resellers_customers_are_theirs_alone(demo) -> None:
    acme = Tenant.objects.get(slug="acme")
    rita = client_for(demo["rita"])
    assert rita.get(reverse("api:customer-detail", args=[acme.pk])).status_code == 404
    assert rita.get(reverse("api:customer-people", args=[acme.pk])).status_code == 404
    rob = client_for(demo["rob"])  # an agent, not an admin
    assert rob.get(reverse("api:customers")).status_code == 404
    bob = client_for(demo["bob"])
    assert bob.get(reverse("api:customers")).status_code == 404
    assert bob.get(reverse("api:people")).status_code == 200


def test_rate_limits_answer_429_with_retry_after(demo, monkeypatch) -> None:
    # Patched on the class (the rates are read from it), so no other test inherits the limit.
    monkeypatch.setattr(PerKeyThrottle, "THROTTLE_RATES", {"api_key": "3/minute"})
    client = client_for(demo["ann"])
    codes = [client.get(reverse("api:case-list")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(reverse("api:case-list"))
    assert int(limited["Retry-After"]) > 0
    assert "throttled" in limited.json()["detail"].lower()
    other = client_for(demo["bob"])  # another key has its own budget
    assert other.get(reverse("api:case-list")).status_code == 200


def test_the_openapi_schema_describes_the_api(demo, client) -> None:
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/cases/" in schema["paths"]
    client.force_login(demo["bob"])
    assert client.get(reverse("api:docs")).status_code == 200


def test_admins_manage_their_keys_in_the_portal(client, demo) -> None:
    client.force_login(demo["bob"])
    page = client.post(reverse("api-keys"), {"name": "Billing"})
    token = page.context["token"]
    assert token.startswith("phk_") and token in page.content.decode()
    again = client.get(reverse("api-keys")).content.decode()
    assert token not in again  # shown once
    key = ApiKey.objects.get(user=demo["bob"])
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get(reverse("api:case-list")).status_code == 200
    client.post(reverse("api-key-revoke", args=[key.pk]))
    assert api.get(reverse("api:case-list")).status_code == 401
    client.force_login(demo["ann"])  # an agent
    assert client.get(reverse("api-keys")).status_code == 404
    client.force_login(demo["rita"])  # another admin cannot revoke Bob's key
    assert client.post(reverse("api-key-revoke", args=[key.pk])).status_code == 404


def test_answers_django_gives_under_the_api_are_json_with_a_reason(demo, client) -> None:
    api = client_for(demo["rita"])
    for url in ("/api/v1/no-such-endpoint/", "/api/v1/customers/null,null/people/"):
        response = api.get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
        assert response.json()["detail"].startswith("Not found")
    too_big = api.get(f"/api/v1/customers/{2**64}/")  # refused before any view runs
    assert too_big.status_code == 404 and "out of range" in too_big.json()["detail"]
    nul = api.get(reverse("api:case-list"), {"q": "a\x00b"})
    assert nul.status_code == 400 and "NUL" in nul.json()["detail"]
    page = client.get("/no-such-page/")  # the pages keep their page
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_json_values_must_have_the_documented_type(demo) -> None:
    api = client_for(demo["bob"])
    response = api.post(
        reverse("api:people"),
        {"email": "zoe@acme.test", "last_name": 0, "role": "agent"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"last_name": ["Expected text."]}
    flag = api.post(
        reverse("api:person-active", args=[demo["ann"].pk]), {"active": "no"}, format="json"
    )
    assert flag.status_code == 400 and flag.json() == {"active": ["Expected true or false."]}
    severity = client_for(demo["ann"]).post(
        reverse("api:case-list"),
        {"subject": "x", "description": "y", "severity": "3"},
        format="json",
    )
    assert severity.json() == {"severity": ["Expected a whole number."]}


def test_a_page_size_or_filter_the_list_cannot_take_is_a_400(demo) -> None:
    api = client_for(demo["ann"])
    for size in ("0", "101", "ten"):
        response = api.get(reverse("api:case-list"), {"page_size": size})
        assert response.status_code == 400 and "page_size" in response.json()
    # Ann's organisation is the only one she sees: another's id is refused, not ignored.
    globex = Tenant.objects.get(slug="globex")
    assert api.get(reverse("api:case-list"), {"tenant": globex.pk}).status_code == 400
    assert api.get(reverse("api:case-list"), {"clock": "2"}).status_code == 400
    assert api.get(reverse("api:case-list"), {"status": ""}).status_code == 200


def test_the_schema_documents_errors_and_shows_the_secret_only_where_it_is_given(
    demo, client
) -> None:
    schema = client.get(reverse("api:schema"), HTTP_ACCEPT="application/json").json()
    case_list = schema["paths"]["/api/v1/cases/"]
    assert {"400", "401", "403", "404", "429"} <= set(case_list["get"]["responses"])
    assert "sort" not in {p["name"] for p in case_list["get"]["parameters"]}
    assert "Retry-After" in case_list["get"]["responses"]["429"]["headers"]
    hooks = schema["paths"]["/api/v1/webhooks/"]
    listed = hooks["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    created = hooks["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    components = schema["components"]["schemas"]
    assert "secret" not in components[listed["items"]["$ref"].split("/")[-1]]["properties"]
    assert "secret" in components[created["$ref"].split("/")[-1]]["required"]


def test_the_fast_case_bodies_equal_the_frameworks_own(demo, rf) -> None:
    """The case serializers write their fields directly (speed); the framework's generic path
    over the same declared fields must give the same body, field for field."""
    request = rf.get("/")
    request.user = demo["rita"]
    context = {"request": request}
    cases = Case.objects.filter(tenant__slug__in=["voicehub", "initech"])[:5]
    # One instant for both paths: a clock running in its support hours has fewer minutes left
    # at each call (compared at two instants, the bodies differed during business hours).
    with time_machine.travel(timezone.now(), tick=False):
        for zone in ("UTC", "America/New_York", "Asia/Kolkata"):  # times in the active zone
            with timezone.override(zone):
                for case in cases:
                    for serializer_class in (s.CaseSummarySerializer, s.CaseSerializer):
                        serializer = serializer_class(case, context=context)
                        generic = ModelSerializer.to_representation(serializer, case)
                        assert serializer.data == generic
                        assert serializer.data["created_at"].endswith("Z") == (zone == "UTC")


def test_the_fast_update_bodies_equal_the_frameworks_own(demo) -> None:
    """A case's thread is written directly too: each update and attachment as the framework's
    generic path would write them over the declared fields."""
    updates = CaseUpdate.objects.filter(case__tenant__slug="acme").order_by("pk")[:5]
    assert updates
    update = updates[0]
    Attachment.objects.create(
        case=update.case,
        update=update,
        file="attachments/log.txt",
        filename="log “today”.txt",
        content_type="text/plain",
        size=12,
    )
    for update in updates:
        serializer = s.UpdateSerializer(update)
        assert serializer.data == ModelSerializer.to_representation(serializer, update)
        for attachment in update.attachments.all():
            one = s.AttachmentSerializer(attachment)
            assert one.data == ModelSerializer.to_representation(one, attachment)
            assert one.data["download_url"] == f"/api/v1/attachments/{attachment.pk}/"
