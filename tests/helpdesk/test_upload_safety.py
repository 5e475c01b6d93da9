"""Uploads are what they say they are (issue 15): libmagic checks the content against the
extension, images are drawn again by Pillow before they are kept, and a stored name is never
a hidden file."""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from helpdesk.models import Attachment
from tests.factories import TenantFactory, member, open_case

pytestmark = pytest.mark.django_db


def png(size=(8, 8), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "blue").save(out, format="PNG", **save)
    return out.getvalue()


def attach(name: str, data: bytes) -> Attachment:
    acme = TenantFactory()
    case = open_case(acme, member(acme), attachments=[SimpleUploadedFile(name, data)])
    return case.attachments.get()


def refusal(name: str, data: bytes) -> str:
    with pytest.raises(ValidationError) as error:
        attach(name, data)
    assert not Attachment.objects.exists()
    return error.value.message_dict["attachments"][0]


@pytest.mark.parametrize(
    "name, data, detected",
    [
        ("invoice.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200), "application/"),
        ("notes.txt", b"<html><body><script>alert(1)</script></body></html>", "text/html"),
        ("capture.pcap", b"just some words in a text file\n", "text/plain"),
        ("shot.png", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
        ("logs.zip", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf"),
    ],
)
def test_it_refuses_content_that_is_not_what_the_name_says(name, data, detected) -> None:
    message = refusal(name, data)
    assert message.startswith(f"“{name}” does not contain what its name says")
    assert detected in message


def test_it_accepts_real_files_of_each_kind() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("sip.log", "INVITE sip:100@pbx")
    good = {
        "trace.pcap": b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00" + bytes(16),
        "sip.log": b"2026-01-01 INVITE sip:100@pbx\n",
        "logs.zip": archive.getvalue(),
        "config.json": b'{"codec": "opus"}',
        "shot.png": png(),
    }
    for name, data in good.items():
        assert attach(name, data).filename == name


def test_an_image_is_re_encoded_before_it_is_kept() -> None:
    smuggled = png(size=(5, 3)) + b"<script>alert('polyglot')</script>"
    kept = attach("screen.png", smuggled)
    with kept.file.open("rb") as stored:
        data = stored.read()
    assert b"<script>" not in data and data != smuggled
    assert kept.size == len(data)
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("PNG", (5, 3))


def test_a_broken_or_huge_image_is_refused() -> None:
    assert "is not a readable image" in refusal("shot.png", png(size=(64, 64))[:45])
    bomb = io.BytesIO()
    Image.new("1", (8000, 8000)).save(bomb, format="PNG")  # 64 million pixels, a few KB
    assert "images may have at most 40 million" in refusal("big.png", bomb.getvalue())


@pytest.mark.parametrize(
    "uploaded, shown",
    [
        (".hidden.log", "hidden.log"),
        ("..log", "attachment.log"),
        ("../../etc/.profile.txt", "profile.txt"),
        ("C:\\Users\\me\\.notes.txt", "notes.txt"),
        ("  . .x.log", "x.log"),
        ("\N{GRINNING FACE}.txt", "\N{GRINNING FACE}.txt"),
    ],
)
def test_a_stored_name_is_never_a_hidden_file(uploaded, shown) -> None:
    kept = attach(uploaded, b"some text\n")
    assert kept.filename == shown
    stored = PurePath(kept.file.name).name
    assert not stored.startswith(".") and stored.endswith(PurePath(shown).suffix)
