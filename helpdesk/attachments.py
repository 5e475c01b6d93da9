"""Attachments: the limits a file must meet and where it is kept (SPEC §4). Called by the
services inside their transactions, and by forms to say early what a file breaks."""

from __future__ import annotations

import io
import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from io import BytesIO
from pathlib import PurePath

import magic
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from PIL import Image, UnidentifiedImageError

from helpdesk.models import Attachment, Case, CaseUpdate
from tenants.models import User

# --- attachments ------------------------------------------------------------------------------

# What libmagic may say about a file of each allowed extension (issue 15): the content must be
# what the name declares. "text/*" is any text type. An extension configured here without an
# entry must match the type its name implies (mimetypes), or any text type for a text one.
CONTENT_TYPES: dict[str, set[str]] = {
    "pdf": {"application/pdf"},
    "png": {"image/png"},
    "jpg": {"image/jpeg"},
    "jpeg": {"image/jpeg"},
    "gif": {"image/gif"},
    "webp": {"image/webp"},
    "txt": {"text/*"},
    "log": {"text/*"},
    "csv": {"text/*", "application/csv"},
    "json": {"application/json", "text/*"},
    "xml": {"text/xml", "application/xml", "text/*"},
    "zip": {"application/zip"},
    "pcap": {"application/vnd.tcpdump.pcap", "application/x-pcapng"},
    "pcapng": {"application/x-pcapng", "application/vnd.tcpdump.pcap"},
    "eml": {"message/rfc822", "text/*"},
}
# Text that a browser would run or render as a page, whatever the extension says.
ACTIVE_TYPES = {"text/html", "image/svg+xml", "text/javascript", "application/javascript"}
# Images are re-encoded by Pillow before they are kept (see ``_reencoded``).
IMAGE_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP"}
# Larger images are refused rather than decoded (a small file can decode to gigabytes).
MAX_IMAGE_PIXELS = 40_000_000
MAGIC_BYTES = 8192


def _detected_type(upload: UploadedFile) -> str:
    upload.seek(0)
    head = upload.read(MAGIC_BYTES)
    upload.seek(0)
    # A file is often checked twice (a form or the email intake says early what it breaks,
    # then the service checks again): libmagic's answer is kept with the upload, for exactly
    # these bytes, so the second check costs a comparison, not another scan.
    seen = getattr(upload, "_helpdesk_magic", None)
    if seen is not None and seen[0] == head:
        return seen[1]
    detected = magic.from_buffer(head, mime=True)
    upload._helpdesk_magic = (head, detected)  # type: ignore[attr-defined]
    return detected


def _type_fits(extension: str, detected: str) -> bool:
    if detected in ACTIVE_TYPES:
        return False
    expected = CONTENT_TYPES.get(extension)
    if expected is None:
        implied = mimetypes.guess_type(f"f.{extension}")[0] or ""
        expected = {"text/*"} if implied.startswith("text/") else {implied}
    return detected in expected or ("text/*" in expected and detected.startswith("text/"))


def _open_image(upload: UploadedFile, name: str, image_format: str) -> Image.Image:
    upload.seek(0)
    data = upload.read()  # at most ATTACHMENT_MAX_BYTES; Pillow may close what it is given
    upload.seek(0)
    try:
        image = Image.open(io.BytesIO(data), formats=[image_format])
        if image.width * image.height > MAX_IMAGE_PIXELS:
            raise ValidationError(
                f"“{name}” is {image.width}×{image.height} pixels; images may have at most "
                f"{MAX_IMAGE_PIXELS // 1_000_000} million."
            )
        image.load()
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValidationError(f"“{name}” is not a readable image.") from error
    return image


def _reencoded(upload: UploadedFile, name: str, extension: str) -> ContentFile:
    """An image drawn again by Pillow: only pixels survive (no metadata, no trailing data, no
    polyglot tricks), so what is later shown inline is an image and nothing else."""
    image_format = IMAGE_FORMATS[extension]
    image = _open_image(upload, name, image_format)
    out = io.BytesIO()
    options: dict = {}
    if image_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    if image_format in ("GIF", "WEBP") and getattr(image, "n_frames", 1) > 1:
        options["save_all"] = True
    image.save(out, format=image_format, **options)
    return ContentFile(out.getvalue())


