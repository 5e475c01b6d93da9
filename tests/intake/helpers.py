"""Building messages the way mail clients send them, and feeding them to the intake."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from helpdesk.models import NotificationIntent
from helpdesk.notifications import intent_expand
from intake.models import InboundMessage, Source
from intake.services import email_ingest


def mail(
    *,
    sender: str = "ann@acme.test",
    to: str = "support@phonism.test",
    subject: str = "Phones cannot register",
    body: str = "Since 9am every handset shows No service.",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
    attachments: list[tuple[str, bytes, str]] = (),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate()
    message["Message-ID"] = message_id or make_msgid(domain="client.example")
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None and body == "":
        message.set_content(html, subtype="html")
    else:
        message.set_content(body)
    for filename, data, content_type in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def ingest(raw: bytes, recipient: str = "") -> InboundMessage:
    return email_ingest(raw=raw, source=Source.PIPE, recipient=recipient)


def expand_notifications() -> None:
    """What the worker does after a case opens (tests run without committing): the intents
    become outbox rows."""
    for pk in NotificationIntent.objects.values_list("pk", flat=True):
        intent_expand(pk)
