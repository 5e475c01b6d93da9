"""Server-rendered pages. Each view fetches its objects through ``tenants.access`` first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from tenants import access


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    cases = (
        access.cases_visible_to(request.user)
        .select_related("tenant")
        .only("reference", "subject", "severity", "status", "created_at", "tenant__name")[:20]
    )
    return render(
        request,
        "helpdesk/home.html",
        {
            "cases": cases,
            "membership": access.membership_of(request.user),
            "is_staff": access.is_provider_staff(request.user),
        },
    )


@login_required
@require_GET
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    case = get_object_or_404(
        access.cases_visible_to(request.user).select_related("tenant", "requester", "assignee"),
        reference=reference,
    )
    updates = (
        access.updates_visible_to(request.user)
        .filter(case=case)
        .select_related("author")
        .prefetch_related("attachments")
    )
    events = access.events_visible_to(request.user).filter(case=case).select_related("actor")
    opening_files = access.attachments_visible_to(request.user).filter(case=case, update=None)
    timeline = sorted([*updates, *events], key=lambda item: (item.created_at, item.pk))
    return render(
        request,
        "helpdesk/case_detail.html",
        {"case": case, "timeline": timeline, "opening_files": opening_files},
    )


@login_required
@require_GET
def download_attachment(request: HttpRequest, pk: int) -> FileResponse:
    attachment = get_object_or_404(access.attachments_visible_to(request.user), pk=pk)
    # Always a download, never rendered inline: an uploaded file must not run as our page.
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