def stored_name(name: str) -> str:
    """The name a file is kept and offered under: no folders, no control characters, never a
    hidden file (no leading dot), never empty."""
    name = PurePath(name.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip()
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = stem.lstrip(". ")[:150].rstrip() or "attachment"
    return f"{stem}.{extension[:20]}" if extension else stem


def _storage_name(name: str) -> str:
    """On disk, plain characters only; still never hidden (``😀.txt`` would become ``.txt``)."""
    stem, _, extension = name.rpartition(".") if "." in name else (name, "", "")
    try:
        stem = get_valid_filename(stem).lstrip(".")
    except SuspiciousFileOperation:
        stem = ""
    extension = re.sub(r"[^A-Za-z0-9]", "", extension)
    stem = stem or "attachment"
    return f"{stem}.{extension}" if extension else stem


def validate_attachment(upload: UploadedFile) -> None:
    """Size limit and type allow-list (SPEC §4), with a message naming the file."""
    name = stored_name(upload.name or "")
    extension = PurePath(name).suffix.lower().lstrip(".")
    allowed = [e.lower() for e in settings.ATTACHMENT_EXTENSIONS]
    if extension not in allowed:
        raise ValidationError(
            f"“{name}”: this type of file is not accepted. Allowed types: "
            + ", ".join(f".{e}" for e in allowed)
            + "."
        )
    size = upload.size or 0
    if size == 0:
        raise ValidationError(f"“{name}” is empty.")
    if size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            f"“{name}” is {filesizeformat(size)}; the limit is "
            f"{filesizeformat(settings.ATTACHMENT_MAX_BYTES)} per file."
        )
    detected = _detected_type(upload)
    if not _type_fits(extension, detected):
        raise ValidationError(
            f"“{name}” does not contain what its name says: it looks like {detected}, "
            f"not a .{extension} file."
        )
    if extension in IMAGE_FORMATS:
        _open_image(upload, name, IMAGE_FORMATS[extension])


def attachment_errors(uploads: Iterable[UploadedFile]) -> list[str]:
    """What each file breaks, one message per problem (empty when all are fine)."""
    errors = []
    for upload in uploads:
        try:
            validate_attachment(upload)
        except ValidationError as error:
            errors.extend(error.messages)
    return errors


def validate_attachments(uploads: Iterable[UploadedFile]) -> list[UploadedFile]:
    uploads = list(uploads)
    if errors := attachment_errors(uploads):
        raise ValidationError({"attachments": errors})
    return uploads


def store_attachments(
    case: Case, update: CaseUpdate | None, uploads: list[UploadedFile], user: User | None
) -> None:
    for upload in uploads:
        name = stored_name(upload.name or "")
        extension = PurePath(name).suffix.lower().lstrip(".")
        # The type is ours to decide from the allowed extension, never the browser's claim
        # (and validate_attachment has checked that the content agrees with it).
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        content = _reencoded(upload, name, extension) if extension in IMAGE_FORMATS else upload
        attachment = Attachment(
            case=case,
            update=update,
            filename=name,
            content_type=content_type,
            size=content.size or 0,
            uploaded_by=user,
        )
        attachment.file.save(_storage_name(name), content, save=False)
        attachment.save()


# --- thumbnails --------------------------------------------------------------------------------

THUMBNAIL_SIZE = (320, 240)
# Refuse decompression bombs well below Pillow's own limit: a screenshot is a few megapixels.
THUMBNAIL_MAX_PIXELS = 40_000_000


def attachment_limits() -> dict:
    """The limits as people read them, for the forms' help text (from the settings)."""
    return {
        "max_size": filesizeformat(settings.ATTACHMENT_MAX_BYTES),
        "types": ", ".join(f".{e.lower()}" for e in settings.ATTACHMENT_EXTENSIONS),
        "accept": ",".join(f".{e.lower()}" for e in settings.ATTACHMENT_EXTENSIONS),
    }


def attachment_thumbnail(attachment: Attachment) -> bytes | None:
    """A small PNG re-encoded from the stored image, or None when it is not a readable image.
    Re-encoding means the browser only ever gets pixels we drew, never the uploaded bytes."""
    if not attachment.is_image:
        return None
    try:
        with attachment.file.open("rb") as stored, Image.open(stored) as image:
            if image.width * image.height > THUMBNAIL_MAX_PIXELS:
                return None
            image.thumbnail(THUMBNAIL_SIZE)
            converted = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
            out = BytesIO()
            converted.save(out, format="PNG", optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
