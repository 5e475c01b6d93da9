"""Provider staff work cases here. Admin is configuration, but every write goes through
``helpdesk.services`` so the rules and events are the same as on every other channel."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from functools import lru_cache, partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.forms.models import ModelChoiceIterator, ModelChoiceIteratorValue
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.template.response import TemplateResponse
from django.urls import get_script_prefix, path, reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import get_language

from helpdesk import access, services
from helpdesk.admin_forms import (
    CappedCountPaginator,
    HandBackForm,
    ResellerListFilter,
    StaffOpenCaseForm,
)
from helpdesk.admin_views import (
    AssigneeFilter,
    SavedViewFilter,
    admin_default_ordering,
    case_search,
)
from helpdesk.canned import canned_reply_text, insert_at_end
from helpdesk.forms import (
    INSERT_CANNED,
    AttachmentsField,
    CannedReplyField,
    apply_service_errors,
)
from helpdesk.models import (
    Attachment,
    CannedReply,
    Case,
    CaseEvent,
    CaseUpdate,
    Severity,
    Status,
    Visibility,
)
from helpdesk.rowmemo import RowMemo
from helpdesk.services import case_hand_back
from sla.admin import (
    ReadOnlyAdmin,
    SlaAdminMedia,
    SlaClockListFilter,
    SlaStateListFilter,
    state_html,
)
from sla.selectors import sla_status, with_sla
from tenants.access import signed_in
from tenants.models import PEOPLE, Tenant, TenantKind, User


class CaseUpdateForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[
            ("public", "Public reply to the customer"),
            ("internal", "Internal note (provider staff only)"),
            ("escalation", "Escalation thread (to the reseller)"),
        ],
        initial="public",
        help_text="On a reseller's customer's case, write to the reseller in the escalation "
        "thread: the customer only hears from its reseller.",
    )
    canned = CannedReplyField(
        help_text="Inserted into the text above with the case's details filled in (at the "
        "cursor, or after what is written); edit it, then save. Chosen with the text left "
        "empty, it is sent as it stands."
    )
    attachments = AttachmentsField(help_text="Sent with this reply or note, to its readers.")

    class Meta:
        model = CaseUpdate
        fields = ["body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, case: Case | None = None, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.case, self.user = case, user
        self.fields["body"].required = False
        attachments = self.fields["attachments"]
        assert isinstance(attachments, AttachmentsField)
        attachments.show_limits()
        canned = self.fields["canned"]
        assert isinstance(canned, CannedReplyField)
        if case is not None and user is not None:
            canned.offer(case, user)
            # Default to what staff may write: on an escalated sub-customer case a public
            # reply is refused, so the escalation thread.
            kinds = services.update_kinds(case, user)
            if kinds and "public" not in kinds:
                self.fields["kind"].initial = "escalation" if "escalation" in kinds else kinds[0]

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        body = data.get("body", "").strip()
        if data.get("canned") and self.case is not None:
            if body:
                # Never send text nobody has read: inserting shows it in the box first.
                self.add_error(
                    "canned",
                    "Press “Insert” to add the canned reply to your text and read it, or "
                    "choose none.",
                )
            else:
                data["body"] = canned_reply_text(data["canned"], self.case, self.user)
        if self.has_changed() and not data.get("body", "").strip():
            self.add_error("body", "Write a reply or choose a canned reply.")
        if self.has_changed() and self.case is not None and data.get("body"):
            kind = data.get("kind")
            try:
                services.update_visibility(
                    self.case,
                    self.user,
                    internal=kind == "internal",
                    escalation=kind == "escalation",
                )
            except ValidationError as error:
                raise ValidationError(error.messages) from None
        return data


# The reply form's field names ("updates-2-0-body"...): what the page's scripts, its tests and
# any saved form know, from when the reply was an inline formset's first form.
REPLY_PREFIX = "updates-2-0"
REPLY_FIELDS = ["body", "canned", "kind", "attachments"]


def remembered_class(key: tuple, request: HttpRequest, build, *permissions: bool):
    """A form class the admin builds per request (``get_form``: a class made by a factory, its
    fields and widgets made again, about 1 ms of the case page),
    built once and remembered with the people (``tenants.models.PEOPLE``, forgotten whenever
    a person, a group or a permission is written): its widgets' links (add or change the
    assignee...) follow the person's permissions, so it is kept per person and per answer to
    the permission checks it was built from. (Its field callback holds the request it was
    built in, a request of the same person, and runs only while a class is built.)"""
    if not settings.PEOPLE_MEMO:
        return build()
    user = signed_in(request)
    return PEOPLE.get(("admin class", user.pk, *key, *permissions), build)


class HistoryTable:
    """A read-only list of the case's rows (conversation, files, timeline) on the case page: one
    query whatever its length, fetched through the access policy (``visible``), with what its
    columns read (``list_select_related``), shown as a plain table
    (templates/admin/helpdesk/case/history.html) with no form per row. Not an admin inline: an
    inline builds a formset class, a form class and their media for rows never edited. Shown to
    staff who may view its model, as an inline was."""

    model: type[models.Model]
    prefix: str  # the table's group on the page is "<prefix>-group"
    verbose_name_plural: str
    fields: Sequence[str] = ()
    list_select_related: Sequence[str] = ()
    empty = "-"  # the admin's empty mark, as ``rows`` found it

    def __init__(
        self,
        model_admin: admin.ModelAdmin,
        files: Sequence[Attachment] | None = None,
        updates: Sequence[CaseUpdate] | None = None,
    ) -> None:
        self.model_admin = model_admin
        # The case's files and replies, when the page read them already.
        self.files_read, self.updates_read = files, updates

    def visible(self, user: User) -> QuerySet:
        raise NotImplementedError

    def row_class(self, item) -> str:
        return ""

    def shown_to(self, user: User) -> bool:
        opts = self.model._meta
        return any(
            user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")
            for action in ("view", "change")
        )

    def labels(self) -> list[str]:
        """Each column's heading: the field's name in words, or the method's description."""
        labels = []
        for name in self.fields:
            try:
                label = self.model._meta.get_field(name).verbose_name  # type: ignore[union-attr]
            except FieldDoesNotExist:
                label = getattr(getattr(self, name), "short_description", name)
            labels.append(str(capfirst(label)))
        return labels

    def queryset(self, user: User, case: Case) -> QuerySet:
        rows = self.visible(user).filter(case=case)
        if self.list_select_related:
            # Never ``select_related()`` with no names: that joins every foreign key there is
            # (a reply's case, its organisation...), each row building objects nobody reads.
            rows = rows.select_related(*self.list_select_related)
        return rows if rows.ordered else rows.order_by("pk")

    def items(self, user: User, case: Case) -> Iterable:
        """The rows to show (read by ``rows``): the queryset, unless read already."""
        return self.queryset(user, case)

    def rows(self, user: User, case: Case) -> list[SafeString]:
        """Each row as HTML: its cells shown as the admin shows read-only values, each with its
        column's label (on a phone the rows are cards, case.css), and its class (what kind of
        entry it is). Written here rather than cell by cell in the template: a long timeline
        has hundreds of cells."""
        empty = self.empty = self.model_admin.get_empty_value_display()
        columns = [
            (name, self._display(name, empty), conditional_escape(label))
            for name, label in zip(self.fields, self.labels(), strict=True)
        ]
        # What every row's HTML also depends on: the viewer's zone and language (times, words),
        # the empty mark, and the address prefix of links.
        zone, language = timezone.get_current_timezone(), get_language()
        shared: tuple = (type(self), zone, language, empty, get_script_prefix())
        table = []
        for item in self.items(user, case):
            key = self.row_key(item)
            if key is not None:
                key = (*shared, *key)
                row = ROWS.get(key)
                if row is not None:
                    table.append(row)
                    continue
            cells = "".join(
                f'<td data-label="{label}">{conditional_escape(display(item))}</td>'
                for _, display, label in columns
            )
            kind = conditional_escape(self.row_class(item))
            row = mark_safe(f'<tr class="form-row {kind}">{cells}</tr>')  # noqa: S308 - escaped
            if key is not None:
                ROWS.remember(key, row)
            table.append(row)
        return table

    def row_key(self, item) -> tuple | None:
        """Everything a row's HTML is made from (with ``rows``' shared part), to find it again
        among the rows already written; None to write it every time. Every value its cells
        and class show must be in it: a changed value is then a new key, never an old row."""
        return None

    def _display(self, name: str, empty: str):
        """How a column shows a row's value: a method of the table (a link, a label), or the
        model field's value as the admin shows it (``display_for_field``: a choice's words, a
        time in the viewer's zone, text with its line breaks, a person by name), worked out
        once per column rather than asked of every cell."""
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return getattr(self, name)
        assert isinstance(field, models.Field)
        if field.flatchoices:
            words = {value: label for value, label in field.flatchoices}
            return lambda item: words.get(getattr(item, name), empty)
        if isinstance(field, models.DateTimeField):
            # In the viewer's zone, in the admin's format (looked up once, not per cell).
            shape = get_format("DATETIME_FORMAT")
            return lambda item: _when(getattr(item, name), shape, empty)
        if isinstance(field, models.TextField):
            return lambda item: linebreaksbr(_text(getattr(item, name), empty), autoescape=True)
        if isinstance(field, models.CharField | models.ForeignKey):
            return lambda item: _text(getattr(item, name), empty)
        return lambda item: display_for_field(getattr(item, name), field, empty)

    def context(self, user: User, case: Case) -> dict:
        return {
            "prefix": self.prefix,
            "title": capfirst(self.verbose_name_plural),
            "labels": self.labels(),
            "rows": self.rows(user, case),
        }


