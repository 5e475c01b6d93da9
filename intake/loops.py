"""Mail loops and noise (issue 12 §5): is a message automatic? Automatic messages never open
or reopen cases; the returned reason names the header that gave it away."""

from __future__ import annotations

from helpdesk.reply_address import LOOP_HEADER
from intake.parsing import ParsedMessage

ROBOT_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "noreply", "no-reply"})


def automatic_reason(parsed: ParsedMessage, own_ids: set[str] | None = None) -> str:
    """Why ``parsed`` is automatic, or "" for a message a person wrote."""
    auto = parsed.header("auto-submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto}"
    precedence = parsed.header("precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    if "x-auto-response-suppress" in parsed.headers:
        return f"X-Auto-Response-Suppress: {parsed.header('x-auto-response-suppress')}"
    for name in ("x-autoreply", "x-autorespond"):
        if name in parsed.headers:
            return f"{name.title()}: {parsed.header(name)}"
    for name in ("list-id", "list-unsubscribe"):
        if name in parsed.headers:
            return f"{name.title()} (mailing list)"
    if "return-path" in parsed.headers and parsed.header("return-path").strip() in {"<>", ""}:
        return "Return-Path: <> (empty: a bounce or other automatic message)"
    local = parsed.from_address.partition("@")[0]
    if local in ROBOT_LOCAL_PARTS:
        return f"From {parsed.from_address} (an automatic sender)"
    if parsed.content_type == "multipart/report":
        return "Content-Type: multipart/report (a delivery status report)"
    if LOOP_HEADER.lower() in parsed.headers:
        return f"{LOOP_HEADER}: our own email came back"
    if own_ids and parsed.message_id in own_ids:
        return "Message-ID is one of ours: our own email came back"
    return ""
