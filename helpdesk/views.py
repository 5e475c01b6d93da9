"""Customer portal pages. Each view fetches its objects through ``helpdesk.access`` first, then
validates input with a form and calls a service; rules live in the services."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db import connection
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.functional import lazy
from django.views import defaults
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import access, ratelimits, services
from helpdesk.attachments import attachment_thumbnail
from helpdesk.canned import canned_reply_text, insert_at_end
from helpdesk.filters import CaseFilter
from helpdesk.forms import (
    INSERT_CANNED,
    CommentForm,
    EscalateForm,
    NewCaseForm,
    QueueAssignForm,
    SeverityForm,
    StatusForm,
    apply_service_errors,
)
from helpdesk.models import (
    OPEN_STATUSES,
    Attachment,
    Case,
    CaseEvent,
    CaseUpdate,
    Channel,
    EventKind,
    Status,
    Tier,
    Visibility,
)
from helpdesk.services import can_escalate, case_escalate
from helpdesk.timeline import timeline_html
from sla.selectors import prefetch_sla, with_sla
from tenants.access import SignedInRequest
from tenants.models import TenantKind, User

PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 25


@login_required
@require_GET
def home(request: SignedInRequest) -> HttpResponse:
    if access.is_provider_staff(request.user):
        return redirect("admin:index")
    return redirect("case-list")


# Deeper than anyone pages by hand, and small enough that the offset is always a valid
# integer for the database (a 25-digit page number overflowed into a 500).
MAX_PAGE = 100_000


def _page_numbers(request: HttpRequest) -> tuple[int, int]:
    """The page and page size asked for; anything else is a 404 that says what was wrong."""
    page_text = request.GET.get("page", "1")
    size_text = request.GET.get("size", str(DEFAULT_PAGE_SIZE))
    # (length first: int() refuses strings of thousands of digits with a ValueError)
    if not (
        len(page_text) <= len(str(MAX_PAGE))
        and page_text.isascii()
        and page_text.isdigit()
        and 1 <= int(page_text) <= MAX_PAGE
    ):
        raise Http404(f"There is no page “{page_text[:20]}”: pages are 1 to {MAX_PAGE}.")
    if size_text not in {str(n) for n in PAGE_SIZES}:
        raise Http404(
            f"“{size_text[:20]}” cases per page is not offered: choose "
            + ", ".join(map(str, PAGE_SIZES))
            + "."
        )
    return int(page_text), int(size_text)


def _page_url(request: HttpRequest, page: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    return "?" + query.urlencode()


@login_required
@require_GET
def case_list(request: SignedInRequest) -> HttpResponse:
    cases = with_sla(access.cases_visible_to(request.user).select_related("tenant"))
    return _case_list_page(
        request, CaseFilter(request.GET or None, queryset=cases, request=request)
    )


def _queue_cases(request: HttpRequest):
    reseller = access.reseller_of(request.user)
    if reseller is None:
        raise PermissionDenied("The queue is for a reseller's support people.")
    return reseller, access.cases_visible_to(request.user).filter(tenant__parent=reseller)


def _reseller_people(reseller):
    """Who a reseller's cases may be given to: its own active people."""
    return User.objects.filter(membership__tenant=reseller, is_active=True).order_by(
        "first_name", "last_name", "email"
    )


@login_required
@require_POST
def queue_assign(request: SignedInRequest) -> HttpResponse:
    """Assign the selected queue cases to one of the reseller's people (or to nobody)."""
    reseller, cases = _queue_cases(request)
    selected = request.POST.getlist("case")
    visible = list(cases.filter(reference__in=selected))
    form = QueueAssignForm(
        request.POST,
        people=_reseller_people(reseller),
        references=[case.reference for case in visible],
    )
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(str(e) for e in errors))
        return redirect(_queue_back(request))
    assignee = form.cleaned_data["assignee"]
    for case in visible:
        services.case_assign(case=case, actor=request.user, assignee=assignee)
    who = (assignee.get_full_name() or assignee.email) if assignee else "nobody"
    count = len(visible)
    messages.success(request, f"{count} case{'s' if count != 1 else ''} assigned to {who}.")
    return redirect(_queue_back(request))


