"""Inbound email (SPEC §7, issue 12): every message is kept raw before it is parsed, and ends
with exactly one recorded outcome. Mailboxes are the IMAP accounts polled for it."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from helpdesk.models import Case, CaseUpdate
from tenants.brand_models import Brand
from tenants.models import Tenant


class Source(models.TextChoices):
    PIPE = "pipe", "Mail server pipe (ingest_email)"
    HTTP = "http", "HTTP endpoint"
    IMAP = "imap", "IMAP mailbox"
    ADMIN = "admin", "Admin"


class Outcome(models.TextChoices):
    PENDING = "pending", "Not processed yet"
    CASE_OPENED = "case_opened", "Case opened"
    UPDATE_ADDED = "update_added", "Update added"
    IGNORED = "ignored", "Ignored as automatic"
    TRIAGE = "triage", "Held for triage"
    DISMISSED = "dismissed", "Dismissed by staff"
    FAILED = "failed", "Failed (retried)"


# Outcomes after which nothing more happens to a message.
FINAL_OUTCOMES = frozenset(
    {Outcome.CASE_OPENED, Outcome.UPDATE_ADDED, Outcome.IGNORED, Outcome.DISMISSED}
)


class Mailbox(models.Model):
    """An IMAP mailbox polled every minute (typically one per brand's support address). The
    password is write-only: the admin never shows it, and it is never logged."""

    name = models.CharField(max_length=80, unique=True)
    brand = models.ForeignKey(
        Brand,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="The brand whose support address this mailbox receives. Empty: decided by "
        "the address each message was sent to.",
    )
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    use_ssl = models.BooleanField("TLS", default=True)
    username = models.CharField(max_length=255)
    password = models.CharField(max_length=255, blank=True)
    folder = models.CharField(max_length=255, default="INBOX")
    is_active = models.BooleanField(default=True)
    # Where the poll got to: messages with a UID above last_uid under this UIDVALIDITY are new.
    uidvalidity = models.BigIntegerField(null=True, blank=True, editable=False)
    last_uid = models.BigIntegerField(default=0, editable=False)
    last_polled_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name_plural = "mailboxes"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the password
        return f"<Mailbox {self.pk} {self.username}@{self.host}:{self.port}/{self.folder}>"


class InboundMessage(models.Model):
    """One message as received, raw, and what became of it."""

    # Message-ID, or "sha256:<hex>" of the raw bytes when it has none: the same message
    # delivered twice (a retrying mail server, two mailboxes, a re-poll) is kept once.
    dedup_key = models.CharField(max_length=255, unique=True)
    message_id = models.CharField("Message-ID", max_length=255, blank=True, db_index=True)
    raw = models.BinaryField(help_text="The message exactly as received.")
    size = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=10, choices=Source.choices)
    recipient = models.CharField(
        max_length=255, blank=True, help_text="The address it was delivered to, when known."
    )
    mailbox = models.ForeignKey(Mailbox, null=True, blank=True, on_delete=models.SET_NULL)
    imap_uidvalidity = models.BigIntegerField(null=True, blank=True)
    imap_uid = models.BigIntegerField(null=True, blank=True)
    received_at = models.DateTimeField()

    # Filled by processing (best effort: a message that cannot be parsed still has an outcome).
    from_address = models.CharField(max_length=255, blank=True, db_index=True)
    subject = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(
        max_length=15, choices=Outcome.choices, default=Outcome.PENDING, db_index=True
    )
    reason = models.TextField(blank=True, help_text="Why it ended this way.")
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_emails"
    )
    update = models.ForeignKey(CaseUpdate, null=True, blank=True, on_delete=models.SET_NULL)
    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.SET_NULL)
    sender_tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL)
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The staff member who settled it from triage.",
    )

    class Meta:
        verbose_name = "inbound email"
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="inbound_newest"),
            # The hourly cap: cases opened by one sender lately.
            models.Index(fields=["from_address", "outcome", "processed_at"], name="inbound_cap"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["mailbox", "imap_uidvalidity", "imap_uid"],
                name="inbound_imap_uid_once",
                condition=models.Q(imap_uid__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_address or '?'}: {self.subject or '(no subject)'}"


class Triage(InboundMessage):
    """The triage list: messages waiting for staff (an admin view of the same rows)."""

    class Meta:
        proxy = True
        verbose_name = "triage item"
        verbose_name_plural = "triage"
