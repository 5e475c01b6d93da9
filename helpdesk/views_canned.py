"""A reseller's canned replies (issue 16): its admins write, change and delete them here; its
agents insert them into their replies on the case page. Provider staff keep theirs in the admin.
Every reply is fetched through ``access.canned_replies_managed_by``: another team's id is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk import access
from helpdesk.canned import PLACEHOLDERS
from helpdesk.forms import CANNED_TITLE_TAKEN, CannedReplyForm
from helpdesk.models import CannedReply
from tenants.access import SignedInRequest
from tenants.models import Tenant


def _team(request: SignedInRequest) -> Tenant:
    team = access.reseller_administered_by(request.user)
    if team is None:
        raise PermissionDenied("Only a reseller's admins manage its canned replies.")
    return team


def _page(request: SignedInRequest, team: Tenant, form: CannedReplyForm, status: int = 200):
    context = {
        "team": team,
        "replies": access.canned_replies_managed_by(request.user).order_by("title"),
        "form": form,
        "placeholders": PLACEHOLDERS,
    }
    return render(request, "helpdesk/canned_replies.html", context, status=status)


def _saved(form: CannedReplyForm) -> bool:
    """Save, or put the clash on the form: two people adding the same title at once both pass
    the form's check, the database's constraint decides, and the second gets the form's own
    message rather than an error page."""
    try:
        with transaction.atomic():
            form.save()
    except IntegrityError:
        form.add_error("title", CANNED_TITLE_TAKEN)
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def canned_replies(request: SignedInRequest) -> HttpResponse:
    team = _team(request)
    form = CannedReplyForm(request.POST or None, instance=CannedReply(team=team))
    if request.method == "POST":
        if form.is_valid() and _saved(form):
            messages.success(request, f"“{form.instance.title}” is ready for your agents.")
            return redirect("canned-replies")
        return _page(request, team, form, status=400)
    return _page(request, team, form)


@login_required
@require_http_methods(["GET", "POST"])
def canned_reply_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    team = _team(request)
    reply = get_object_or_404(access.canned_replies_managed_by(request.user), pk=pk)
    form = CannedReplyForm(request.POST or None, instance=reply)
    if request.method == "POST" and form.is_valid() and _saved(form):
        messages.success(request, f"“{reply.title}” is saved.")
        return redirect("canned-replies")
    context = {"team": team, "form": form, "reply": reply, "placeholders": PLACEHOLDERS}
    status = 400 if form.errors else 200
    return render(request, "helpdesk/canned_reply_edit.html", context, status=status)


@login_required
@require_POST
def canned_reply_delete(request: SignedInRequest, pk: int) -> HttpResponse:
    _team(request)
    reply = get_object_or_404(access.canned_replies_managed_by(request.user), pk=pk)
    reply.delete()
    messages.success(request, f"“{reply.title}” is deleted.")
    return redirect("canned-replies")