# The history rows written already (``HistoryTable.rows``): about 25 µs each to write.
ROWS = RowMemo()


def _when(value, shape: str, empty: str) -> str:
    """A time as ``display_for_field`` shows it, with the format already looked up."""
    if value is None:
        return empty
    return _formatted(value, shape, timezone.get_current_timezone(), get_language())


@lru_cache(maxsize=8192)
def _formatted(value, shape: str, zone, language: str | None) -> str:
    """A time in a zone and a format, remembered: Django's ``dateformat`` costs about 0.1 ms a
    call, and a case page shows one per timeline entry, the same ones on every visit. The
    words (month names, "a.m.") are the language's, so the language is part of the key."""
    return dateformat.format(timezone.localtime(value, zone), shape)


def _text(value, empty: str) -> str:
    """A text or a related row as ``display_for_field`` shows it: itself, or the empty mark
    for none or an empty text."""
    return empty if value is None or value == "" else str(value)


def entry_kind_html(visibility: str, label: str) -> str:
    """Who reads an entry, as a label in words with its colour (static/admin-daily/case.css):
    never the colour alone."""
    return format_html('<span class="entry-kind entry-kind-{}">{}</span>', visibility, label)


VISIBILITY_LABELS = dict(Visibility.choices)


@lru_cache(maxsize=64)
def entry_kind(visibility: str) -> str:
    """An entry's visibility as its label (``entry_kind_html``), the words from the choices
    (a handful of values: made once each)."""
    return entry_kind_html(visibility, VISIBILITY_LABELS.get(visibility, visibility))


