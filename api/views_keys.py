"""API keys in the portal: a tenant's admins (a reseller's included) create keys that act as
themselves, see when each was last used, and revoke them. The secret is shown once."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from api.models import ApiKey
from helpdesk import access


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. “Billing sync”.")


def _require_admin(request: HttpRequest) -> None:
    membership = access.membership_of(request.user)
    if membership is None or not membership.is_admin or not membership.tenant.is_usable():
        raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def key_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    form = KeyForm(request.POST or None)
    token = None
    if request.method == "POST" and form.is_valid():
        _, token = ApiKey.issue(
            user=request.user, name=form.cleaned_data["name"], created_by=request.user
        )
        form = KeyForm()
    keys = ApiKey.objects.filter(user=request.user)
    status = 400 if form.errors else 200
    context = {"form": form, "keys": keys, "token": token}
    return render(request, "api/keys.html", context, status=status)


@login_required
@require_POST
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    key = get_object_or_404(ApiKey.objects.filter(user=request.user), pk=pk)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        messages.success(request, f"“{key.name}” is revoked: it stops working at once.")
    return redirect("api-keys")
