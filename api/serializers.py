"""What the API reads and writes. Serializers shape JSON and check types; every rule is in the
services (``helpdesk.services``, ``tenants.services``), called by the views."""

from __future__ import annotations

from urllib.parse import quote

from django.http import QueryDict
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from rest_framework import serializers

from api.models import WebhookEvent, WebhookSubscription
from helpdesk import access
from helpdesk.models import Attachment, Case, CaseUpdate, Severity, Status, Tier
from sla.models import ResponseClock
from sla.selectors import SlaStatus, clock_tiers
from tenants.models import Membership, Role, Tenant


def _json_type(field: serializers.Field) -> type | tuple[type, ...] | None:
    """The JSON type the schema gives a writable field (None: no check of ours)."""
    if isinstance(field, serializers.BooleanField):
        return bool
    if isinstance(field, serializers.IntegerField):
        return int
    if isinstance(field, serializers.ListField):
        return list
    if isinstance(field, serializers.ChoiceField):
        kinds = {type(key) for key in field.choices}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(field, serializers.CharField):
        return str
    return None


class StrictTypes:
    """JSON values of exactly the type the schema states: the framework would take 0 for a
    name or "yes" for a flag, which a client that sent them almost certainly did not mean.
    (Form data, whose values are all text, is left to the fields' own parsing.)"""

    def to_internal_value(self, data):
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            errors = {}
            for name, field in self.fields.items():  # type: ignore[attr-defined]
                value = data.get(name)
                expected = None if field.read_only else _json_type(field)
                if value is None or expected is None:
                    continue
                if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                    names = {bool: "true or false", int: "a whole number", list: "a list"}
                    errors[name] = [f"Expected {names.get(expected, 'text')}."]  # type: ignore[call-overload]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)  # type: ignore[misc]


_DATETIME = serializers.DateTimeField()
_URL_TEMPLATES: dict[tuple[str | None, str], str] = {}


def _case_url(reference: str) -> str:
    """``reverse("api:case-detail", args=[reference])`` without resolving the route for every
    row: its path is reversed once (per URL configuration and prefix) with a placeholder."""
    key = (get_urlconf(), get_script_prefix())
    template = _URL_TEMPLATES.get(key)
    if template is None:
        template = _URL_TEMPLATES[key] = reverse("api:case-detail", args=["REFERENCE"])
    return template.replace("REFERENCE", quote(reference, safe=""))


def _when(value):
    """What ``DateTimeField().to_representation`` writes (ISO 8601 in the active time zone, UTC
    as "Z"), without its per-value settings lookups: three per case, 25 cases a page."""
    if value is None:
        return None
    if value.tzinfo is None:  # never from the database (USE_TZ): the framework's way
        return _DATETIME.to_representation(value)
    try:
        text = value.astimezone(timezone.get_current_timezone()).isoformat()
    except OverflowError:
        return _DATETIME.to_representation(value)  # its error for a date at the calendar's edge
    return text[:-6] + "Z" if text.endswith("+00:00") else text


_SEVERITY_NAMES = {value: str(label) for value, label in Severity.choices}


def viewer_clocks(case: Case, user) -> list[ResponseClock]:
    """The clocks the caller's side follows (``sla.selectors.clock_tiers``, the one rule): the
    requesting side its tier one's; a reseller both (its tier one first); provider staff every
    clock of the case. Earlier provider clocks of a re-escalated case come along as history."""
    clocks = sorted(case.response_clocks.all(), key=lambda c: (c.tier, c.sequence))
    if clock_tiers(user) == (Tier.ONE,):
        return [c for c in clocks if c.tier == Tier.ONE]
    return clocks


class ClockSerializer(serializers.Serializer):
    tier = serializers.IntegerField()
    state = serializers.CharField()
    dispatched_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField()
    responded_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    minutes_left = serializers.FloatField(allow_null=True)

    def to_representation(self, clock: ResponseClock):
        now = timezone.now()
        status = SlaStatus(clock=clock, state=clock.state_at(now), now=now)
        return {
            "tier": clock.tier,
            "state": str(status.state),
            "dispatched_at": _when(clock.dispatched_at),
            "due_at": _when(clock.due_at),
            "responded_at": _when(clock.responded_at),
            "stopped_at": _when(clock.stopped_at),
            "minutes_left": status.minutes_left,
        }


class AttachmentSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size", "created_at", "download_url"]

    def get_download_url(self, attachment: Attachment) -> str:
        return reverse("api:attachment-download", args=[attachment.pk])

    def to_representation(self, attachment: Attachment) -> dict:
        """The declared fields written directly, as the case serializers do (a test holds
        them equal to the framework's output)."""
        return {
            "id": attachment.pk,
            "filename": attachment.filename,
            "content_type": attachment.content_type,
            "size": attachment.size,
            "created_at": _when(attachment.created_at),
            "download_url": self.get_download_url(attachment),
        }


_ATTACHMENT = AttachmentSerializer()


