"""Per-view exceptions to the site's Content-Security-Policy (settings.SECURITY_POLICY).

Every page may be framed by nobody (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for
old browsers). A page that must be framed says by whom, for both the enforced and the
report-only header (whichever the settings turn on) and without X-Frame-Options, which cannot
name an origin:

    from helpdesk.csp import frame_ancestors

    @frame_ancestors("https://portal.example.com")       # a fixed list
    def widget_page(request): ...

    def widget_form(request):                             # origins known only per request
        response = render(...)
        return allow_framing(response, tenant_allowed_origins)

These wrap django-csp's per-view mechanism (csp.decorators.csp_replace); other directives can be
changed the same way with `csp_replace`/`csp_update` and both REPORT_ONLY values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

from csp.constants import NONE
from django.http import HttpResponseBase


def allow_framing(response: HttpResponseBase, origins: Iterable[str]) -> HttpResponseBase:
    """Let these origins (e.g. "https://portal.example.com") frame this response; none given
    keeps `'none'`."""
    sources = [origin for origin in origins if origin] or [NONE]
    for attribute in ("_csp_replace", "_csp_replace_ro"):
        replace = dict(getattr(response, attribute, None) or {})
        replace["frame-ancestors"] = sources
        setattr(response, attribute, replace)
    # X-Frame-Options has no "these origins" value; frame-ancestors governs instead.
    response.xframe_options_exempt = True  # type: ignore[attr-defined]  # Django's own flag
    return response


def frame_ancestors(*origins: str) -> Callable:
    """View decorator: these origins may frame the view's pages."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs) -> HttpResponseBase:
            return allow_framing(view(*args, **kwargs), origins)

        return wrapped

    return decorator
