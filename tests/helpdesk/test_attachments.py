import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from helpdesk import services
from helpdesk.models import Attachment
from tenants.models import TenantKind
from tests.conftest import sign_in
from tests.factories import TenantFactory, member, open_case, staff

pytestmark = pytest.mark.django_db


PCAP = b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16)  # a capture file's header


def upload(name: str = "trace.pcap", data: bytes = PCAP) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


@pytest.fixture
def world():
    acme = TenantFactory()
    reseller = TenantFactory(kind=TenantKind.RESELLER)
    sub = TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)
    people = {
        "ann": member(acme),
        "bob": member(acme),
        "gina": member(TenantFactory()),
        "rob": member(reseller),
        "ivan": member(sub),
        "uma": member(TenantFactory(kind=TenantKind.SUBCUSTOMER, parent=reseller)),
        "alice": staff(),
    }
    case = open_case(acme, people["ann"], attachments=[upload("opening.log", b"log line")])
    sub_case = open_case(sub, people["ivan"])
    note = services.update_add(
        case=sub_case, author=people["rob"], body="n", internal=True, attachments=[upload()]
    )
    reply = services.update_add(
        case=sub_case, author=people["rob"], body="r", attachments=[upload("fix.txt", b"do this")]
    )
    return {
        **people,
        "opening": Attachment.objects.get(case=case),
        "note": note.attachments.get(),
        "reply": reply.attachments.get(),
    }


def fetch(user, attachment) -> int:
    client = Client()
    sign_in(client, user)
    return client.get(reverse("attachment-download", args=[attachment.pk])).status_code


@pytest.mark.parametrize(
    "person, attachment, status",
    [
        ("ann", "opening", 200),
        ("bob", "opening", 200),  # every agent of the organisation
        ("alice", "opening", 200),
        ("gina", "opening", 404),  # another customer
        ("rob", "opening", 404),  # a reseller, not Acme's
        ("ivan", "reply", 200),
        ("ivan", "note", 404),  # the reseller's internal note
        ("rob", "note", 200),
        ("alice", "note", 200),
        ("uma", "reply", 404),  # a sibling sub-customer
        ("ann", "reply", 404),
    ],
)
def test_the_download_view_asks_the_access_policy(world, person, attachment, status) -> None:
    assert fetch(world[person], world[attachment]) == status


def test_a_download_is_the_file_as_an_attachment(world) -> None:
    client = Client()
    sign_in(client, world["ann"])
    response = client.get(world["opening"].get_absolute_url())
    assert b"".join(response.streaming_content) == b"log line"
    assert response["Content-Disposition"] == 'attachment; filename="opening.log"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_anonymous_visitors_are_sent_to_sign_in(world) -> None:
    response = Client().get(world["opening"].get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_files_are_stored_outside_any_public_url(world, settings) -> None:
    path = world["opening"].file.path
    assert path.startswith(str(settings.ATTACHMENTS_ROOT))
    with pytest.raises(NotImplementedError):
        world["opening"].file.url  # noqa: B018


@pytest.mark.parametrize(
    "name, size, message",
    [
        ("setup.exe", 10, "“setup.exe”: this type of file is not accepted."),
        ("big.pdf", 2048, "“big.pdf” is 2.0\xa0KB; the limit is 1.0\xa0KB per file."),
        ("empty.txt", 0, "“empty.txt” is empty."),
    ],
)
def test_it_refuses_files_outside_the_limits(settings, name, size, message) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    acme = TenantFactory()
    ann = member(acme)
    with pytest.raises(ValidationError) as error:
        open_case(acme, ann, attachments=[upload(name, b"x" * size)])
    assert error.value.message_dict["attachments"][0].startswith(message)
    assert not acme.cases.exists()
    assert not Attachment.objects.exists()


def test_the_type_is_decided_by_the_extension_not_the_browser() -> None:
    acme = TenantFactory()
    shot = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(shot, format="PNG")
    case = open_case(acme, member(acme), attachments=[upload("shot.png", shot.getvalue())])
    assert case.attachments.get().content_type == "image/png"
