"""Reading a raw message: headers, the text a person wrote, attachments (issue 12 §6).

Nothing here touches the database, and nothing here raises on bad input: a header that does
not parse is treated as absent, a body in an unknown charset is decoded as well as
charset-normalizer can, HTML-only mail is turned into plain text by inscriptis.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from charset_normalizer import from_bytes
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from mailparser_reply import EmailReplyParser

MSGID_RE = re.compile(r"<([^<>\s]{1,250})>")
REFERENCE_RE = re.compile(r"\[(CS-\d{1,12})\]", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"\d{1,4}[./:-]\d{1,2}|@|<")
_INSCRIPTIS = ParserConfig(css=CSS_PROFILES["strict"], display_links=False)
_REPLY_PARSER = EmailReplyParser(
    languages=["en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs", "ja", "zh", "ko"]
)


@dataclass
class Part:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False


@dataclass
class ParsedMessage:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_address: str = ""
    from_name: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    attachments: list[Part] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    problems: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this message answers, nearest first."""
        ids = list(self.in_reply_to)
        ids += [m for m in reversed(self.references) if m not in ids]
        return ids

    @property
    def subject_reference(self) -> str:
        match = REFERENCE_RE.search(self.subject)
        return match.group(1).upper() if match else ""


class _RememberingHeaderFactory(HeaderRegistry):
    """``email.policy.default``'s header factory, remembering what it built.

    The standard library parses a header again on every read (``get_content_type`` alone reads
    Content-Type several times per part), and makes a new class for it each time. A header
    object is immutable and depends only on its name and value, so the one built before for
    the same name and value is the same answer. Only the MIME headers that structure a message
    are kept (read again and again, and the same in most messages); the others (Subject,
    Message-ID ...) differ per message and are read once. Bounded: long values are not kept,
    and the memory is emptied when full."""

    KEPT = frozenset(
        {"content-type", "content-transfer-encoding", "content-disposition", "mime-version"}
    )
    MAX_ENTRIES = 512
    MAX_VALUE = 500

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type] = {}
        self._headers: dict[tuple[str, str], object] = {}

    def __getitem__(self, name: str) -> type:
        kind = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(kind)
        if made is None:
            made = self._classes[kind] = type("_" + kind.__name__, (kind, self.base_class), {})
        return made

    def __call__(self, name: str, value: str):
        if len(value) > self.MAX_VALUE or name.lower() not in self.KEPT:
            return self[name](name, value)
        key = (name, value)
        header = self._headers.get(key)
        if header is None:
            header = self[name](name, value)
            if len(self._headers) >= self.MAX_ENTRIES:
                self._headers.clear()
            self._headers[key] = header
        return header


POLICY = email.policy.default.clone(header_factory=_RememberingHeaderFactory())


def parse_bytes(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=POLICY)  # type: ignore[return-value]


def dedup_key(raw: bytes) -> tuple[str, str]:
    """(dedup key, Message-ID) of a raw message: its Message-ID, else a hash of the bytes.
    Only the header block is scanned, without the full parser, so this cannot fail."""
    message_id = ""
    try:
        head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        parsed = email.message_from_bytes(head + b"\n\n", policy=email.policy.compat32)
        value = str(parsed.get("Message-ID", "") or "")
        match = MSGID_RE.search(value)
        if match:
            message_id = match.group(1)
    except Exception:  # noqa: S110 - a broken header block simply has no usable Message-ID
        pass
    if message_id:
        return f"mid:{message_id}"[:255], message_id[:255]
    return "sha256:" + hashlib.sha256(raw).hexdigest(), ""


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    try:
        return " ".join(str(value).split())
    except Exception:
        return ""


RAW_HEADERS = frozenset({"message-id", "in-reply-to", "references", "from", "to", "cc"})


def _raw_headers(message: Message) -> dict[str, str]:
    """The first value of each of RAW_HEADERS as received (``Message.get`` reads the first
    too), unfolded, and with bytes that are not UTF-8 made U+FFFD, as the policy would."""
    found: dict[str, str] = {}
    try:
        for name, value in message.raw_items():
            key = name.lower()
            if key in RAW_HEADERS and key not in found:
                text = " ".join(str(value).split())
                try:
                    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                except UnicodeError:
                    text = text.encode("utf-8", "replace").decode("utf-8")
                found[key] = text
    except Exception:  # noqa: S110 - a header block that cannot be read has none of them
        pass
    return found


def _msgids(value: str) -> list[str]:
    return [m for m in MSGID_RE.findall(value)][:100]


