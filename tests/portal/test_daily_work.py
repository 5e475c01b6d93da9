"""The case page and lists as people use them every day (issue 16): markdown, one entry per
message with its author, attachment limits told up front, image previews behind the access
policy, a composer that defaults to the right readers, passing the provider's answer on."""

import re
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from helpdesk import services
from helpdesk.models import Tier
from helpdesk.views import composer_default, quote_for_reply
from tenants.models import Role, TenantKind
from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case, staff

pytestmark = pytest.mark.django_db


def png(width: int = 1200, height: int = 800) -> bytes:
    out = BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def client_for(user) -> Client:
    return sign_in(Client(), user)


@pytest.fixture
def world():
    acme = TenantFactory(name="Acme Telecom")
    reseller = TenantFactory(name="VoiceHub", kind=TenantKind.RESELLER)
    sub = TenantFactory(name="Initech", kind=TenantKind.SUBCUSTOMER, parent=reseller)
    people = {
        "ann": member(acme, first_name="Ann", last_name="Agent"),
        "gina": member(TenantFactory(name="Globex")),
        "rob": member(reseller, first_name="Rob", last_name="Reseller"),
        "ivan": member(sub, first_name="Ivan", last_name="Initech"),
        "alice": staff(first_name="Alice", last_name="Staff"),
    }
    case = open_case(
        acme,
        people["ann"],
        description="**Boston** is down, see https://status.example.com <script>x()</script>",
        attachments=[
            SimpleUploadedFile("screen.png", png(), content_type="image/png"),
            SimpleUploadedFile("sbc.log", b"REGISTER 403", content_type="text/plain"),
        ],
    )
    sub_case = open_case(sub, people["ivan"])
    return {**people, "case": case, "sub_case": sub_case, "reseller": reseller}


def test_it_renders_markdown_and_escapes_html_on_the_case_page(world) -> None:
    page = client_for(world["ann"]).get(world["case"].get_absolute_url()).content.decode()
    assert "<strong>Boston</strong>" in page
    assert 'href="https://status.example.com" rel="noopener nofollow"' in page
    assert "<script>x()</script>" not in page
    assert "&lt;script&gt;x()&lt;/script&gt;" in page


def test_it_shows_each_message_once_with_its_authors_name_and_organisation(world) -> None:
    services.update_add(case=world["case"], author=world["alice"], body="We are on it.")
    page = client_for(world["ann"]).get(world["case"].get_absolute_url()).content.decode()
    assert page.count("We are on it.") == 1
    assert "Update added" not in page
    assert "Alice Staff" in page
    assert page.count(world["alice"].email) == 0  # a name, not an address


def test_a_subcustomer_reads_its_resellers_name_for_replies(world) -> None:
    services.update_add(case=world["sub_case"], author=world["rob"], body="Looking now.")
    page = client_for(world["ivan"]).get(world["sub_case"].get_absolute_url()).content.decode()
    assert "Rob Reseller" in page
    assert "VoiceHub" in page
    assert "Phonism" not in page


def test_the_forms_tell_the_attachment_limits_before_an_error(world, settings) -> None:
    settings.ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
    settings.ATTACHMENT_EXTENSIONS = ["pdf", "png"]
    new_page = client_for(world["ann"]).get(reverse("case-new")).content.decode()
    case_page = client_for(world["ann"]).get(world["case"].get_absolute_url()).content.decode()
    for page in (new_page, case_page):
        assert "Up to 5.0\xa0MB per file; allowed types: .pdf, .png." in page
        assert 'accept=".pdf,.png"' in page


def test_an_image_attachment_has_a_reencoded_thumbnail(world) -> None:
    image = world["case"].attachments.get(filename="screen.png")
    page = client_for(world["ann"]).get(world["case"].get_absolute_url()).content.decode()
    assert f'src="{image.get_thumbnail_url()}"' in page
    response = client_for(world["ann"]).get(image.get_thumbnail_url())
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    thumbnail = Image.open(BytesIO(response.content))
    assert thumbnail.size == (320, 213)  # scaled into 320×240, proportions kept


