"""Attachments: the limits a file must meet and where it is kept (SPEC §4). Called by the
services inside their transactions, and by forms to say early what a file breaks."""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from io import BytesIO
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from PIL import Image, UnidentifiedImageError

from helpdesk.models import Attachment, Case, CaseUpdate
from tenants.models import User

# --- attachments ------------------------------------------------------------------------------


def validate_attachment(upload: UploadedFile) -> None:
    """Size limit and type allow-list (SPEC §4), with a message naming the file."""
    name = PurePath(upload.name or "").name
    extension = PurePath(name).suffix.lower().lstrip(".")
    allowed = [e.lower() for e in settings.ATTACHMENT_EXTENSIONS]
    if extension not in allowed:
        raise ValidationError(
            f"“{name}”: this type of file is not accepted. Allowed types: "
            + ", ".join(f".{e}" for e in allowed)
            + "."
        )
    if upload.size == 0:
        raise ValidationError(f"“{name}” is empty.")
    if upload.size > settings.ATTACHMENT_MAX_BYTES:
        raise ValidationError(
            f"“{name}” is {filesizeformat(upload.size)}; the limit is "
            f"{filesizeformat(settings.ATTACHMENT_MAX_BYTES)} per file."
        )


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
        name = PurePath(upload.name).name
        # The type is ours to decide from the allowed extension, never the browser's claim.
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        attachment = Attachment(
            case=case,
            update=update,
            filename=name,
            content_type=content_type,
            size=upload.size,
            uploaded_by=user,
        )
        attachment.file.save(name, upload, save=False)
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
