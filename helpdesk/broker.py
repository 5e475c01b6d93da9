"""kombu's Redis transport, publishing through one redis-py client per connection pool.

kombu builds a new ``redis.Redis`` for every message it publishes (``Channel._create_client``),
and redis-py fills a table of ~170 response callbacks in each constructor: about a fifth of the
CPU of the notification intent's publish that every case opening makes. The client holds
nothing but its pool (which hands out the connections), so one serves every publish; a new one
is made when kombu replaces the pool (after a connection error). Consuming is unchanged (the
worker's blocking pops use kombu's own asynchronous client). Celery uses this transport for
``redis://`` brokers (``CELERY_BROKER_TRANSPORT`` in settings).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _reused_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._reused_client
        if client is None or client.connection_pool is not self.pool:
            client = self._reused_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
