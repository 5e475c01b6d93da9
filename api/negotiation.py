"""Content negotiation with the common answers first: a request that accepts anything (no
``Accept``, or ``*/*``) or exactly the first renderer's type gets that renderer, as the
framework's negotiation would answer, without parsing media types on every request. Anything
else (a ``format`` parameter, a list of types, a type the API does not speak: 406) goes the
framework's way."""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class CommonAnswersFirst(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if renderers and not format_suffix:
            first = renderers[0]
            if accept in ("*/*", first.media_type) and (
                self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            ):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
