"""No input makes a 5xx (issue 15, SPEC §10).

One generic walk: every URL pattern the resolver knows (the portal, the included tenants
routes, the whole Django admin, and whatever route is added later: nothing here names a route),
requested as every demo role (a visitor, each demo person, staff included) with hostile values:

- in path parameters, by converter: ids too large for any column, zero, negative numbers; for
  text segments NUL, an encoded surrogate, odd unicode, very long strings, dates of year 9999;
- in the query string and the POST body: every parameter name the route's own page offers (its
  form fields and its links' query strings) plus common ones, each repeated with two hostile
  values: huge and negative numbers, year 9999 and 0001 dates, unknown choices, NUL, lone
  surrogates, bidi controls, 5,000-character strings.

Every answer must be below 500. Values are sampled, not combined: each request rotates through
the list, so across roles and parameters every value reaches every route, and the whole walk
stays around a minute (one test per role, so a parallel run shares it out).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter
from django.utils.regex_helper import normalize

from helpdesk.management.commands.seed_demo import PEOPLE as DEMO_PEOPLE
from tenants.models import User
from tests.conftest import sign_in

# Pre-encoded (percent-escaped) so that NUL and lone surrogates survive the test client.
HOSTILE_VALUES = [
    "99999999999999999999999999",
    "9223372036854775808",
    "-99999999999999999999",
    "-1",
    "0",
    "9999-12-31",
    "0001-01-01",
    "9999-12-31T23%3A59%3A59",
    "unknown-choice",
    "%00",
    "a%00b",
    "%ED%A0%80",  # a UTF-8-encoded lone surrogate (invalid UTF-8)
    "%F0%9F%98%80%E2%80%AE%EF%BF%BF",  # emoji, right-to-left override, a non-character
    "1e309",
    "NaN",
    "%5B%5D",
    "A" * 5000,
]
HOSTILE_INTS = ["99999999999999999999999999", "9223372036854775808", "0", "-1"]
HOSTILE_SEGMENTS = [
    "%00",
    "CS-99999999999999999999",
    "%ED%A0%80",
    "%F0%9F%98%80%E2%80%AE",
    "9999-12-31",
    "B" * 3000,
    "99999999999999999999999999",
]
# Names routes commonly read, on top of those each page shows (paging, filters, admin lists).
COMMON_NAMES = [
    "page",
    "size",
    "sort",
    "q",
    "status",
    "severity",
    "tenant",
    "from",
    "to",
    "month",
    "year",
    "id",
    "next",
    "p",
    "o",
    "e",
    "format",
]
NAME_IN_FORM = re.compile(r'\bname="([^"]{1,100})"')
LINK_QUERY = re.compile(r'href="[^"?]*\?([^"#]{1,2000})"')


@dataclass
class Route:
    regex: str
    converters: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.regex


def _routes(resolver: URLResolver, prefix: str = "", converters: dict | None = None) -> Iterator:
    for entry in resolver.url_patterns:
        regex = prefix + entry.pattern.regex.pattern.lstrip("^").removesuffix(r"\Z").rstrip("$")
        found = {**(converters or {}), **getattr(entry.pattern, "converters", {})}
        if isinstance(entry, URLPattern):
            yield Route(regex, found)
        else:
            yield from _routes(entry, regex, found)


def _path(route: Route, turn: int) -> str:
    """The route's path with hostile values in its parameters (the turn picks which)."""
    template, params = normalize(route.regex)[0]
    values = {}
    for n, name in enumerate(params):
        pool = (
            HOSTILE_INTS
            if isinstance(route.converters.get(name), IntConverter)
            else HOSTILE_SEGMENTS
        )
        values[name] = pool[(turn + n) % len(pool)]
    return "/" + template % values


def _query(names: list[str], turn: int) -> str:
    """Each name twice, with two different hostile values, already encoded."""
    pairs = []
    for n, name in enumerate(names):
        for repeat in (0, 1):
            value = HOSTILE_VALUES[(turn + 2 * n + repeat) % len(HOSTILE_VALUES)]
            pairs.append(f"{name}={value}")
    return "&".join(pairs)


def _names_on(content: bytes) -> set[str]:
    text = content.decode(errors="replace")
    names = set(NAME_IN_FORM.findall(text))
    for query in LINK_QUERY.findall(text):
        names.update(key for key, _ in parse_qsl(unescape(query), keep_blank_values=True))
    names.discard("csrfmiddlewaretoken")
    return {n for n in names if re.fullmatch(r"[\w.\-\[\]]+", n)}