def files_html(attachments) -> str:
    """Links to files, each with its size as people read it ("1.2 MB")."""
    return format_html_join(
        mark_safe("<br>"),  # noqa: S308 - a constant tag
        '<a href="{}">{}</a> <span class="quiet">({})</span>',
        ((a.get_absolute_url(), a.filename, filesizeformat(a.size)) for a in attachments),
    )


class ConversationTable(HistoryTable):
    model = CaseUpdate
    prefix = "updates"
    verbose_name_plural = "conversation"
    fields = ["created_at", "entry_kind", "author_email", "body", "files"]

    def visible(self, user: User) -> QuerySet[CaseUpdate]:
        return access.updates_visible_to(user)

    def row_key(self, update: CaseUpdate) -> tuple | None:
        if len(update.body) > ROWS.longest:
            return None
        files = tuple((a.pk, a.filename, a.size) for a in self.files_of.get(update.pk, ()))
        shown = (update.created_at, update.visibility, update.author_email, update.body, files)
        return (update.pk, *shown)

    def items(self, user: User, case: Case) -> Iterable[CaseUpdate]:
        # Each reply's files from the case's files as the page read them for the files table
        # (the same policy and order), rather than in a query of their own.
        files: Iterable[Attachment] = self.files_read or ()
        if self.files_read is None:
            files = FilesTable(self.model_admin).queryset(user, case)
        self.files_of: dict[int | None, list[Attachment]] = {}
        for attachment in files:
            self.files_of.setdefault(attachment.update_id, []).append(attachment)
        return self.queryset(user, case) if self.updates_read is None else self.updates_read

    def row_class(self, update: CaseUpdate) -> str:
        return f"entry entry-{update.visibility}"

    @admin.display(description="kind")
    def entry_kind(self, update: CaseUpdate) -> str:
        return entry_kind(update.visibility)

    @admin.display(description="files")
    def files(self, update: CaseUpdate) -> str:
        return files_html(self.files_of.get(update.pk, ())) or "—"


def with_replies(files: list[Attachment], updates: Iterable[CaseUpdate]) -> list[Attachment]:
    """``files``, each with its reply (``Attachment.update``) taken from ``updates`` instead of
    joined to every file; a reply not among them (none should be: the policy shows a reply's
    files with the reply) read in one query."""
    replies = {update.pk: update for update in updates}
    missing = {f.update_id for f in files if f.update_id is not None} - replies.keys()
    if missing:
        replies.update(CaseUpdate.objects.in_bulk(missing))
    for attachment in files:
        if attachment.update_id is not None:
            attachment.update = replies[attachment.update_id]
    return files


