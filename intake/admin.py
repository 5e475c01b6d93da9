"""Inbound email in the admin: every message with its outcome (searchable), the triage list
with its three ways out (open a case for a chosen tenant and requester, add to a case,
dismiss), the raw original one click away, and IMAP mailboxes with a write-only password."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from helpdesk.models import Case
from intake.models import InboundMessage, Mailbox, Outcome, Triage
from intake.parsing import parse
from intake.services import triage_add_to_case, triage_dismiss, triage_open_case
from tenants.models import Tenant, TenantKind, User

WAITING = [Outcome.TRIAGE, Outcome.FAILED]


class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "from_address", "subject", "outcome", "short_reason", "case_ref"]
    list_filter = ["outcome", "source", ("received_at", admin.DateFieldListFilter)]
    list_select_related = ["case"]
    search_fields = ["from_address", "subject", "=message_id", "reason", "=case__reference"]
    date_hierarchy = "received_at"
    show_full_result_count = False
    fields = [
        "received_at",
        "source",
        "from_address",
        "recipient",
        "subject",
        "message_id",
        "outcome",
        "reason",
        "case_ref",
        "brand",
        "sender_tenant",
        "attempts",
        "processed_at",
        "handled_by",
        "size",
        "original",
        "text",
    ]
    readonly_fields = fields
    actions = ["dismiss"]

    @admin.display(description="reason")
    def short_reason(self, row: InboundMessage) -> str:
        return row.reason if len(row.reason) < 120 else row.reason[:117] + "…"

    @admin.display(description="case", ordering="case__reference")
    def case_ref(self, row: InboundMessage) -> str:
        if row.case is None:
            return "—"
        url = reverse("admin:helpdesk_case_change", args=[row.case_id])
        return format_html('<a href="{}">{}</a>', url, row.case.reference)

    @admin.display(description="original")
    def original(self, row: InboundMessage) -> str:
        url = reverse("admin:intake_inboundmessage_raw", args=[row.pk])
        return format_html('<a href="{}">Download the original email (.eml)</a>', url)

    @admin.display(description="text as read")
    def text(self, row: InboundMessage) -> str:
        try:
            parsed = parse(bytes(row.raw))
        except Exception as error:  # noqa: BLE001 - shown, never a 500
            return f"(could not be read: {error})"
        names = ", ".join(p.filename for p in parsed.attachments) or "none"
        return format_html(
            '<pre style="white-space:pre-wrap">{}</pre><p>Attachments: {}</p>',
            parsed.text[:20000],
            names,
        )

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:pk>/raw/",
                self.admin_site.admin_view(self.raw_view),
                name=f"{info[0]}_{info[1]}_raw",
            ),
            *super().get_urls(),
        ]

    def raw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = get_object_or_404(InboundMessage, pk=pk)
        response = HttpResponse(bytes(row.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="inbound-{row.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    @admin.action(description="Dismiss the selected messages (they are kept)")
    def dismiss(self, request: HttpRequest, queryset: QuerySet[InboundMessage]) -> None:
        count = triage_dismiss(messages=list(queryset), staff=request.user)
        messages.success(request, f"{count} message(s) dismissed.")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # kept, whatever became of them


class OpenCaseForm(forms.Form):
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.exclude(kind=TenantKind.PROVIDER).filter(is_active=True),
        help_text="The organisation the case is for.",
    )
    requester = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True, membership__isnull=False).order_by("email"),
        help_text="An agent of that organisation.",
    )

    def clean(self):
        data = super().clean()
        tenant, requester = data.get("tenant"), data.get("requester")
        if tenant and requester and requester.membership.tenant_id != tenant.pk:
            raise ValidationError(f"{requester.email} is not an agent of {tenant}.")
        return data


class AddToCaseForm(forms.Form):
    reference = forms.CharField(label="Case reference", max_length=20, help_text="e.g. CS-10042")

    def clean_reference(self) -> Case:
        reference = self.cleaned_data["reference"].strip().upper()
        case = Case.objects.filter(reference=reference).first()
        if case is None:
            raise ValidationError(f"There is no case {reference}.")
        return case


class TriageAdmin(InboundMessageAdmin):
    list_display = ["received_at", "from_address", "subject", "outcome", "short_reason", "act"]
    list_filter = ["outcome", "source"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundMessage]:
        return super().get_queryset(request).filter(outcome__in=WAITING)

    @admin.display(description="")
    def act(self, row: InboundMessage) -> str:
        return format_html(
            '<a href="{}">Open a case</a> · <a href="{}">Add to a case</a>',
            reverse("admin:intake_triage_open", args=[row.pk]),
            reverse("admin:intake_triage_add", args=[row.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/open/", wrap(self.open_view), name="intake_triage_open"),
            path("<int:pk>/add/", wrap(self.add_view_to_case), name="intake_triage_add"),
            *super().get_urls(),
        ]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm("intake.change_inboundmessage")

    def _form_view(self, request, pk, form_class, title, act):
        if not self.has_change_permission(request):
            raise PermissionDenied
        row = get_object_or_404(InboundMessage, pk=pk, outcome__in=WAITING)
        initial = {}
        if form_class is AddToCaseForm and row.case is not None:
            initial["reference"] = row.case.reference
        form = form_class(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                done = act(row, form.cleaned_data)
            except (ValidationError, PermissionDenied) as error:
                text = " ".join(getattr(error, "messages", [str(error)]))
                form.add_error(None, text)
            else:
                self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:intake_triage_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "row": row,
            "form": form,
            "text": self.text(row),
        }
        return TemplateResponse(request, "admin/intake/triage_form.html", context)

    def open_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        def act(row, data):
            case = triage_open_case(
                message=row, tenant=data["tenant"], requester=data["requester"], staff=request.user
            )
            return f"Opened {case.reference} from the email."

        return self._form_view(request, pk, OpenCaseForm, "Open a case from this email", act)

    def add_view_to_case(self, request: HttpRequest, pk: int) -> HttpResponse:
        def act(row, data):
            triage_add_to_case(message=row, case=data["reference"], staff=request.user)
            return f"Added the email to {data['reference'].reference}."

        return self._form_view(request, pk, AddToCaseForm, "Add this email to a case", act)


class MailboxForm(forms.ModelForm):
    new_password = forms.CharField(
        label="Password",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: never shown again. Leave empty to keep the current one.",
    )

    class Meta:
        model = Mailbox
        fields = ["name", "brand", "host", "port", "use_ssl", "username", "folder", "is_active"]

    def save(self, commit: bool = True) -> Mailbox:
        mailbox = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            mailbox.password = self.cleaned_data["new_password"]
        if commit:
            mailbox.save()
        return mailbox


class MailboxAdmin(admin.ModelAdmin):
    form = MailboxForm
    list_display = ["name", "brand", "host", "username", "folder", "is_active", "last_polled_at"]
    readonly_fields = ["uidvalidity", "last_uid", "last_polled_at", "last_error"]
    fields = [
        "name",
        "brand",
        "host",
        "port",
        "use_ssl",
        "username",
        "new_password",
        "folder",
        "is_active",
        *readonly_fields,
    ]


admin.site.register(InboundMessage, InboundMessageAdmin)
admin.site.register(Triage, TriageAdmin)
admin.site.register(Mailbox, MailboxAdmin)