class Walker:
    def __init__(self, client: Client, user) -> None:
        self.client, self.user, self.failures, self.requests = client, user, [], 0

    def _signed_in_again(self, response=None) -> None:
        # A hostile POST may sign the role out (the logout routes): the walk goes on as them.
        # Signing out flushes the session, which sends its cookie again (expired): a response
        # that did not touch the cookie left the role signed in, and reading the session back
        # after every request was a sixth of the walk.
        if self.user is None:
            return
        if response is not None and settings.SESSION_COOKIE_NAME not in response.cookies:
            return
        if "_auth_user_id" not in self.client.session:
            sign_in(self.client, self.user)

    def request(self, method: str, path: str, query: str = "") -> bytes | None:
        self.requests += 1
        who = self.user.email if self.user else "a visitor"
        try:
            if method == "GET":
                response = self.client.get(f"{path}?{query}" if query else path)
            else:
                response = self.client.post(
                    path, query, content_type="application/x-www-form-urlencoded"
                )
        except Exception as error:  # the test client re-raises what became a 500
            self.failures.append(f"{method} {path[:120]} ?{query[:200]} as {who}: {error!r}")
            self._signed_in_again()
            return None
        if response.status_code >= 500:
            self.failures.append(f"{method} {path[:120]} ?{query[:200]} as {who}: 5xx")
        self._signed_in_again(response)
        if (
            method == "GET"
            and response.status_code == 200
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return b"".join(response) if response.streaming else response.content
        return None

    def walk(self, routes: list[Route], turn: int) -> None:
        for number, route in enumerate(routes):
            spin = turn + number
            path = _path(route, spin)
            page = self.request("GET", path)
            own = sorted(_names_on(page)) if page else []
            names = sorted({*COMMON_NAMES, *own})
            self.request("GET", path, _query(names, spin))
            self.request("POST", path, _query(names, spin + 1))
            # One name at a time too, so an early refusal of one parameter (a bad page
            # number is a 404) does not hide what another does; each role takes every
            # third name, so every name gets its turn across the roles.
            for n, name in enumerate(own):
                if (n + spin) % 3 == 0:
                    self.request("GET", path, _query([name], spin + n))


# A visitor, then each demo person (staff included): one test each, so that a parallel run
# shares the walk out.
ROLES = [None, *sorted(DEMO_PEOPLE)]


def test_the_walk_takes_every_demo_person(demo) -> None:
    assert sorted(user.email for user in demo.values()) == ROLES[1:]
    assert any(user.is_staff for user in demo.values())


@pytest.mark.parametrize("email", ROLES, ids=lambda email: email or "visitor")
def test_no_input_makes_a_server_error(demo, settings, email) -> None:
    settings.DEBUG = False
    routes = list(_routes(get_resolver()))
    assert len(routes) > 40  # the portal and the admin, at the least
    user = None if email is None else User.objects.get(email=email)
    client = Client()
    if user is not None:
        sign_in(client, user)
    walker = Walker(client, user)
    walker.walk(routes, ROLES.index(email))
    assert walker.requests > len(routes) * 3
    assert not walker.failures, (
        f"{len(walker.failures)} of {walker.requests} requests failed:\n"
        + "\n".join(itertools.islice(walker.failures, 60))
    )


@pytest.mark.parametrize("value", ["9999999999999999999999999", "0", "-1"])
def test_the_reported_server_errors_are_404s(client, demo, value) -> None:
    sign_in(client, demo["bob"])
    response = client.post(f"/team/{value}/active/", {"active": "0"})
    assert response.status_code == 404
    assert demo["ann"].is_active


def test_the_walk_covers_included_and_admin_routes() -> None:
    labels = [route.label for route in _routes(get_resolver())]
    assert any(label.startswith("admin/") for label in labels)
    assert any(label.startswith("customers/") for label in labels)  # tenants.urls, included
    assert settings.ROOT_URLCONF  # the walk starts from the project's root resolver


def test_hostile_query_values_are_sent_encoded() -> None:
    query = _query(["page"], 9)
    assert query == "page=%00&page=a%00b"
    assert urlsplit("/?" + query).query == query


def test_the_admins_date_hierarchy_refuses_dates_out_of_range(client, demo) -> None:
    sign_in(client, demo["sam"])
    url = reverse("admin:helpdesk_outboundemail_changelist")
    for year in ("99999999999999999999999999", "9999", "0", "x"):
        response = client.get(url, {"created_at__year": year})
        assert response.status_code == 400
        assert "“created_at__year” must be a number from 1900 to 2999." in response.content.decode()
    assert client.get(url, {"created_at__year": "2026", "created_at__month": "3"}).status_code in (
        200,
        302,
    )