class FilesTable(HistoryTable):
    model = Attachment
    prefix = "attachments"
    verbose_name_plural = "attachments"
    fields = ["download", "human_size", "sent_with", "uploader", "created_at"]
    # Nothing joined: each file's reply (its kind) from the page's replies (``with_replies``),
    # the uploader's name from ``people_names``.

    def visible(self, user: User) -> QuerySet[Attachment]:
        return access.attachments_visible_to(user)

    def items(self, user: User, case: Case) -> Iterable[Attachment]:
        files = self.files_read
        if files is None:
            files = with_replies(list(self.queryset(user, case)), ())
        self.names = people_names(attachment.uploaded_by_id for attachment in files)
        return files

    def row_key(self, attachment: Attachment) -> tuple | None:
        update = attachment.update
        return (
            attachment.pk,
            attachment.filename,
            attachment.size,
            None if update is None else update.visibility,
            self.names.get(attachment.uploaded_by_id),
            attachment.created_at,
        )

    @admin.display(description="uploaded by")
    def uploader(self, attachment: Attachment) -> str:
        return self.names.get(attachment.uploaded_by_id) or self.empty

    def row_class(self, attachment: Attachment) -> str:
        update = attachment.update
        return f"entry entry-{update.visibility}" if update else ""

    @admin.display(description="file")
    def download(self, attachment: Attachment) -> str:
        return format_html(
            '<a href="{}">{}</a>', attachment.get_absolute_url(), attachment.filename
        )

    @admin.display(description="size")
    def human_size(self, attachment: Attachment) -> str:
        return filesizeformat(attachment.size)

    @admin.display(description="sent with")
    def sent_with(self, attachment: Attachment) -> str:
        update = attachment.update
        if update is None:
            return "The opening request"
        return entry_kind(update.visibility)


class TimelineTable(HistoryTable):
    model = CaseEvent
    prefix = "events"
    verbose_name_plural = "timeline"
    fields = ["created_at", "kind", "old_value", "new_value", "actor_name", "reason", "seen_by"]

    def visible(self, user: User) -> QuerySet[CaseEvent]:
        return access.events_visible_to(user)

    def items(self, user: User, case: Case) -> Iterable[CaseEvent]:
        events = list(self.queryset(user, case))
        self.names = people_names(event.actor_id for event in events)
        return events

    def row_key(self, event: CaseEvent) -> tuple | None:
        if len(event.reason) > ROWS.longest:
            return None
        actor = self.names.get(event.actor_id)
        shown = (event.kind, event.old_value, event.new_value, actor, event.reason)
        return (event.pk, event.created_at, *shown, event.visibility)

    @admin.display(description="actor")
    def actor_name(self, event: CaseEvent) -> str:
        return self.names.get(event.actor_id) or self.empty

    def row_class(self, event: CaseEvent) -> str:
        return f"entry entry-{event.visibility}"

    @admin.display(description="visibility")
    def seen_by(self, event: CaseEvent) -> str:
        return entry_kind(event.visibility)


def media_html(media: forms.Media) -> SafeString:
    """The page's scripts and style sheets as HTML (``{{ media }}``), written once per set of
    them: merging the form's and the admin's lists and finding each file's static address
    cost 0.3 ms on every case page, for the same few tags every time."""
    css = tuple(
        tuple(sorted((medium, tuple(paths)) for medium, paths in lists.items()))
        for lists in media._css_lists  # type: ignore[attr-defined]
    )
    js = tuple(tuple(paths) for paths in media._js_lists)  # type: ignore[attr-defined]
    html = _MEDIA_HTML.get((css, js))
    if html is None:
        if len(_MEDIA_HTML) >= 64:  # a handful of sets in practice
            _MEDIA_HTML.clear()
        html = _MEDIA_HTML[css, js] = mark_safe(str(media))  # noqa: S308 - Django's tags
    return html


_MEDIA_HTML: dict[tuple, SafeString] = {}


def your_time(instant, calendar_zone: str) -> str:
    """The SLA words give times in the clock calendar's zone (its support hours are there);
    a viewer elsewhere also reads the due time in their own zone, named."""
    viewer = timezone.get_current_timezone()
    if getattr(viewer, "key", None) == calendar_zone:
        return ""
    local = timezone.localtime(instant)
    return f"due {local:%a %H:%M %Z} your time"


class CaseRefused(Exception):
    """A service refused a change submitted on the case page (raised out of ``save_model`` so
    that the page's transaction rolls back)."""

    def __init__(self, error: ValidationError) -> None:
        super().__init__(error)
        self.error = error


STATUS_CHOICES = Status.choices  # (the enum builds the list anew at every read)