def _queue_back(request: HttpRequest) -> str:
    """Back to the queue as it was filtered (only ever our own path)."""
    query = request.POST.get("back", "")
    return reverse("tier-one-queue") + (query if query.startswith("?") else "")


@login_required
@require_GET
def tier_one_queue(request: SignedInRequest) -> HttpResponse:
    """A reseller's tier-one work: its customers' cases, open ones, those awaiting a response
    first and soonest due first, unless the viewer filters or sorts otherwise."""
    reseller, cases = _queue_cases(request)
    data = request.GET.copy()
    if "status" not in data:
        data.setlist("status", [s for s in Status.values if s in OPEN_STATUSES])
    data.setdefault("sort", "awaiting")
    filterset = CaseFilter(
        data, queryset=with_sla(cases.select_related("tenant", "assignee")), request=request
    )
    if "tenant" in filterset.filters:  # choose among the customers, not the reseller itself
        filterset.filters["tenant"].queryset = reseller.children.order_by("name")
        filterset.filters["tenant"].label = "Customer"
    assign_form = QueueAssignForm(people=_reseller_people(reseller), references=[])
    return _case_list_page(
        request, filterset, heading="Tier-one queue", queue=True, assign_form=assign_form
    )


def _case_list_page(request: SignedInRequest, filterset: CaseFilter, **extra) -> HttpResponse:
    page, size = _page_numbers(request)
    # No COUNT(*) and no page list: one row more than the page says whether there is a next
    # page, so every page costs one indexed query, however deep and however large the list.
    rows = list(filterset.qs[(page - 1) * size : page * size + 1])
    return render(
        request,
        "helpdesk/case_list.html",
        {
            "filter": filterset,
            "cases": rows[:size],
            "page": page,
            "size": size,
            "page_sizes": PAGE_SIZES,
            "next_url": _page_url(request, page + 1) if len(rows) > size else None,
            "previous_url": _page_url(request, page - 1) if page > 1 else None,
            "filtered": bool(request.GET.keys() - {"page", "size", "sort"}),
            **extra,
        },
        # A filter the form refuses is shown with its error, not silently dropped.
        status=400 if filterset.form.errors else 200,
    )


