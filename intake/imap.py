"""IMAP polling (issue 12 §1) with imap-tools: fetch what is new, never delete, never twice.

Each mailbox remembers its folder's UIDVALIDITY and the last UID stored. A poll asks for UIDs
above it, fetches them in batches with ``BODY.PEEK[]`` (nothing is marked seen, moved or
deleted), stores each raw message (a row unique per mailbox, UIDVALIDITY and UID, and per
Message-ID), then moves ``last_uid`` forward. A poll killed anywhere re-fetches at most the
batch it was in, and storing those again finds the rows already there: no duplicates. When the
server changes UIDVALIDITY the UIDs start over; the Message-ID dedup keeps that from
duplicating anything either. Processing happens after storing, message by message.

The password is used to log in and nowhere else: errors are recorded and logged without it.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.utils import timezone
from imap_tools import MailBox, MailBoxUnencrypted

from intake.models import InboundMessage, Mailbox, Outcome, Source
from intake.services import message_process, message_store

logger = logging.getLogger(__name__)
UID_RE = re.compile(rb"UID (\d+)")


def _connect(mailbox: Mailbox):
    timeout = settings.INTAKE_IMAP_TIMEOUT
    cls = MailBox if mailbox.use_ssl else MailBoxUnencrypted
    client = cls(mailbox.host, mailbox.port, timeout=timeout)
    return client.login(mailbox.username, mailbox.password, initial_folder=mailbox.folder)


def _scrub(text: str, mailbox: Mailbox) -> str:
    if mailbox.password:
        text = text.replace(mailbox.password, "***")
    return text[:1000]


def mailbox_poll(mailbox: Mailbox, *, process: bool = True) -> int:
    """Store the mailbox's new messages (and process them). Returns how many were new."""
    try:
        new_ids = _fetch_new(mailbox)
    except Exception as error:  # noqa: BLE001 - recorded, retried by the next poll
        message = _scrub(f"{type(error).__name__}: {error}", mailbox)
        logger.warning("Polling mailbox %s failed: %s", mailbox.name, message)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_error=message, last_polled_at=timezone.now()
        )
        return 0
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_polled_at=timezone.now())
    if process:
        # The new ones, and any a killed poll stored without processing.
        left = InboundMessage.objects.filter(mailbox=mailbox, outcome=Outcome.PENDING)
        for pk in sorted({*new_ids, *left.values_list("pk", flat=True)}):
            message_process(pk)
    return len(new_ids)


def _fetch_new(mailbox: Mailbox) -> list[int]:
    batch = max(1, settings.INTAKE_IMAP_BATCH)
    stored: list[int] = []
    with _connect(mailbox) as client:
        status = client.folder.status(mailbox.folder, ["UIDVALIDITY"])
        uidvalidity = int(status["UIDVALIDITY"])
        if mailbox.uidvalidity != uidvalidity:
            # New numbering: start over; Message-ID dedup keeps known messages from returning.
            mailbox.uidvalidity, mailbox.last_uid = uidvalidity, 0
            Mailbox.objects.filter(pk=mailbox.pk).update(uidvalidity=uidvalidity, last_uid=0)
        uids = [
            int(u)
            for u in client.uids(f"UID {mailbox.last_uid + 1}:*")
            if int(u) > mailbox.last_uid  # "n:*" always matches the last message
        ]
        uids.sort()
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            result = client.client.uid("FETCH", ",".join(map(str, chunk)), "(UID BODY.PEEK[])")
            if result[0] != "OK":
                raise OSError(f"UID FETCH failed: {result[0]}")
            fetched: dict[int, bytes] = {}
            for item in result[1]:
                if isinstance(item, tuple) and len(item) == 2:
                    match = UID_RE.search(item[0])
                    if match:
                        fetched[int(match.group(1))] = item[1]
            for uid in chunk:
                raw = fetched.get(uid)
                if raw is None:  # expunged meanwhile by someone else: nothing to keep
                    continue
                row, created = message_store(
                    raw=raw,
                    source=Source.IMAP,
                    recipient=mailbox.brand.support_email if mailbox.brand_id else "",
                    mailbox=mailbox,
                    uidvalidity=uidvalidity,
                    uid=uid,
                )
                if created or row.outcome == Outcome.PENDING:
                    stored.append(row.pk)
            # Only after the batch is stored: a crash before this re-fetches the batch.
            mailbox.last_uid = chunk[-1]
            # Never backwards: an overlapping poll may have got further.
            Mailbox.objects.filter(pk=mailbox.pk, last_uid__lt=chunk[-1]).update(last_uid=chunk[-1])
    return stored


def mailboxes_poll() -> int:
    total = 0
    for mailbox in Mailbox.objects.filter(is_active=True).select_related("brand"):
        total += mailbox_poll(mailbox)
    return total