class CaseChangeForm(forms.ModelForm):
    """Severity, status and assignee are edited here but applied by the services; the checks
    run in ``clean`` so a refused change is a form error, not a crash."""

    reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the severity changes; kept in the timeline.",
    )

    class Meta:
        model = Case
        fields = ["severity", "status", "assignee"]

    def __init__(self, *args, request: HttpRequest, **kwargs) -> None:
        self.request = request
        super().__init__(*args, **kwargs)
        # The instance as stored (the form's own instance is overwritten before save): a copy
        # of the one the admin fetched, with its tenant, rather than fetching it again.
        self.current = current = copy.copy(self.instance)
        self.reply: CaseUpdateForm | None = None
        if "status" not in self.fields:
            return  # staff who may only view cases: the admin left the form no field
        staff = signed_in(self.request)
        if staff.has_perm("helpdesk.add_caseupdate"):
            # The reply or note written with the case's changes, in the same save: a form of
            # its own beside this one, left empty when only the case changes.
            self.reply = CaseUpdateForm(
                self.data if self.is_bound else None,
                self.files if self.is_bound else None,
                prefix=REPLY_PREFIX,
                empty_permitted=True,
                use_required_attribute=False,
                case=current,
                user=staff,
            )
        # With the reply written in the same save: on a new case, "Waiting on customer" too.
        allowed = {current.status, *services.statuses_with_reply(current, staff)}
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [c for c in STATUS_CHOICES if c[0] in allowed]
        if set(allowed) - {current.status, *services.allowed_statuses(current, staff)}:
            status.help_text = (
                "“In progress” and “Waiting on customer” need a public reply, written below "
                "in the same save (the reply is saved first)."
            )

    def is_valid(self) -> bool:
        # "Insert" of a canned reply (CaseAdmin.insert_canned) shows the page again with the
        # text inserted: nothing of the submission is saved, and it is no error.
        if getattr(self.request, "canned_insert_only", False):
            return False
        valid = super().is_valid()
        return (self.reply is None or self.reply.is_valid()) and valid

    def is_multipart(self) -> bool:
        return super().is_multipart() or (self.reply is not None and self.reply.is_multipart())

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        current = self.current
        refusal = getattr(self.request, "case_refusal", None)
        if refusal is not None:  # the services refused this very change: see CaseAdmin
            apply_service_errors(self, refusal)
        if "severity" in self.changed_data:
            if not data.get("reason", "").strip():
                self.add_error("reason", "Say why the severity changes.")
            if (
                data.get("severity") == Severity.EMERGENCY
                and not current.tenant.emergency_entitlement
            ):
                self.add_error("severity", services.EMERGENCY_NOT_ENTITLED)
        return data


def staff_options() -> list[tuple[int, str]]:
    """The assignee's options, active staff by email as (id, name): remembered with the
    people (``tenants.models.PEOPLE``, forgotten in every process whenever a person, a
    membership or a tenant is written), so the case page does not read them every time."""

    def load() -> list[tuple[int, str]]:
        return [(u.pk, str(u)) for u in User.objects.filter(is_staff=True, is_active=True)]

    if not settings.PEOPLE_MEMO:
        return load()
    return PEOPLE.get(("staff options",), load)


