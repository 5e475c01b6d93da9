"""Django's PostgreSQL backend, with a cheaper check of a persistent connection.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request
that reuses a connection: a round trip and a statement per page, so that a connection the
server dropped (a restart, a crash, a failover) is replaced before the request uses it. A
connection the server ends is not silent, though: the server's goodbye (or the socket's end)
arrives while the connection is idle between requests. So here the check looks at the socket
without waiting: nothing to read, the connection is as the last request left it; anything to
read (or a connection libpq already knows is bad) and it is closed, and Django opens a new one.

Where that cannot tell (a transaction left open, as in a test's), Django's ``SELECT 1`` runs as
before. A server that vanished without a word (a cable cut) is found by neither check before
the request's first query; that query then fails as it would have, and Django drops the
connection at the end of the request (``errors_occurred``).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


class DatabaseWrapper(base.DatabaseWrapper):
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
        poller = select.poll()
        poller.register(pgconn.socket, select.POLLIN | select.POLLPRI)
        # Nothing may arrive on an idle connection but the server's goodbye, its end, or a
        # rare notice: any of them and a new connection is opened.
        return not poller.poll(0)