def _addresses(values: list[str]) -> list[str]:
    try:
        pairs = getaddresses(values)
    except Exception:
        return []
    return [address.strip().lower() for _, address in pairs if "@" in address]


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes: the declared charset if it decodes cleanly, else charset-normalizer's
    best guess, else UTF-8 with replacement characters."""
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is not None:
        return str(best)
    return data.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    try:
        return get_text(html, _INSCRIPTIS).strip()
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)


def _part_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    try:
        declared = part.get_content_charset()
    except Exception:
        declared = None
    return decode_bytes(data, declared)


def _filename(part: Message) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return str(name or "").strip()


def parse(raw: bytes) -> ParsedMessage:
    message = parse_bytes(raw)
    parsed = ParsedMessage()
    for name in (
        "auto-submitted",
        "precedence",
        "x-auto-response-suppress",
        "x-autoreply",
        "x-autorespond",
        "list-id",
        "list-unsubscribe",
        "return-path",
        "x-helpdesk-loop",
        "content-type",
        "delivered-to",
        "x-original-to",
        "envelope-to",
    ):
        if name in message:
            parsed.headers[name] = _header(message, name)
    parsed.content_type = (message.get_content_type() or "").lower()
    # Message-IDs and addresses are read with our own lenient parsers below, from the values
    # as received: the policy's parsers for them are the slowest part of reading a message,
    # and what they build (display names decoded) is not used.
    raw = _raw_headers(message)
    parsed.message_id = (_msgids(raw.get("message-id", "")) or [""])[0]
    parsed.in_reply_to = _msgids(raw.get("in-reply-to", ""))
    parsed.references = _msgids(raw.get("references", ""))
    name, address = parseaddr(raw.get("from", ""))
    parsed.from_name, parsed.from_address = name, address.strip().lower()
    if "@" not in parsed.from_address:
        parsed.from_address = ""
    parsed.recipients = _addresses(
        [
            parsed.headers.get("delivered-to", ""),
            parsed.headers.get("x-original-to", ""),
            raw.get("to", ""),
            raw.get("cc", ""),
        ]
    )
    parsed.subject = _header(message, "Subject")[:255]
    plain, html = [], []
    for part in _walk(message):
        try:
            disposition = (part.get_content_disposition() or "").lower()
            content_type = part.get_content_type().lower()
        except Exception:
            parsed.problems.append("A part of the message could not be read.")
            continue
        filename = _filename(part)
        if content_type == "message/rfc822":
            parsed.attachments.append(
                Part(filename or "attached-message.eml", content_type, _attached_message(part))
            )
            continue
        if part.is_multipart():
            continue
        if disposition == "attachment" or filename or content_type.startswith("image/"):
            try:
                data = part.get_payload(decode=True) or b""
            except Exception:
                data = b""
            if not isinstance(data, bytes):
                data = str(data).encode()
            name = filename or f"inline-{len(parsed.attachments) + 1}{_extension(content_type)}"
            parsed.attachments.append(Part(name, content_type, data, disposition == "inline"))
        elif content_type == "text/plain":
            plain.append(_part_text(part))
        elif content_type == "text/html":
            html.append(_part_text(part))
    if plain:
        parsed.text = "\n\n".join(t.strip() for t in plain if t.strip())
    elif html:
        parsed.text = "\n\n".join(html_to_text(h) for h in html)
    parsed.text = parsed.text.replace("\x00", "").replace("\r\n", "\n").strip()
    parsed.subject = parsed.subject.replace("\x00", "")
    return parsed


def _walk(message: Message, depth: int = 0):
    """Every leaf part, without descending into attached messages (they are attachments)."""
    if depth > 20:
        return
    if message.get_content_type() == "message/rfc822":
        yield message
        return
    if message.is_multipart():
        payload = message.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    yield from _walk(sub, depth + 1)
        return
    yield message


def _attached_message(part: Message) -> bytes:
    try:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) else payload
        return inner.as_bytes() if isinstance(inner, Message) else str(inner).encode()
    except Exception:
        return b""


def _extension(content_type: str) -> str:
    return {
        "image/png": ".png",
        "image/jpeg": ".jpg",
        "image/gif": ".gif",
        "text/plain": ".txt",
        "application/pdf": ".pdf",
    }.get(content_type, ".bin")


def latest_reply(text: str) -> str:
    """The new words of a reply, without quoted history and signature (or all of it when the
    parser finds nothing of its own)."""
    try:
        reply = (_REPLY_PARSER.parse_reply(text) or "").strip()
    except Exception:
        reply = ""
    return _strip_quotes(reply or text) or text


def _strip_quotes(text: str) -> str:
    """Drop quoted lines ("> ...") and the attribution line(s) just above each quoted block
    ("On ... wrote:", in whatever language), which the parser misses in languages it lacks
    and in bottom-posted replies."""
    lines = text.rstrip().split("\n")
    drop = set()
    for index, line in enumerate(lines):
        if not line.lstrip().startswith(">"):
            continue
        drop.add(index)
        if index and not lines[index - 1].lstrip().startswith(">"):
            above = index - 1
            while above > 0 and not lines[above].strip():
                above -= 1
            if lines[above].rstrip().endswith(":"):
                # Clients wrap the attribution: take the lines above it that carry a date
                # or an address too (never the reply's own words).
                start = above
                while start > 0 and above - start < 2 and _ATTRIBUTION.search(lines[start - 1]):
                    start -= 1
                drop.update(range(start, index))
    kept = [line for index, line in enumerate(lines) if index not in drop]
    return "\n".join(kept).strip()