# The brand's name, read only if a page shows it: a POST that opens a case never does (made
# once here: ``lazy`` builds a class per call).
_brand_name = lazy(lambda request: request.brand.name, str)


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request: SignedInRequest) -> HttpResponse:
    membership = access.membership_of(request.user)
    if membership is None or membership.tenant.is_provider:
        raise PermissionDenied("Staff open cases for customers in the admin.")
    provider = cast(str, _brand_name(request))
    form = NewCaseForm(request.POST or None, request.FILES or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            with ratelimits.charged(
                user_id=request.user.pk,
                tenant_id=membership.tenant_id,
                cases=1,
                uploads=len(form.cleaned_data["attachments"]),
            ):
                case = services.case_open(
                    tenant=membership.tenant,
                    subject=form.cleaned_data["subject"],
                    description=form.cleaned_data["description"],
                    severity=form.cleaned_data["severity"],
                    channel=Channel.PORTAL,
                    requester=request.user,
                    opened_by=request.user,
                    attachments=form.cleaned_data["attachments"],
                )
        except ratelimits.RateLimited as limited:
            form.add_error(None, limited.message)
            context = {"form": form, "tenant": membership.tenant}
            return limited.answer(render(request, "helpdesk/case_new.html", context))
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Case {case.reference} is open. We'll be in touch.")
            return redirect(case)
    return render(request, "helpdesk/case_new.html", {"form": form, "tenant": membership.tenant})


def _case_for(request: SignedInRequest, reference: str) -> Case:
    return get_object_or_404(
        access.cases_visible_to(request.user).select_related(
            "tenant__parent", "requester", "assignee"
        ),
        reference=reference,
    )


def _case_page(
    request: SignedInRequest, case: Case, status: int | None = None, **forms
) -> HttpResponse:
    user = request.user
    support = access.is_support_side(user, case)
    # The case was fetched through the access policy: its updates, events and files are
    # narrowed on it (``access.updates_of`` and the rest), not joined back to it in SQL.
    updates = list(access.updates_of(user, case).select_related("author__membership__tenant"))
    files: dict[int | None, list[Attachment]] = {}
    for file in access.attachments_of(user, case, updates):
        files.setdefault(file.update_id, []).append(file)
    opening_files = files.get(None, [])
    for update in updates:
        # Attributes for the timeline only, next to the row they describe.
        name, org = _author_label(update, request.brand.name)
        update.author_name, update.author_org = name, org  # type: ignore[attr-defined]
        update.files = files.get(update.pk, [])  # type: ignore[attr-defined]
    # Each message is shown once: its "update added" event would only repeat it.
    events = (
        access.events_of(user, case).exclude(kind=EventKind.UPDATE_ADDED).select_related("actor")
    )
    entries: list[CaseUpdate | CaseEvent] = sorted(
        [*updates, *events], key=lambda item: (item.created_at, item.pk)
    )
    pass_on = (
        support
        and case.tenant.kind == TenantKind.SUBCUSTOMER
        and CommentForm.PUBLIC in services.update_kinds(case, user)
    )
    prefetch_sla([case])  # the SLA panels' clocks, current and earlier, in one query
    statuses = services.allowed_statuses(case, user)
    context = {
        "case": case,
        "timeline": timeline_html(
            entries, support_side=support, pass_on_to=case.tenant.name if pass_on else None
        ),
        "opening_files": opening_files,
        "support_side": support,
        "sla_panels": _sla_panels(case, support),
        "can_escalate": can_escalate(case, user),
        "escalate_form": forms.get("escalate_form") or EscalateForm(),
        "comment_form": forms.get("comment_form") or _composer(request, case, updates),
        "pass_on": pass_on,
        "severity_form": forms.get("severity_form") or SeverityForm(current=case.severity),
        "status_form": forms.get("status_form") or StatusForm(),
        "status_actions": [(s, _status_action_label(case.status, s)) for s in statuses],
    }
    if status is None:
        status = 400 if forms else 200
    return render(request, "helpdesk/case_detail.html", context, status=status)


def composer_default(case: Case, kinds: list[str]) -> str | None:
    """Who a new comment is for when the writer has not chosen: on an escalated sub-customer
    case the support side is talking to the other tier, so the escalation thread; otherwise
    the requesting side when the writer may answer it, else the first thing they may write."""
    if not kinds:
        return None
    if case.tier == Tier.TWO and CommentForm.ESCALATION in kinds:
        return CommentForm.ESCALATION
    return CommentForm.PUBLIC if CommentForm.PUBLIC in kinds else kinds[0]


def _composer(request: SignedInRequest, case: Case, updates: list) -> CommentForm:
    """The comment form, ready for the usual next step. ``?pass_on=<update id>`` quotes an
    escalation-thread message into a public reply for the reseller to edit and send."""
    kinds = _comment_kinds(case, request.user)
    values = [value for value, _ in kinds]
    initial = {"kind": composer_default(case, values)}
    quoted = next(
        (
            u
            for u in updates
            if str(u.pk) == request.GET.get("pass_on") and u.visibility == Visibility.ESCALATION
        ),
        None,
    )
    if quoted is not None and CommentForm.PUBLIC in values:
        initial = {"kind": CommentForm.PUBLIC, "body": quote_for_reply(quoted.body)}
    return CommentForm(kinds=kinds, initial=initial, canned=_canned(request.user, case))


def _canned(user: User, case: Case) -> tuple[Case, User] | None:
    """The canned replies the comment form offers: the support side's team's, filled in for
    this case; none for the requesting side."""
    if not access.is_support_side(user, case):
        return None
    return case, user


def _insert_canned(request: SignedInRequest, case: Case) -> HttpResponse:
    """ "Insert" on a page without script: the chosen canned reply, filled in, goes after what
    is written in the comment box, and the page is shown again to edit it. Nothing is sent."""
    kinds = _comment_kinds(case, request.user)
    kind = request.POST.get("kind")
    body = request.POST.get("body", "")[:20_000]
    chosen = request.POST.get("canned", "")
    reply = (
        access.canned_replies_visible_to(request.user).filter(pk=chosen).first()
        if _canned(request.user, case)
        and chosen.isascii()
        and chosen.isdigit()
        and len(chosen) < 12
        else None
    )
    if reply is None:
        messages.warning(request, "Choose a canned reply first, then press “Insert”.")
    else:
        body = insert_at_end(body, canned_reply_text(reply, case, request.user))
        messages.info(request, f"“{reply.title}” is inserted: edit it, then add your comment.")
    initial = {
        "body": body,
        "kind": kind
        if kind in {k for k, _ in kinds}
        else composer_default(case, [k for k, _ in kinds]),
    }
    form = CommentForm(kinds=kinds, initial=initial, canned=_canned(request.user, case))
    return _case_page(request, case, comment_form=form, status=200)


def quote_for_reply(body: str) -> str:
    """A thread message as a markdown quote, with a blank line below it for the answer."""
    quoted = "\n".join(f"> {line}" if line else ">" for line in body.strip().splitlines())
    return f"{quoted}\n\n"


def _author_label(update, brand_name: str) -> tuple[str, str]:
    """Who wrote an update, as people know them: a name and an organisation, not an address.
    The provider's people speak under the viewer's brand (a sub-customer never reads the
    provider's name; its reseller's brand is what it knows)."""
    author = update.author
    if author is None:
        return update.author_email or "Unknown", ""
    name = author.get_full_name() or author.email
    membership = getattr(author, "membership", None)
    if membership is None or membership.tenant.is_provider:
        return name, brand_name if author.is_staff else ""
    return name, membership.tenant.name


def _comment_kinds(case: Case, user) -> list[tuple[str, str]]:
    """The readers a comment may be for, as the services allow them; no choice to offer when
    a public comment is all the viewer may write."""
    labels = {
        CommentForm.PUBLIC: f"Reply to {case.tenant.name}",
        CommentForm.INTERNAL: "Internal note",
        CommentForm.ESCALATION: "Message in the escalation thread",
    }
    kinds = services.update_kinds(case, user)
    if kinds == [CommentForm.PUBLIC]:
        return []
    return [(kind, labels[kind]) for kind in kinds]


def _sla_panels(case: Case, support: bool) -> list[tuple[int, str]]:
    """The clocks a viewer follows: the requesting side only ever sees its own (tier one's);
    the support side of an escalated case also sees the provider's."""
    panels: list[tuple[int, str]] = [(Tier.ONE, "Response time")]
    if support and case.tenant.kind == TenantKind.SUBCUSTOMER:
        panels = [(Tier.ONE, f"Response to {case.tenant.name}")]
        if case.tier == Tier.TWO or case.events.filter(kind=EventKind.ESCALATED).exists():
            panels.append((Tier.TWO, "Provider's response (escalation)"))
    return panels


def _status_action_label(current: str, target: str) -> str:
    labels = {
        "resolved": "Mark resolved",
        "closed": "Close",
        "waiting": "Wait on customer",
        "in_progress": "Reopen" if current == "resolved" else "Mark in progress",
    }
    return labels.get(target, target)


@login_required
@require_GET
def case_detail(request: SignedInRequest, reference: str) -> HttpResponse:
    return _case_page(request, _case_for(request, reference))


@login_required
@require_POST
def case_comment(request: SignedInRequest, reference: str) -> HttpResponse:
    case = _case_for(request, reference)
    if INSERT_CANNED in request.POST:
        return _insert_canned(request, case)
    form = CommentForm(
        request.POST,
        request.FILES,
        kinds=_comment_kinds(case, request.user),
        canned=_canned(request.user, case),
    )
    if form.is_valid():
        membership = access.membership_of(request.user)
        try:
            with ratelimits.charged(
                user_id=request.user.pk,
                tenant_id=membership.tenant_id if membership else None,
                uploads=len(form.cleaned_data["attachments"]),
            ):
                services.update_add(
                    case=case,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    internal=form.internal,
                    escalation=form.escalation,
                    attachments=form.cleaned_data["attachments"],
                )
        except ratelimits.RateLimited as limited:
            form.add_error("attachments", limited.message)
            return limited.answer(_case_page(request, case, comment_form=form))
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Your comment was added.")
            return redirect(case)
    return _case_page(request, case, comment_form=form)


@login_required
@require_POST
def case_severity(request: SignedInRequest, reference: str) -> HttpResponse:
    case = _case_for(request, reference)
    form = SeverityForm(request.POST, current=case.severity)
    if form.is_valid():
        try:
            services.case_change_severity(
                case=case,
                actor=request.user,
                severity=form.cleaned_data["severity"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"Severity is now {case.get_severity_display()}.")
            return redirect(case)
    return _case_page(request, case, severity_form=form)


@login_required
@require_POST
def case_status(request: SignedInRequest, reference: str) -> HttpResponse:
    case = _case_for(request, reference)
    form = StatusForm(request.POST)
    if form.is_valid():
        try:
            services.case_change_status(
                case=case,
                actor=request.user,
                status=form.cleaned_data["status"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, f"The case is now {case.get_status_display().lower()}.")
            return redirect(case)
    return _case_page(request, case, status_form=form)


@login_required
@require_POST
def case_escalate_view(request: SignedInRequest, reference: str) -> HttpResponse:
    case = _case_for(request, reference)
    # Escalation is support-side business: to the requesting side (a customer, a sub-customer)
    # the route does not exist, and neither its form nor its errors are ever shown to them.
    if not access.is_support_side(request.user, case) or access.is_provider_staff(request.user):
        raise Http404("No such page.")
    form = EscalateForm(request.POST)
    if form.is_valid():
        try:
            case_escalate(case=case, actor=request.user, note=form.cleaned_data["note"])
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            messages.success(request, "Escalated: the provider's response clock is running.")
            return redirect(case)
    return _case_page(request, case, escalate_form=form)


@login_required
@require_GET
def download_attachment(request: SignedInRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(access.attachments_visible_to(request.user), pk=pk)
    # Always a download, never rendered inline: an uploaded file must not run as our page.
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


@login_required
@require_GET
def attachment_thumbnail_view(request: HttpRequest, pk: int) -> HttpResponse:
    """A preview of an image attachment, behind the same policy as its download."""
    attachment = get_object_or_404(access.attachments_visible_to(request.user), pk=pk)
    image = attachment_thumbnail(attachment)
    if image is None:
        return HttpResponse(
            "This attachment has no preview.", status=404, content_type="text/plain"
        )
    response = HttpResponse(image, content_type="image/png")
    response["Content-Security-Policy"] = "default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: our own refusals (``BadRequest("why")``) say why, in the viewer's brand.
    Anything else (a bad Host header among them) keeps Django's page, rendered without the
    request: with a bad Host, reading the brand would fail again."""
    if type(exception) is BadRequest:
        return render(request, "400.html", {"reason": str(exception)}, status=400)
    return defaults.bad_request(request, exception)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
