"""A real Celery worker on Redis, in a thread of the test process (celery.contrib.testing).

Tests marked ``redis`` need a Redis server (REDIS_URL, else the local one): on a
developer's machine without one they are skipped with a loud warning; in CI they fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from kombu import pools

from helpdesk.celery import app
from tests.conftest import IN_CI

# The settings' (a database of its own per parallel test process, see helpdesk/settings.py);
# without REDIS_URL (SQLite runs), the local server, again one database per test process.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
REDIS_URL = settings.REDIS_URL or f"redis://127.0.0.1:6379/{1 + int(_WORKER[2:]) if _WORKER else 0}"
SKIP_REASON = "needs Redis for a real Celery worker (REDIS_URL=redis://...)"


def redis_is_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def pytest_runtest_setup(item) -> None:
    if not item.get_closest_marker("redis") or redis_is_up():
        return
    if IN_CI:
        pytest.fail(f"This test {SKIP_REASON}: CI must start Redis (.ci/run does).")
    pytest.skip(SKIP_REASON)


def pytest_terminal_summary(terminalreporter) -> None:
    skipped = [str(r.longrepr) for r in terminalreporter.stats.get("skipped", [])]
    count = sum("needs Redis" in reason for reason in skipped)
    if count:
        terminalreporter.write_line(
            f"WARNING: {count} CELERY WORKER TESTS were SKIPPED: Redis is not running "
            "(start redis-server or set REDIS_URL). `.ci/run` runs them on Redis.",
            red=True,
            bold=True,
        )


def use_broker(url: str) -> None:
    """Point the project's Celery app at ``url``, dropping pooled connections to the old one."""
    app.conf.broker_url = url
    # As settings choose it for a Redis broker (helpdesk/broker.py).
    app.conf.broker_transport = "helpdesk.broker:Transport" if url.startswith("redis://") else None
    pools.reset()  # kombu keeps pools per URL, process-wide
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_on_redis() -> Iterator[Callable[..., object]]:
    """The project's app, not eager, on Redis; yields ``worker()``, a context manager that runs
    a real worker (solo pool) in a thread. The queue is emptied first: no leftovers."""
    saved = (app.conf.broker_url, app.conf.task_always_eager, app.conf.broker_transport)
    app.conf.task_always_eager = False
    use_broker(REDIS_URL)
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge(app.conf.task_default_queue)

    def worker():
        return start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30)

    try:
        yield worker
    finally:
        use_broker(saved[0])
        app.conf.task_always_eager, app.conf.broker_transport = saved[1], saved[2]


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.1)
