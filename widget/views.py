"""The widget's pages, inside the host portal's iframe (SPEC §7).

No cookie reaches the iframe (browsers block third-party cookies), so every page is under
``/widget/s/<session>/``: the opaque session token in the path says who is there. The session's
user becomes ``request.user``, and from there everything is the portal's: the access policy
(``helpdesk.access``), the forms and the case services. The token is a per-session secret that a
cross-site attacker cannot know, which is what a CSRF token is; POSTs must also come from the
helpdesk's own origin.
"""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk import access, ratelimits
from helpdesk.forms import CommentForm, NewCaseForm, apply_service_errors
from helpdesk.models import OPEN_STATUSES, Attachment, Case, Channel
from helpdesk.services import case_open, update_add
from sla.selectors import with_sla
from tenants.branding import brand_for_user
from widget import services
from widget.framing import allow_framing
from widget.tokens import TokenRefused

log = logging.getLogger(__name__)

EMBED_JS = Path(__file__).resolve().parent / "static" / "widget" / "embed.js"
PAGE_SIZE = 20


@require_GET
def embed_js(request: HttpRequest) -> HttpResponse:
    """The snippet's script, from a stable URL that host portals paste once."""
    response = HttpResponse(EMBED_JS.read_bytes(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _refusal(request: HttpRequest, message: str, status: int, origins=None) -> HttpResponse:
    response = render(
        request, "widget/refused.html", {"message": message, "brand": None}, status=status
    )
    # A refusal shows no data and offers no action: nothing to protect from framing, and the
    # person in the host portal must be able to read why.
    return allow_framing(response, origins)


def _own_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}".lower()


@csrf_exempt  # the signed token is the proof; the host page posts it cross-site, cookie-less
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    """The launcher posts the host portal's token here (in a form aimed at the iframe, so the
    token never sits in a URL); a good token becomes a session and a redirect into it."""
    # The browser's Origin header when it gives one; a host page whose Referrer-Policy is
    # "same-origin" or "no-referrer" makes it "null", and then the snippet's own field says.
    # Either way frame-ancestors, not this, is what keeps other sites from showing the widget.
    origin = request.headers.get("Origin", "")
    if origin in ("", "null"):
        origin = request.POST.get("origin", "")
    try:
        started = services.session_start(token=request.POST.get("token", ""), origin=origin)
    except TokenRefused as refused:
        log.info("widget token refused: %s", refused)  # the reason only, never the token
        return _refusal(request, str(refused), refused.status)
    response = redirect("widget-cases", session=started.token)
    return allow_framing(response, [started.session.host_origin])


def widget_view(view: Callable) -> Callable:
    """Resolve the session in the path, act as its user, frame only for its tenant's origins."""

    @wraps(view)
    def wrapper(request: HttpRequest, session: str, *args, **kwargs) -> HttpResponse:
        found = services.session_resolve(session)
        if found is None:
            return _refusal(
                request,
                "This help session has ended. Close the help panel and open it again.",
                401,
            )
        if request.method == "POST":
            sent_from = request.headers.get("Origin")
            if sent_from and sent_from.lower() != _own_origin(request):
                return _refusal(request, "This form must be sent from the help panel.", 403)
        request.user = found.user
        request.widget = found
        request.brand = brand_for_user(found.user)
        timezone.activate(zoneinfo.ZoneInfo(found.tenant.timezone))
        try:
            response = view(request, *args, session=session, **kwargs)
        except PermissionDenied as denied:
            return _refusal(request, str(denied) or "Not allowed.", 403)
        if 300 <= response.status_code < 400:
            # A redirect shows nothing; the page it leads to is checked against the list.
            return allow_framing(response, [found.host_origin])
        return allow_framing(response, services.allowed_origins_for(found.tenant))

    return csrf_exempt(wrapper)


def _ctx(request: HttpRequest, session: str, **extra) -> dict:
    return {"session": session, "host_origin": request.widget.host_origin, **extra}


@widget_view
@require_GET
def case_list(request: HttpRequest, session: str) -> HttpResponse:
    show_all = request.GET.get("show") == "all"
    cases = access.cases_visible_to(request.user).filter(tenant=request.widget.tenant)
    if not show_all:
        cases = cases.filter(status__in=OPEN_STATUSES)
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    rows = list(with_sla(cases)[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    return render(
        request,
        "widget/case_list.html",
        _ctx(
            request,
            session,
            cases=rows[:PAGE_SIZE],
            page=page,
            has_next=len(rows) > PAGE_SIZE,
            show_all=show_all,
            notice=request.GET.get("notice", "")[:200],
        ),
    )


@widget_view
@require_http_methods(["GET", "POST"])
def case_new(request: HttpRequest, session: str) -> HttpResponse:
    tenant = request.widget.tenant
    form = NewCaseForm(request.POST or None, request.FILES or None, provider=request.brand.name)
    if request.method == "POST" and form.is_valid():
        try:
            # The portal's limits and counters: a person's allowance is the same in both.
            with ratelimits.charged(
                user_id=request.user.pk,
                tenant_id=tenant.pk,
                cases=1,
                uploads=len(form.cleaned_data["attachments"]),
            ):
                case = case_open(
                    tenant=tenant,
                    subject=form.cleaned_data["subject"],
                    description=form.cleaned_data["description"],
                    severity=form.cleaned_data["severity"],
                    channel=Channel.WIDGET,
                    requester=request.user,
                    opened_by=request.user,
                    attachments=form.cleaned_data["attachments"],
                )
        except ratelimits.RateLimited as limited:
            # The form again with what they typed (files cannot be put back into a file input).
            form.add_error(None, limited.message)
            return limited.answer(_case_new_page(request, session, form))
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            url = reverse("widget-case", kwargs={"session": session, "reference": case.reference})
            return redirect(f"{url}?notice=opened")
    response = _case_new_page(request, session, form)
    if request.method == "POST":
        response.status_code = 400
    return response


def _case_new_page(request: HttpRequest, session: str, form: NewCaseForm) -> HttpResponse:
    context = _ctx(request, session, form=form, tenant=request.widget.tenant)
    return render(request, "widget/case_new.html", context)


def _case_for(request: HttpRequest, reference: str) -> Case:
    # The widget is the requesting side's surface: its organisation's cases, through the policy.
    return get_object_or_404(
        access.cases_visible_to(request.user)
        .filter(tenant=request.widget.tenant)
        .select_related("tenant__parent"),
        reference=reference,
    )


def _case_page(request: HttpRequest, session: str, case: Case, form=None) -> HttpResponse:
    user = request.user
    # The case came through the policy: its updates, events and files are narrowed on it
    # (``access.updates_of`` and the rest), the files of the request and the replies at once.
    updates = list(access.updates_of(user, case))
    files: dict[int | None, list[Attachment]] = {}
    for file in access.attachments_of(user, case, updates):
        files.setdefault(file.update_id, []).append(file)
    for update in updates:
        update.files = files.get(update.pk, [])  # type: ignore[attr-defined]
    events = access.events_of(user, case).select_related("actor")
    timeline = sorted([*updates, *events], key=lambda item: (item.created_at, item.pk))
    context = _ctx(
        request,
        session,
        case=case,
        timeline=timeline,
        opening_files=files.get(None, []),
        form=form or CommentForm(),
        notice=request.GET.get("notice", "")[:20],
    )
    return render(request, "widget/case_detail.html", context, status=400 if form else 200)


@widget_view
@require_GET
def case_detail(request: HttpRequest, session: str, reference: str) -> HttpResponse:
    return _case_page(request, session, _case_for(request, reference))


@widget_view
@require_POST
def case_reply(request: HttpRequest, session: str, reference: str) -> HttpResponse:
    case = _case_for(request, reference)
    form = CommentForm(request.POST, request.FILES)  # public replies only: no kind to choose
    if form.is_valid():
        try:
            with ratelimits.charged(
                user_id=request.user.pk,
                tenant_id=request.widget.tenant.pk,
                uploads=len(form.cleaned_data["attachments"]),
            ):
                update_add(
                    case=case,
                    author=request.user,
                    body=form.cleaned_data["body"],
                    internal=False,
                    escalation=False,
                    attachments=form.cleaned_data["attachments"],
                )
        except ratelimits.RateLimited as limited:
            form.add_error("attachments", limited.message)
            return limited.answer(_case_page(request, session, case, form=form))
        except ValidationError as error:
            apply_service_errors(form, error)
        else:
            url = reverse("widget-case", kwargs={"session": session, "reference": reference})
            return redirect(f"{url}?notice=replied#timeline-heading")
    return _case_page(request, session, case, form=form)


@widget_view
@require_GET
def attachment(request: HttpRequest, session: str, pk: int) -> FileResponse:
    found = get_object_or_404(
        access.attachments_visible_to(request.user).filter(case__tenant=request.widget.tenant),
        pk=pk,
    )
    return FileResponse(
        found.file.open("rb"),
        as_attachment=True,
        filename=found.filename,
        content_type=found.content_type,
    )
