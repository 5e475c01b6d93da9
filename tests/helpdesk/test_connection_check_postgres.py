"""The persistent connection's check between requests (helpdesk/postgresql): a healthy
connection is reused without a `SELECT 1`, and one the server ended (a restart, a crash) is
replaced before the next request's first query. tests/faults/test_postgres_restart.py shows the
same under gunicorn with a real restart."""

from __future__ import annotations

import select
import time

import psycopg
import pytest
from django.db import close_old_connections, connection

from tenants.models import Tenant

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def request_boundary() -> None:
    """What Django does when a request ends and the next one starts."""
    close_old_connections()
    close_old_connections()


def test_a_healthy_connection_is_reused_without_a_query_to_check_it(monkeypatch) -> None:
    assert connection.health_check_enabled
    pid = backend_pid()
    request_boundary()
    asked = []
    monkeypatch.setattr(connection, "is_usable", lambda: asked.append(1) or True)
    assert Tenant.objects.count() >= 0
    assert backend_pid() == pid and asked == []


def test_a_connection_idle_for_long_is_asked_with_a_round_trip(monkeypatch) -> None:
    """A peer lost without a word (a host gone, an idle connection dropped by a firewall)
    leaves nothing on the socket: after a long rest the check asks the server, and a
    connection that does not answer is replaced."""
    pid = backend_pid()
    request_boundary()
    monkeypatch.setattr(connection, "_checked_at", time.monotonic() - 60)
    asked = []
    monkeypatch.setattr(connection, "is_usable", lambda: asked.append(1) or False)
    assert Tenant.objects.count() >= 0
    assert asked == [1] and backend_pid() != pid


def test_a_connection_the_server_ended_is_replaced_before_the_next_request_uses_it() -> None:
    pid = backend_pid()
    request_boundary()
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        password=settings["PASSWORD"] or None,
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    # The server's goodbye reaches the idle connection's socket.
    poller = select.poll()
    poller.register(connection.connection.pgconn.socket, select.POLLIN)
    deadline = time.monotonic() + 10
    while not poller.poll(100) and time.monotonic() < deadline:
        pass

    assert Tenant.objects.count() >= 0  # the next request's first query just works
    assert backend_pid() != pid
