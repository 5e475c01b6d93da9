"""The admin site: Django's, with the navigation sidebar's list of apps built only when a page
shows it.

Django's ``each_context`` lists every app and model the person may see (permission checks per
model) for every admin page; only the navigation sidebar reads that list, and the case page has
no sidebar (``CaseAdmin.render_change_form``): about a millisecond of every case page for
nothing. Here it is the same list, made when something first reads it.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


class HelpdeskAdminSite(admin.AdminSite):
    def get_app_list(self, request: HttpRequest, app_label: str | None = None):
        """Django's list (a list of dicts, in the same order), built when first read."""
        build = super().get_app_list
        return SimpleLazyObject(lambda: build(request, app_label))


class HelpdeskAdminConfig(AdminConfig):
    """``django.contrib.admin`` with ``HelpdeskAdminSite`` as ``admin.site``."""

    default_site = "helpdesk.admin_site.HelpdeskAdminSite"
