"""Django's PostgreSQL backend, with a cheaper check of a persistent connection.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request
that reuses a connection: a round trip and a statement per page, so that a connection the
server dropped (a restart, a crash, a failover) is replaced before the request uses it. A
connection the server ends is not silent, though: the server's goodbye (or the socket's end)
arrives while the connection is idle between requests. So here the check looks at the socket
without waiting: nothing to read, the connection is as the last request left it; anything to
read (or a connection libpq already knows is bad) and it is closed, and Django opens a new one.

That tells only of a server that said goodbye (a restart, a crash of the server process, a
clean failover). A peer that vanished without a word (a host lost, a firewall or NAT dropping
an idle connection) leaves nothing to read, and only a round trip finds it: so a connection
idle for more than ``ASK_AFTER_IDLE`` seconds (the usual case for such losses) is asked with
Django's ``SELECT 1`` as before, as is one with a transaction left open (as in a test's).
Under traffic, where the round trip costs, connections are reused within that time.
"""

from __future__ import annotations

import select
import time

from django.db.backends.postgresql import base
from psycopg import pq

# Seconds a connection may rest between requests and still be checked by its socket alone.
ASK_AFTER_IDLE = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    _checked_at: float | None = None  # when the last request began with this connection

    def close_if_health_check_failed(self) -> None:
        # (Django's own attributes, unknown to the type stubs.)
        enabled: bool = getattr(self, "health_check_enabled", False)
        if self.pool or self.connection is None or not enabled or self.health_check_done:
            return super().close_if_health_check_failed()
        if not self._alive():
            self.close()
        self.health_check_done: bool = True

    def _alive(self) -> bool:
        """Whether the idle connection still stands, without a round trip."""
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        if pgconn.status != pq.ConnStatus.OK:
            return False
        if pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return self.is_usable()  # not between requests: ask the server, as Django does
        now, last = time.monotonic(), self._checked_at
        self._checked_at = now
        if last is not None and now - last > ASK_AFTER_IDLE:
            return self.is_usable()  # long idle: a silent loss shows only to a round trip
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
        # Nothing may arrive on an idle connection but the server's goodbye, its end, or a
        # rare notice: any of them and a new connection is opened.
        return not poller.poll(0)