def test_a_thumbnail_is_refused_to_another_tenant_and_for_a_non_image(world) -> None:
    image = world["case"].attachments.get(filename="screen.png")
    log = world["case"].attachments.get(filename="sbc.log")
    assert client_for(world["gina"]).get(image.get_thumbnail_url()).status_code == 404
    assert client_for(world["ivan"]).get(image.get_thumbnail_url()).status_code == 404
    response = client_for(world["ann"]).get(log.get_thumbnail_url())
    assert response.status_code == 404
    assert b"no preview" in response.content


def test_a_stored_image_that_is_not_readable_gets_no_preview(world) -> None:
    # Uploads are checked on the way in; a file stored before those checks (or damaged
    # since) still gets a 404 with a reason, never a 500 and never its raw bytes.
    image = world["case"].attachments.get(filename="screen.png")
    with image.file.open("wb") as stored:
        stored.write(b"<script>alert(1)</script>")
    fake = image
    assert client_for(world["ann"]).get(fake.get_thumbnail_url()).status_code == 404


def test_the_composer_defaults_to_the_escalation_thread_once_escalated(world) -> None:
    rob, case = world["rob"], world["sub_case"]
    assert composer_default(case, services.update_kinds(case, rob)) == "public"
    services.case_escalate(case=case, actor=rob, note="Need the provider.")
    case.refresh_from_db()
    assert case.tier == Tier.TWO
    assert composer_default(case, services.update_kinds(case, rob)) == "escalation"
    page = client_for(rob).get(case.get_absolute_url()).content.decode()
    assert re.search(r'<input type="radio" name="kind" value="escalation"[^>]* checked>', page)
    assert not re.search(r'value="public"[^>]* checked>', page)


def test_staff_on_an_escalated_subcustomer_case_default_to_the_thread(world) -> None:
    case = world["sub_case"]
    services.case_escalate(case=case, actor=world["rob"], note="Need the provider.")
    case.refresh_from_db()
    kinds = services.update_kinds(case, world["alice"])
    assert "public" not in kinds
    assert composer_default(case, kinds) == "escalation"


def test_a_direct_customers_agent_has_no_choice_to_make(world) -> None:
    assert composer_default(world["case"], []) is None


def test_the_reseller_passes_the_providers_answer_on_as_a_public_reply(world) -> None:
    rob, case = world["rob"], world["sub_case"]
    services.case_escalate(case=case, actor=rob, note="Need the provider.")
    answer = services.update_add(
        case=case, author=world["alice"], body="Reboot the SBC.\nThen retry.", escalation=True
    )
    page = client_for(rob).get(case.get_absolute_url()).content.decode()
    assert f"?pass_on={answer.pk}" in page
    page = client_for(rob).get(case.get_absolute_url(), {"pass_on": answer.pk}).content.decode()
    assert "&gt; Reboot the SBC.\n&gt; Then retry.\n\n</textarea>" in page
    # The customer never reaches the thread, whatever id it tries.
    page = client_for(world["ivan"]).get(case.get_absolute_url(), {"pass_on": answer.pk})
    assert b"Reboot the SBC" not in page.content


def test_quote_for_reply_quotes_every_line() -> None:
    assert quote_for_reply("a\n\nb\n") == "> a\n>\n> b\n\n"


def test_the_queue_shows_tier_and_assignee(world) -> None:
    admin = member(world["reseller"], role=Role.ADMIN)
    services.case_escalate(case=world["sub_case"], actor=world["rob"], note="Help")
    page = client_for(admin).get(reverse("tier-one-queue")).content.decode()
    assert '<th scope="col">Tier</th>' in page
    assert "Escalated" in page


def test_the_list_folds_its_filters_and_labels_cells_for_phones(world) -> None:
    page = client_for(world["ann"]).get(reverse("case-list")).content.decode()
    assert '<details class="filter-toggle card" data-open-wide>' in page
    assert 'data-label="Severity"' in page
    assert "style=" not in page.split("<main", 1)[1]