def people_names(ids: Iterable[int | None]) -> dict[int | None, str]:
    """People's names as the admin shows them (``str(user)``) by id, remembered with the
    people (``tenants.models.PEOPLE``, forgotten in every process whenever a person is
    written): the case page's timeline and files name their people without joining each row
    to its person (a query only for names not remembered yet)."""
    keys = [("name", pk) for pk in {pk for pk in ids if pk is not None}]
    if not keys:
        return {}

    def load(missing: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        people = User.objects.filter(pk__in=[pk for _, pk in missing])
        found = {
            person.pk: str(person) for person in people.only("first_name", "last_name", "email")
        }
        return {key: found.get(key[1], "") for key in missing}

    names = PEOPLE.get_many(keys, load) if settings.PEOPLE_MEMO else load(keys)
    return {pk: name for (_, pk), name in names.items() if name}


class StaffChoiceIterator(ModelChoiceIterator):
    """The assignee's options from ``staff_options`` rather than a query; what a submission
    may choose is still checked against the field's queryset (``ModelChoiceField``)."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for pk, name in staff_options():
            yield (ModelChoiceIteratorValue(pk, None), name)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(staff_options()) + (self.field.empty_label is not None)

    def __bool__(self) -> bool:
        return self.field.empty_label is not None or bool(staff_options())


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    class Media:
        # Static files only (strict CSP): the SLA state colours, the entry kinds' colours, and
        # the canned-reply "Insert" at the cursor.
        css = {"all": (*SlaAdminMedia.css["all"], "admin-daily/case.css")}
        js = ("js/canned.js",)

    form = CaseChangeForm
    list_display = [
        "reference",
        "subject",
        "tenant",
        "reseller",
        "severity",
        "status",
        "sla",
        "tier",
        "channel",
        "requester_email",
        "assignee",
        "created_at",
    ]
    list_filter = [
        SavedViewFilter,
        AssigneeFilter,
        SlaStateListFilter,
        SlaClockListFilter,
        ResellerListFilter,
        "status",
        "severity",
        "tier",
        "channel",
        # Choices from the tenant table; "related only" would scan every case for them.
        "tenant",
    ]
    search_fields = ["=reference", "subject", "requester_email"]
    list_select_related = ["tenant__parent", "assignee"]
    list_per_page = 50
    # A million cases: no COUNT(*) of the whole table and no date hierarchy (a DISTINCT over
    # every row); the paginator counts at most CappedCountPaginator.cap rows.
    show_full_result_count = False
    paginator = CappedCountPaginator
    # The case's facts and times are read-only: they are shown as one plain include
    # (``summary``, templates/admin/helpdesk/case/summary.html) rather than as the admin's
    # read-only fields, which build a helper, look the value up and render a template per field.
    # Only what staff change goes through the admin's fieldset (with the channel and tier).
    readonly_fields = ["channel", "tier"]
    fieldsets = [
        ("Handling", {"fields": ["severity", "status", "assignee", "reason", "channel", "tier"]}),
    ]
    summary_fields = ["reference", "tenant", "requester_email", "subject", "description"]
    time_fields = [
        "created_at",
        "dispatched_at",
        "response_due_at",
        "first_response_at",
        "sla",
        "resolved_at",
        "closed_at",
    ]
    # No inline: the reply form is the change form's own (``CaseChangeForm.reply``), the
    # history is shown by ``history`` (plain tables).
    history = [ConversationTable, FilesTable, TimelineTable]
    actions = ["assign_to_me", "resolve"]
    change_form_template = "admin/helpdesk/case/change_form.html"

    @admin.display(description="reseller", ordering="tenant__parent__name")
    def reseller(self, case: Case) -> str:
        parent = case.tenant.parent
        return parent.name if parent and case.tenant.kind == TenantKind.SUBCUSTOMER else "—"

    def get_urls(self):
        urls = [
            path(
                "<int:pk>/hand-back/",
                self.admin_site.admin_view(self.hand_back_view),
                name="helpdesk_case_hand_back",
            )
        ]
        return urls + super().get_urls()

    def hand_back_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        case = get_object_or_404(Case, pk=pk)
        if not self.has_change_permission(request, case):
            raise PermissionDenied
        form = HandBackForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                case_hand_back(case=case, actor=signed_in(request), note=form.cleaned_data["note"])
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, f"{case.reference} is back with {case.tenant.tier_one}.")
                return HttpResponseRedirect(reverse("admin:helpdesk_case_change", args=[pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Hand {case.reference} back to {case.tenant.tier_one}",
            "form": form,
            "opts": self.model._meta,
            "submit_label": "Hand back",
        }
        return TemplateResponse(request, "admin/helpdesk/case/open_case.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Case]:
        return with_sla(super().get_queryset(request))  # the SLA column without a query per row

    def get_ordering(self, request: HttpRequest) -> list:
        return admin_default_ordering()

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Case], search_term: str):
        return case_search(queryset, search_term), False

    def render_change_form(self, request: HttpRequest, context: dict, *args, **kwargs):
        # A case is opened from a channel or with "Open a case": never "save and add another".
        context["show_save_and_add_another"] = False
        # The page is for working the case: no list of every admin section beside it (its
        # rendering cost a tenth of the page); the breadcrumbs lead back to the list.
        context["is_nav_sidebar_enabled"] = False
        if isinstance(context.get("media"), forms.Media):
            context["media"] = media_html(context["media"])
        form = getattr(context.get("adminform"), "form", None)
        if isinstance(form, CaseChangeForm) and form.reply is not None:
            # The reply form under the conversation, written like the page's other fieldsets;
            # its errors counted in the page's "Please correct the errors below".
            context["reply_form"] = form.reply
            context["reply_fieldset"] = helpers.Fieldset(
                form.reply, name="New reply or note", fields=REPLY_FIELDS, model_admin=self
            )
            if form.reply.is_bound and context.get("errors") is not None:
                context["errors"].extend(form.reply.errors.values())
        case = context.get("original")
        if case is not None:
            # The page's links (object tools), made here rather than by Django's inclusion
            # tag, which looked its template up and built a context for them on every visit.
            history = reverse("admin:helpdesk_case_history", args=[case.pk])
            preserved = {
                "preserved_filters": context.get("preserved_filters", ""),
                "opts": self.opts,
            }
            context["history_url"] = add_preserved_filters(preserved, history)
            if case.tier == 2:
                context["hand_back_url"] = reverse("admin:helpdesk_case_hand_back", args=[case.pk])
            context["case_summary"] = self.summary(case, self.summary_fields)
            context["case_times"] = self.summary(case, self.time_fields)
            staff = signed_in(request)
            # The case's replies and files, one query each, read once for all the tables.
            updates = list(ConversationTable(self).queryset(staff, case))
            files = with_replies(list(FilesTable(self).queryset(staff, case)), updates)
            tables = [table(self, files, updates) for table in self.history]
            context["case_history"] = [
                table.context(staff, case) for table in tables if table.shown_to(staff)
            ]
        return super().render_change_form(request, context, *args, **kwargs)

    def summary(self, case: Case, names: Sequence[str]) -> list[dict]:
        """Read-only rows as the admin shows read-only fields (label, value, help text): the
        value displayed as in the change list, text with its line breaks, the tenant linked to
        its admin page, and the SLA column's words."""
        empty = self.get_empty_value_display()
        shape = get_format("DATETIME_FORMAT")
        rows = []
        for name in names:
            if name == "sla":
                rows.append({"name": name, "label": "SLA", "value": self.sla(case), "help": ""})
                continue
            field = Case._meta.get_field(name)
            assert isinstance(field, models.Field)
            value = getattr(case, name)
            if field.is_relation and value is not None:
                opts = value._meta
                link = reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_change",
                    args=[value.pk],
                    current_app=self.admin_site.name,
                )
                shown = format_html('<a href="{}">{}</a>', link, value)
            elif isinstance(field, models.DateTimeField):
                shown = conditional_escape(_when(value, shape, empty))  # remembered
            else:
                shown = linebreaksbr(display_for_field(value, field, empty), autoescape=True)
            label = capfirst(str(field.verbose_name))
            rows.append(
                {"name": name, "label": label, "value": shown, "help": str(field.help_text)}
            )
        return rows

    def get_object(self, request: HttpRequest, object_id: str, from_field=None) -> Case | None:
        """The case of the change page, read once with its tenant, reseller, assignee and
        requester (the canned replies name them; its form works on a copy of this instance
        rather than reading it again)."""
        queryset = self.get_queryset(request).select_related(
            "tenant__parent", "assignee", "requester"
        )
        field = Case._meta.pk if from_field is None else Case._meta.get_field(from_field)
        try:
            assert isinstance(field, models.Field)
            return queryset.get(**{field.name: field.to_python(object_id)})
        except (Case.DoesNotExist, ValidationError, ValueError):
            return None

    @admin.display(description="SLA", ordering="response_due_at")
    def sla(self, case: Case) -> str:
        status = sla_status(case, timezone.now())
        if status is None:
            return "—"
        detail = status.time_left
        if status.is_running and status.paused_until is None:
            detail = f"{detail} · due {status.due_label}"
        html = state_html(status.state, detail)
        yours = your_time(status.due_at, status.clock.calendar.timezone)
        if status.is_running and yours:
            # On a line of its own: the state's words do not wrap (sla/admin.css).
            return format_html('{}<br><span class="quiet">{}</span>', html, yours)
        return html

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        """The change form's class, built once per person (``remembered_class``), handed the
        request when the admin makes the form."""
        fields = kwargs.get("fields")
        form = remembered_class(
            ("case form", change, tuple(sorted(kwargs)), None if fields is None else tuple(fields)),
            request,
            lambda: super(CaseAdmin, self).get_form(request, obj, change=change, **kwargs),
            # Without the right to change, the admin's form has no editable field.
            not change or self.has_change_permission(request, obj),
        )
        return partial(form, request=request)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name != "assignee":
            return super().formfield_for_foreignkey(db_field, request, **kwargs)
        # Active staff, the options from memory (``StaffChoiceIterator``); set on the form's
        # class, not per form: each form's copy of the field keeps both.
        kwargs["queryset"] = User.objects.filter(is_staff=True, is_active=True)
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        assert field is not None
        field.iterator = StaffChoiceIterator
        field.queryset = field.queryset  # its options again, through that iterator
        return field

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # references are never reused and history is kept

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        if request.method == "POST" and object_id and INSERT_CANNED in request.POST:
            self.insert_canned(request, object_id)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except CaseRefused as refused:
            # Django's view ran in one transaction, now rolled back: no severity, status,
            # assignee, reply or file of this submission is kept. Show the same form again
            # with the refusal as its errors (and no "changed successfully").
            if request.FILES:
                refused.error = ValidationError(
                    [*refused.error.messages, "Nothing was saved: attach the files again."]
                )
            request.case_refusal = refused.error  # type: ignore[attr-defined]
            return super().changeform_view(request, object_id, form_url, extra_context)

    def insert_canned(self, request: HttpRequest, object_id: str) -> None:
        """The "Insert" button of a page without script: the chosen canned reply, filled in
        for the case, goes after the text in the reply box, and the page is shown again with
        everything as it was typed. Nothing is saved (``CaseChangeForm.is_valid``)."""
        case = self.get_object(request, object_id)
        if case is None:
            return  # the admin's own "does not exist" answer
        request.canned_insert_only = True  # type: ignore[attr-defined]
        data = request.POST.copy()
        name = next((k for k in data if k.endswith("-canned") and data[k]), None)
        chosen = data.get(name, "") if name else ""
        reply = (
            access.canned_replies_visible_to(signed_in(request)).filter(pk=chosen).first()
            if chosen.isascii() and chosen.isdigit() and len(chosen) < 12
            else None
        )
        if name is None or reply is None:
            messages.warning(request, "Choose a canned reply first, then press “Insert”.")
            return
        body = name.removesuffix("canned") + "body"
        data[body] = insert_at_end(
            data.get(body, ""), canned_reply_text(reply, case, signed_in(request))
        )
        data[name] = ""
        request.POST = data  # type: ignore[assignment]  # a QueryDict, as Django's
        messages.info(request, f"“{reply.title}” is inserted in your reply: edit it, then save.")

    def save_model(
        self, request: HttpRequest, obj: Case, form: forms.ModelForm, change: bool
    ) -> None:
        """Nothing is written here: ``save_related`` applies the whole submission (the reply
        first, then the case's changes), all through the services."""

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets, change: bool
    ) -> None:
        """One save does everything the page says: the new reply or note with its files first
        (a new case's first public reply makes it "Responded", from where "Waiting on
        customer" may follow), then severity, status and assignee. A refusal of any part
        raises ``CaseRefused``, which ``changeform_view`` turns into form errors after the
        transaction rolled back: nothing of the submission is half-saved."""
        assert isinstance(form, CaseChangeForm)
        try:
            super().save_related(request, form, formsets, change)
            reply = form.reply
            if reply is not None and reply.has_changed():
                kind = reply.cleaned_data.get("kind")
                services.update_add(
                    case=form.current,  # as stored: the reply's rules are about the case now
                    author=signed_in(request),
                    body=reply.cleaned_data["body"],
                    internal=kind == "internal",
                    escalation=kind == "escalation",
                    attachments=reply.cleaned_data.get("attachments") or (),
                )
            self.apply_changes(request, form)
        except ValidationError as error:
            raise CaseRefused(error) from error
        except PermissionDenied as error:
            raise CaseRefused(ValidationError(str(error))) from error
        form.instance.refresh_from_db()

    def apply_changes(self, request: HttpRequest, form: forms.ModelForm) -> None:
        """What was changed on the form (not what differs from the case now: the reply may
        have moved its status already), through the services."""
        current = Case.objects.get(pk=form.instance.pk)
        data, changed = form.cleaned_data, form.changed_data
        if "severity" in changed and data["severity"] != current.severity:
            services.case_change_severity(
                case=current,
                actor=signed_in(request),
                severity=data["severity"],
                reason=data["reason"],
            )
        if "status" in changed and data["status"] != current.status:
            services.case_change_status(
                case=current,
                actor=signed_in(request),
                status=data["status"],
                reason=data["reason"],
            )
        if "assignee" in changed and data["assignee"] != current.assignee:
            services.case_assign(case=current, actor=signed_in(request), assignee=data["assignee"])

    # --- opening a case for a customer (phone, chat, other) ---

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StaffOpenCaseForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                case = form.open_case(signed_in(request))
            except ValidationError as error:
                apply_service_errors(form, error)
            else:
                messages.success(request, f"{case.reference} opened for {case.tenant}.")
                return HttpResponseRedirect(reverse("admin:helpdesk_case_change", args=[case.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Open a case for a customer",
            "form": form,
            "opts": self.model._meta,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/helpdesk/case/open_case.html", context)

    # --- actions ---

    @admin.action(description="Assign selected cases to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._apply(
            request,
            queryset,
            lambda case: services.case_assign(
                case=case, actor=signed_in(request), assignee=signed_in(request)
            ),
            "assigned to you",
        )

    @admin.action(description="Resolve selected cases")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Case]) -> None:
        self._apply(
            request,
            queryset,
            lambda case: services.case_change_status(
                case=case, actor=signed_in(request), status=Status.RESOLVED
            ),
            "resolved",
        )

    def _apply(self, request: HttpRequest, queryset: QuerySet[Case], change, done: str) -> None:
        succeeded = []
        for case in queryset:
            try:
                change(case)
            except (ValidationError, PermissionDenied) as error:
                messages.warning(
                    request,
                    f"{case.reference}: {' '.join(getattr(error, 'messages', [str(error)]))}",
                )
            else:
                succeeded.append(case.reference)
        if succeeded:
            messages.success(request, f"{len(succeeded)} case(s) {done}: {', '.join(succeeded)}.")


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "case", "kind", "old_value", "new_value", "actor"]
    list_filter = ["kind"]
    search_fields = ["=case__reference"]
    list_select_related = ["case", "actor"]
    show_full_result_count = False


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "team"]
    list_filter = ["team"]
    search_fields = ["title", "body"]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "team":
            # The teams that answer cases: the provider's staff and each reseller's people.
            kwargs["queryset"] = Tenant.objects.filter(
                kind__in=[TenantKind.PROVIDER, TenantKind.RESELLER]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