class UpdateSerializer(serializers.ModelSerializer):
    author = serializers.EmailField(source="author_email", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = CaseUpdate
        fields = ["id", "visibility", "author", "by_support", "body", "created_at", "attachments"]

    def to_representation(self, update: CaseUpdate) -> dict:
        """The declared fields written directly (a test holds them equal to the framework's
        output): a case's thread is most of its body."""
        return {
            "id": update.pk,
            "visibility": update.visibility,
            "author": update.author_email,
            "by_support": update.by_support,
            "body": update.body,
            "created_at": _when(update.created_at),
            "attachments": [_ATTACHMENT.to_representation(a) for a in update.attachments.all()],
        }


class CaseSummarySerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    severity_name = serializers.CharField(source="get_severity_display", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "reference",
            "url",
            "tenant",
            "subject",
            "severity",
            "severity_name",
            "status",
            "channel",
            "requester_email",
            "created_at",
            "updated_at",
            "first_response_at",
        ]

    def get_url(self, case: Case) -> str:
        return reverse("api:case-detail", args=[case.reference])

    def to_representation(self, case: Case) -> dict:
        """The declared fields (what the schema shows; a test holds the two equal), written
        directly: the framework's generic path (a signature check of every callable source on
        every row, a reverse() per row) cost more than the page's query on a first page."""
        return {
            "reference": case.reference,
            "url": _case_url(case.reference),
            "tenant": case.tenant.slug,
            "subject": case.subject,
            "severity": case.severity,
            "severity_name": _SEVERITY_NAMES.get(case.severity) or case.get_severity_display(),
            "status": case.status,
            "channel": case.channel,
            "requester_email": case.requester_email,
            "created_at": _when(case.created_at),
            "updated_at": _when(case.updated_at),
            "first_response_at": _when(case.first_response_at),
        }


class CaseSerializer(CaseSummarySerializer):
    clocks = serializers.SerializerMethodField()
    updates = serializers.SerializerMethodField()

    def to_representation(self, case: Case) -> dict:
        return {
            **super().to_representation(case),
            "description": case.description,
            "clocks": self.get_clocks(case),
            "updates": self.get_updates(case),
        }

    class Meta(CaseSummarySerializer.Meta):
        fields = [*CaseSummarySerializer.Meta.fields, "description", "clocks", "updates"]

    def get_clocks(self, case: Case) -> list[dict]:
        user = self.context["request"].user
        return [ClockSerializer(c).data for c in viewer_clocks(case, user)]

    def get_updates(self, case: Case) -> list[dict]:
        if self.context.get("just_opened"):
            return []  # opening writes no update (its attachments belong to the case)
        user = self.context["request"].user
        updates = (
            access.updates_of(user, case)
            .prefetch_related("attachments")
            .order_by("created_at", "pk")
        )
        return UpdateSerializer(updates, many=True).data


class CaseOpenSerializer(StrictTypes, serializers.Serializer):
    tenant = serializers.SlugField(
        required=False, help_text="The organisation's slug (default: the key's own)."
    )
    subject = serializers.CharField(max_length=200)
    description = serializers.CharField()
    severity = serializers.ChoiceField(
        choices=Severity.choices, help_text="Required: 1 Emergency … 5 Minor (no default)."
    )
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, allow_empty=True
    )


class CaseChangeSerializer(StrictTypes, serializers.Serializer):
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, data):
        if ("severity" in data) == ("status" in data):
            raise serializers.ValidationError("Change either the severity or the status.")
        return data


class UpdateAddSerializer(StrictTypes, serializers.Serializer):
    body = serializers.CharField()
    internal = serializers.BooleanField(default=False)
    escalation = serializers.BooleanField(default=False)
    attachments = serializers.ListField(
        child=serializers.FileField(), required=False, allow_empty=True
    )


class PersonSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    active = serializers.BooleanField(source="user.is_active", read_only=True)
    id = serializers.IntegerField(source="user.pk", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "first_name", "last_name", "role", "active"]


class InviteSerializer(StrictTypes, serializers.Serializer):
    email = serializers.EmailField()
    first_name = serializers.CharField(required=False, allow_blank=True, default="")
    last_name = serializers.CharField(required=False, allow_blank=True, default="")
    role = serializers.ChoiceField(choices=Role.choices, default=Role.AGENT)


class ActiveSerializer(StrictTypes, serializers.Serializer):
    active = serializers.BooleanField()


class CustomerSerializer(StrictTypes, serializers.ModelSerializer):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "timezone", "is_active"]
        read_only_fields = ["id", "is_active"]
        # The service checks the slug (free, or made from the name) and the time zone.
        extra_kwargs = {
            "slug": {"required": False, "validators": []},
            "timezone": {"required": False},
        }


class CustomerChangeSerializer(StrictTypes, serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    active = serializers.BooleanField(required=False)


class PlanSerializer(StrictTypes, serializers.Serializer):
    plan = serializers.CharField(
        allow_null=True, help_text="A plan's name, or null for the default plan."
    )


class WebhookSubscriptionSerializer(StrictTypes, serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices),
        required=False,
        help_text="Event types to receive; empty or absent: all.",
    )

    class Meta:
        model = WebhookSubscription
        fields = ["id", "url", "events", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["events"] = [e for e in instance.events.split(",") if e]
        return data


class WebhookSecretSerializer(WebhookSubscriptionSerializer):
    """A subscription with its signing secret: only in the answer that creates it or rotates it."""

    secret = serializers.CharField(
        read_only=True, help_text="Shown when the subscription is created or its secret rotated."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]
