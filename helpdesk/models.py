"""Cases and what happens to them (SPEC §4). Changes go through ``helpdesk.services`` only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.storage import Storage
from django.db import models
from django.urls import reverse

from tenants.brand_models import PrivateFileStorage
from tenants.models import Tenant

if TYPE_CHECKING:
    from sla.models import ResponseClock


class Severity(models.IntegerChoices):
    EMERGENCY = 1, "Emergency"
    CRITICAL = 2, "Critical"
    MAJOR = 3, "Major"
    MODERATE = 4, "Moderate"
    MINOR = 5, "Minor"


# The contract's descriptions, shown wherever severity is chosen (SPEC §4). ``{provider}`` is
# the name of whoever supports the viewer (their brand's: a sub-customer's reseller, never
# Phonism); format the effort texts with ``provider=brand.name``.
SEVERITY_GUIDE: dict[int, tuple[str, str]] = {
    Severity.EMERGENCY: (
        "Outside standard hours; major malfunction of a whole customer site or region, one device "
        "brand across the network, or several brands at one site; many users cannot work; "
        "mission-critical.",
        "On-call incident coordination between {provider} and designated customer resources.",
    ),
    Severity.CRITICAL: (
        "Very high impact; same scope as Emergency, during standard hours.",
        "Maximum effort from both sides until a fix or workaround.",
    ),
    Severity.MAJOR: (
        "Critical loss of platform function or performance; many users blocked; major feature "
        "failure with no or an inconvenient workaround; usable but severely limited.",
        "Intensive effort until a fix or workaround.",
    ),
    Severity.MODERATE: (
        "Moderate loss of function or performance; several production users impacted; minor "
        "feature failure with a convenient workaround.",
        "Moderate effort until a fix or workaround.",
    ),
    Severity.MINOR: (
        "No impact on usability; how-to questions, configuration, best practice, feature "
        "requests, documentation.",
        "Low effort until a fix, workaround or answer.",
    ),
}


class Channel(models.TextChoices):
    PORTAL = "portal", "Portal"
    WIDGET = "widget", "Widget"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    API = "api", "API"
    OTHER = "other", "Other"


# Channels where the customer's agent picks the severity themselves; every other channel
# defaults to Minor (SPEC §4). An API caller is a customer's agent's integration: it must
# choose, as on the portal.
SELF_SERVICE_CHANNELS = frozenset({Channel.PORTAL, Channel.WIDGET, Channel.API})


class Status(models.TextChoices):
    NEW = "new", "New"
    RESPONDED = "responded", "Responded"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING = "waiting", "Waiting on customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = frozenset({Status.NEW, Status.RESPONDED, Status.IN_PROGRESS, Status.WAITING})


class Tier(models.IntegerChoices):
    ONE = 1, "Tier one"
    TWO = 2, "Tier two (provider)"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public reply"
    RESELLER_NOTE = "reseller_note", "Internal note (reseller and provider)"
    PROVIDER_NOTE = "provider_note", "Internal note (provider only)"
    # Reseller ⇄ provider on an escalated sub-customer case; never shown to the sub-customer.
    ESCALATION = "escalation", "Escalation thread"


class Counter(models.Model):
    """Monotonic counters, e.g. for case references: a number once taken is never given again."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


def awaiting_rank() -> models.Case:
    """Where a case comes in the admin's default list (issue 16): open and not yet answered
    first, then other open cases, then the rest; in each, cases with a due time before those
    without (so that the due time sorts within a rank with no NULLS LAST, which SQLite's
    indexes do not take). The list's ORDER BY and the index ``case_admin_order`` are this one
    expression (statuses sorted: a set's order changes between processes, and PostgreSQL
    uses the index only for the very same expression)."""
    open_statuses = sorted(OPEN_STATUSES)
    unanswered = models.Q(status__in=open_statuses, first_response_at=None)
    is_open = models.Q(status__in=open_statuses)
    no_due = models.Q(response_due_at=None)
    ranks = [
        (unanswered & ~no_due, 0),
        (unanswered, 1),
        (is_open & ~no_due, 2),
        (is_open, 3),
        (~no_due, 4),
    ]
    return models.Case(
        *(models.When(condition, then=models.Value(rank)) for condition, rank in ranks),
        default=models.Value(5),
        output_field=models.IntegerField(),
    )


