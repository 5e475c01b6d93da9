"""The per-process memory behind the SLA targets and webhook subscriptions of a case opening
(tenants.memo): what makes it read the database again."""

from __future__ import annotations

from django.core.cache import cache

from tenants import memo
from tenants.memo import StampedMemo


def counting() -> tuple[list[int], object]:
    loads: list[int] = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    return loads, load


def test_a_value_is_loaded_once_until_forgotten() -> None:
    remembered = StampedMemo("test-once")
    loads, load = counting()
    assert remembered.get("k", load) == remembered.get("k", load) == 1
    remembered.forget()
    assert remembered.get("k", load) == 2


def test_a_cache_flushed_or_evicted_means_loading_again() -> None:
    remembered = StampedMemo("test-evicted")
    loads, load = counting()
    remembered.get("k", load)
    cache.clear()  # Redis restarted, or the stamp evicted
    assert remembered.get("k", load) == 2


def test_nothing_is_kept_longer_than_max_age(monkeypatch) -> None:
    remembered = StampedMemo("test-age", max_age=60)
    loads, load = counting()
    now = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: now[0])
    remembered.get("k", load)
    now[0] += 59
    assert remembered.get("k", load) == 1
    now[0] += 2
    assert remembered.get("k", load) == 2


def test_many_keys_are_loaded_together_and_the_memory_stays_bounded() -> None:
    remembered = StampedMemo("test-many", max_entries=3)
    asked: list[list[int]] = []

    def load(keys: list) -> dict:
        asked.append(sorted(keys))
        return {key: key * 10 for key in keys}

    assert remembered.get_many([1, 2], load) == {1: 10, 2: 20}
    assert remembered.get_many([2, 3], load) == {2: 20, 3: 30}
    assert asked == [[1, 2], [3]]
    remembered.get_many([4], load)  # a fourth key: the memory starts afresh
    assert remembered.get_many([1], load) == {1: 10} and asked[-1] == [1]


class CountingCache:
    """The cache, counting its round trips."""

    def __init__(self) -> None:
        self.trips = 0

    def __getattr__(self, name: str):
        method = getattr(cache, name)

        def counted(*args, **kwargs):
            self.trips += 1
            return method(*args, **kwargs)

        return counted


def test_a_request_reads_every_stamp_in_one_round_trip(monkeypatch) -> None:
    first, second = StampedMemo("test-first"), StampedMemo("test-second")
    first.get("k", lambda: 1), second.get("k", lambda: 1)  # stamps exist
    counting = CountingCache()
    monkeypatch.setattr(memo, "cache", counting)
    memo._request_started()  # what request_started does to it
    try:
        assert first.get("k", lambda: 2) == 1 and second.get("k", lambda: 2) == 1
        assert counting.trips == 1
        first.forget()  # a change in the request: the rest of it sees it
        assert first.get("k", lambda: 3) == 3
    finally:
        memo._request_finished()
    other_process = StampedMemo("test-second")
    other_process.forget()
    assert second.get("k", lambda: 4) == 4  # the next request, or outside one, reads again
