"""Portal forms. They validate input; the services hold the rules and the views call them."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms.models import ModelChoiceIterator
from django.utils.html import format_html
from django.utils.safestring import SafeString

from helpdesk import access
from helpdesk.attachments import attachment_errors, attachment_limits
from helpdesk.canned import canned_texts
from helpdesk.models import SEVERITY_GUIDE, CannedReply, Case, Severity, Status
from tenants.models import User

# The name of the picker's "Insert" button: a submit that inserts, never sends (no script).
INSERT_CANNED = "_insert_canned"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class AttachmentsField(forms.FileField):
    """Several files in one input, each checked against the attachment limits."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        kwargs.setdefault("label", "Attachments")
        super().__init__(*args, **kwargs)
        self.purpose = self.help_text

    def has_changed(self, initial, data) -> bool:
        # No file chosen is no change: a multiple input sends an empty list, not None.
        return not self.disabled and bool(data)

    def show_limits(self) -> None:
        """Say the limits before anyone hits them; read from the settings at each form."""
        limits = attachment_limits()
        told = f"Up to {limits['max_size']} per file; allowed types: {limits['types']}."
        self.help_text = f"{self.purpose} {told}" if self.purpose else told
        self.widget.attrs["accept"] = limits["accept"]

    def clean(self, data, initial=None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else ([data] if data else [])
        files = [super(AttachmentsField, self).clean(item, initial) for item in items]
        if errors := attachment_errors(files):
            raise ValidationError(errors)
        return files


class CannedReplySelect(forms.Select):
    """The canned-reply picker: each option carries its text filled in for this case
    (``data-text``), next to an "Insert" button. With static/js/canned.js the button inserts
    the text at the cursor of the reply box (``data-canned-for``); without script it submits
    the form and the server appends the text to the box, sending nothing.

    The select is Django's (its template, or the form renderer's Python for it); the picker
    around it is written here: a template of its own including the select's cost a third of
    the reply form's widgets on every case page."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.texts: dict[str, str] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        text = self.texts.get(str(value))
        if text is not None:
            option["attrs"]["data-text"] = text
        return option

    def get_context(self, name: str, value, attrs) -> dict:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        # The reply box is the field beside it: "id_body", "id_updates-2-0-body".
        widget["attrs"]["data-canned-for"] = widget["attrs"].get("id", "").replace("canned", "body")
        return context

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        select = super().render(name, value, attrs, renderer)
        return format_html(
            '<span class="canned-picker">{}\n <button type="submit" name="{}" value="1" '
            'class="canned-insert button secondary" formnovalidate>Insert</button></span>\n',
            select,
            INSERT_CANNED,
        )


class ReadOnceChoiceIterator(ModelChoiceIterator):
    """A model choice field's options from its queryset read once, with a plain query. Django's
    own iterator asks the database again at every use (filling in texts, rendering the
    options, each through a server-side cursor on PostgreSQL: a DECLARE, a fetch, a close).
    The field's queryset is its own copy in each form, so nothing is kept across requests.
    A field that was handed its options already (``offered``) shows those."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        offered = getattr(self.field, "offered", None)
        # The queryset is evaluated once, then read from its result cache.
        for obj in self.queryset if offered is None else offered:
            yield self.choice(obj)


class CannedReplyField(forms.ModelChoiceField):
    widget = CannedReplySelect
    iterator = ReadOnceChoiceIterator

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("label", "Canned reply")
        kwargs.setdefault(
            "help_text",
            "Inserted into your text with the case's details filled in; edit it, then send.",
        )
        super().__init__(
            queryset=CannedReply.objects.none(),
            required=False,
            empty_label="Choose a canned reply…",
            **kwargs,
        )
        self.offered: list[CannedReply] | None = None

    def offer(self, case: Case, agent: User) -> bool:
        """Offer the agent's canned replies (from the access policy: the options remembered per
        team, a submitted choice checked against the policy's query), filled in for ``case``;
        whether there is any."""
        self.queryset = access.canned_replies_visible_to(agent).order_by("title")
        self.offered = access.canned_replies_offered_to(agent)
        widget = self.widget
        assert isinstance(widget, CannedReplySelect)
        widget.texts = canned_texts(self.offered, case, agent)
        return bool(widget.texts)


CANNED_TITLE_TAKEN = "Your team already has a canned reply with this title."


class CannedReplyForm(forms.ModelForm):
    """A team's canned reply; its ``instance`` carries the team."""

    body = forms.CharField(
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Placeholders in braces are filled in from the case, e.g. {requester_name} "
        "or {reference}.",
    )

    class Meta:
        model = CannedReply
        fields = ["title", "body"]

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        taken = CannedReply.objects.filter(team=self.instance.team_id, title__iexact=title)
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError(CANNED_TITLE_TAKEN)
        return title


class SeverityChoiceField(forms.TypedChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(
            choices=Severity.choices,
            coerce=int,
            widget=forms.RadioSelect,
            error_messages={"required": "Choose the severity that fits the issue."},
            **kwargs,
        )


def _attachments(form: forms.Form) -> AttachmentsField:
    field = form.fields["attachments"]
    assert isinstance(field, AttachmentsField)
    return field


class NewCaseForm(forms.Form):
    subject = forms.CharField(max_length=200)
    severity = SeverityChoiceField()
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What happens, since when, who is affected, what you already tried. "
        "Markdown works: **bold**, lists, `code`, links.",
    )
    attachments = AttachmentsField(help_text="Logs, captures, screenshots.")

    def __init__(self, *args, provider: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The guide names whoever supports the viewer: a sub-customer's reseller, not Phonism.
        self.provider = provider
        _attachments(self).show_limits()

    def severity_guide(self) -> list[dict]:
        """The choices with the contract's qualifications and effort, for the template."""
        field = self["severity"]
        return [
            {
                "widget": widget,
                "level": int(widget.data["value"]),
                "when": SEVERITY_GUIDE[int(widget.data["value"])][0],
                "effort": SEVERITY_GUIDE[int(widget.data["value"])][1].format(
                    provider=self.provider
                ),
            }
            for widget in field
        ]


class CommentForm(forms.Form):
    """A comment; the support side also chooses who reads it (``kind``)."""

    PUBLIC, INTERNAL, ESCALATION = "public", "internal", "escalation"

    body = forms.CharField(
        label="Comment",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown works: **bold**, lists, `code`, links.",
    )
    kind = forms.ChoiceField(label="Send as", widget=forms.RadioSelect, initial=PUBLIC)
    attachments = AttachmentsField()

    def __init__(
        self,
        *args,
        kinds: list[tuple[str, str]] | None = None,
        canned: tuple[Case, User] | None = None,
        **kwargs,
    ) -> None:
        """``canned``: the case and the person to offer their team's canned replies to (from
        the access policy), filled in for that case; the support side only."""
        super().__init__(*args, **kwargs)
        _attachments(self).show_limits()
        if kinds:
            kind = self.fields["kind"]
            assert isinstance(kind, forms.ChoiceField)
            kind.choices = kinds
        else:
            del self.fields["kind"]
        if canned is not None:
            field = CannedReplyField()
            if field.offer(*canned):
                self.fields["canned"] = field
                self.order_fields(["body", "canned"])

    def clean_canned(self):
        if self.cleaned_data.get("canned"):
            raise ValidationError(
                "Press “Insert” to add the canned reply to your text and read it, or choose none."
            )
        return None

    @property
    def internal(self) -> bool:
        return self.cleaned_data.get("kind") == self.INTERNAL

    @property
    def escalation(self) -> bool:
        return self.cleaned_data.get("kind") == self.ESCALATION


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.email


class QueueAssignForm(forms.Form):
    """The queue's "assign selected": cases by reference, to one of the reseller's people."""

    case = forms.MultipleChoiceField(
        error_messages={"required": "Select the cases to assign first."}
    )
    assignee = PersonChoiceField(
        queryset=None, required=False, empty_label="Nobody (unassign)", label="Assign to"
    )

    def __init__(self, *args, people, references: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = people
        case = self.fields["case"]
        assert isinstance(case, forms.MultipleChoiceField)
        case.choices = [(r, r) for r in references]


class EscalateForm(forms.Form):
    note = forms.CharField(
        label="Message to the provider",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What you found and what you need. Your customer does not see this thread.",
        error_messages={"required": "Tell the provider what you need: it opens the thread."},
    )


class SeverityForm(forms.Form):
    severity = SeverityChoiceField(label="New severity")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the severity changes."},
    )

    def __init__(self, *args, current: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        severity = self.fields["severity"]
        assert isinstance(severity, forms.ChoiceField)
        severity.widget = forms.Select()
        severity.choices = [("", "Choose…")] + [c for c in Severity.choices if c[0] != current]


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def apply_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a service's ValidationError next to the matching fields (or on top of the form)."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