class Case(models.Model):
    reference = models.CharField(max_length=20, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="cases")
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="requested_cases",
    )
    requester_email = models.EmailField()
    subject = models.CharField(max_length=200)
    description = models.TextField()
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NEW)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.ONE)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(
        help_text="When the request reached the party whose SLA applies."
    )
    first_response_at = models.DateTimeField(null=True, blank=True)
    # A copy of the due time of the case's current response clock (sla.ResponseClock of the
    # case's tier), kept by sla.services so that lists sort by due time on an indexed column.
    response_due_at = models.DateTimeField(null=True, blank=True)
    # The same for tier one's clock whatever the case's tier: the requesting side (and a
    # reseller) see tier one's clock, and their lists sort and filter on it (sla.selectors).
    tier_one_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="case_tenant_newest"),
            models.Index(fields=["-created_at", "-id"], name="case_newest"),
            models.Index(fields=["status", "severity"], name="case_status_severity"),
            # The SLA dashboard's open work per assignee: counted from this index alone.
            models.Index(
                fields=["assignee"],
                name="case_open_assignee",
                condition=models.Q(status__in=sorted(OPEN_STATUSES)),
            ),
            models.Index(fields=["response_due_at", "id"], name="case_response_due"),
            models.Index(fields=["tier_one_due_at", "id"], name="case_tier_one_due"),
            # The admin list's default order: awaiting a response first, due soonest.
            models.Index(
                awaiting_rank(), "response_due_at", models.F("id").desc(), name="case_admin_order"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                name="case_severity_1_to_5", condition=models.Q(severity__gte=1, severity__lte=5)
            ),
        ]

    # Set by ``case_open`` on the case it returns: the tier-one clock it started (None without
    # a usable target), for whoever answers with the new case at once (the API). Not a column.
    opened_clock: ResponseClock | None

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("case-detail", args=[self.reference])

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseUpdate(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="updates")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    author_email = models.EmailField(blank=True)
    visibility = models.CharField(max_length=20, choices=Visibility.choices)
    body = models.TextField()
    by_support = models.BooleanField(
        default=False, help_text="Written by the support side of the case (tier one or provider)."
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        # Not the case's reference: that would read the case for every update listed.
        return f"{self.get_visibility_display()} by {self.author_email or 'the system'}"

    @property
    def is_internal(self) -> bool:
        return self.visibility != Visibility.PUBLIC


def attachment_storage() -> Storage:
    # Only the download view, which asks the access policy, serves attachments.
    return PrivateFileStorage("attachments are downloaded through Attachment.get_absolute_url")


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"cases/{instance.case.reference}/{filename}"


class Attachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    update = models.ForeignKey(
        CaseUpdate,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        help_text="Empty for files sent with the opening request.",
    )
    file = models.FileField(
        upload_to=attachment_path,
        storage=attachment_storage,
        max_length=300,
    )
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.filename

    def get_absolute_url(self) -> str:
        return reverse("attachment-download", args=[self.pk])

    @property
    def is_image(self) -> bool:
        """Whether the case page shows a preview (``attachment-thumbnail``)."""
        return self.content_type in {"image/png", "image/jpeg", "image/gif", "image/webp"}

    def get_thumbnail_url(self) -> str:
        return reverse("attachment-thumbnail", args=[self.pk])


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    UPDATE_ADDED = "update_added", "Update added"
    RESPONDED = "responded", "First response"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    STATUS_CHANGED = "status_changed", "Status changed"
    ASSIGNED = "assigned", "Assigned"
    DUE_CHANGED = "due_changed", "Response due changed"
    ESCALATED = "escalated", "Escalated to tier two"
    HANDED_BACK = "handed_back", "Handed back to tier one"
    SLA_AT_RISK = "sla_at_risk", "Response at risk"
    SLA_BREACHED = "sla_breached", "Response target breached"


class CaseEvent(models.Model):
    """One change to a case: who, when, what, old → new. The case's timeline."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    old_value = models.CharField(max_length=200, blank=True)
    new_value = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    visibility = models.CharField(
        max_length=20, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.case_id}"

    @property
    def summary(self) -> str:
        if self.old_value or self.new_value:
            return f"{self.get_kind_display()}: {self.old_value or '—'} → {self.new_value or '—'}"
        return self.get_kind_display()


# --- outgoing email (helpdesk.outbox, helpdesk.notifications) --------------------------------


class NotificationKind(models.TextChoices):
    OPENED = "opened", "New case (support side)"
    ACKNOWLEDGEMENT = "acknowledgement", "Acknowledgement (requester)"
    REPLY = "reply", "Public reply"
    NOTE = "note", "Internal note"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    STATUS_CHANGED = "status_changed", "Status changed"
    AT_RISK = "at_risk", "Response at risk"
    BREACHED = "breached", "Response target breached"
    EMERGENCY_OPENED = "emergency_opened", "Emergency opened (on call)"
    EMERGENCY_BREACHED = "emergency_breached", "Emergency breached (on call)"
    INVITATION = "invitation", "Invitation"


class Audience(models.TextChoices):
    """Who reads a message, which decides its wording and where its link points."""

    CUSTOMER = "customer", "Requesting side"
    RESELLER = "reseller", "Reseller's tier one"
    STAFF = "staff", "Provider staff"
    ONCALL = "oncall", "On call"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboundEmail(models.Model):
    """One email to send: written in the transaction of the change it tells about, sent by a
    Celery task afterwards. The row outlives a broker outage, so nothing is lost; the send
    claims it with a conditional UPDATE, so nothing goes out twice."""

    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.CASCADE, related_name="emails"
    )
    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    audience = models.CharField(max_length=10, choices=Audience.choices)
    recipients = models.JSONField(help_text="The To addresses.")
    subject = models.CharField(max_length=255)
    message_id = models.CharField("Message-ID", max_length=255, unique=True)
    auto_submitted = models.BooleanField(
        default=True, help_text="Sent with “Auto-Submitted: auto-generated” (RFC 3834)."
    )
    context = models.JSONField(
        default=dict, blank=True, help_text="What the templates need beyond the case."
    )
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(help_text="Last handed to the broker (or tried to be).")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "outgoing email"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "created_at"], name="outbox_case"),
            models.Index(fields=["-created_at", "-id"], name="outbox_newest"),
            # The drain's query: rows not sent yet; few, however long the history grows.
            models.Index(
                fields=["queued_at"],
                name="outbox_unsent",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class IntentKind(models.TextChoices):
    CASE_OPENED = "case_opened", "Case opened"


class NotificationIntent(models.Model):
    """A notification still to be worked out: one row written in the transaction of the change
    (instead of looking up recipients and brands and writing an email per audience there),
    expanded into outbox rows by a worker and then deleted. It commits with the change, so a
    broker that is down loses nothing: the drain expands intents nobody has."""

    kind = models.CharField(max_length=20, choices=IntentKind.choices)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(help_text="Last handed to the broker (or tried to be).")
    # The drain's failed expansions (``notifications.intents_drain``): counted, the last error
    # kept, and after ``INTENT_MAX_ATTEMPTS`` given up (``failed_at``) until staff retry it.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["queued_at"], name="intent_queued")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.case_id}"


# --- canned replies (issue 16) -----------------------------------------------------------------


class CannedReply(models.Model):
    """A reply a team writes often, with placeholders filled from the case when it is used:
    ``{requester_name}``, ``{reference}``, ``{subject}``, ``{organisation}``, ``{agent_name}``.
    A team is the provider's staff (the provider tenant) or a reseller's tier one."""

    team = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField(max_length=100)
    body = models.TextField(
        help_text="Placeholders: {requester_name}, {reference}, {subject}, {organisation}, "
        "{agent_name}."
    )

    class Meta:
        verbose_name_plural = "canned replies"
        ordering = ["team", "title"]
        constraints = [
            models.UniqueConstraint(fields=["team", "title"], name="canned_reply_title_per_team")
        ]

    def __str__(self) -> str:
        return self.title
