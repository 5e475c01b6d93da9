"""Who may frame widget pages (SPEC §7): every other page keeps ``X-Frame-Options: DENY``;
widget pages drop that header and send a CSP ``frame-ancestors`` naming the tenant's allowed
origins (``'none'`` when there are none), so nothing else can frame them.

It composes with a site-wide CSP: when django-csp's middleware is installed, the directive is
handed to it as a per-response replacement (what its ``csp_replace`` decorator does, but with
origins known only at request time) and the rest of the site's policy stays; without it, the
widget sends its own header.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

DJANGO_CSP_MIDDLEWARE = "csp.middleware.CSPMiddleware"


def frame_ancestors(origins: list[str] | None) -> str:
    """The directive's sources; ``None`` means any (only for pages with nothing to protect)."""
    if origins is None:
        return "*"
    return " ".join(origins) if origins else "'none'"


def allow_framing(response: HttpResponse, origins: list[str] | None) -> HttpResponse:
    response.xframe_options_exempt = True  # XFrameOptionsMiddleware: DENY everywhere else
    sources = frame_ancestors(origins)
    if DJANGO_CSP_MIDDLEWARE in settings.MIDDLEWARE:
        # Both headers: the enforced one, and the report-only one of development (DEBUG).
        response._csp_replace = {"frame-ancestors": sources.split()}
        response._csp_replace_ro = {"frame-ancestors": sources.split()}
    else:
        response["Content-Security-Policy"] = (
            f"frame-ancestors {sources}; base-uri 'none'; object-src 'none'; form-action 'self'"
        )
    # The session token is in the path: never send it to another site. (Not "no-referrer":
    # that would make the browser send "Origin: null" on the widget's own form posts.)
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store"
    return response
