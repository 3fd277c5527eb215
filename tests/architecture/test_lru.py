"""cadence.core.lru.SingleFlightLRU: the one cache class behind the dashboard's result cache and the
store of DORA facts (each also tested through its own user: tests/metrics/test_facts.py)."""

from __future__ import annotations

import threading

import pytest

from cadence.core.lru import SingleFlightLRU
from cadence.dashboard.ui import ResultCache
from metrics.facts import FactStore


def test_one_computation_per_key_while_many_threads_ask():
    cache = SingleFlightLRU(4)
    started, release = threading.Event(), threading.Event()
    calls, results = [], []

    def compute():
        calls.append(1)
        started.set()
        release.wait(30)
        return object()

    threads = [threading.Thread(target=lambda: results.append(cache.get("k", compute))) for _ in range(5)]
    threads[0].start()
    assert started.wait(30)                  # the first caller is computing; the others arrive now
    for t in threads[1:]:
        t.start()
    release.set()
    for t in threads:
        t.join(30)
    assert len(calls) == 1 and len(results) == 5 and len({id(r) for r in results}) == 1


def test_a_failed_computation_stores_nothing_and_the_next_caller_retries():
    cache = SingleFlightLRU(4)

    def boom():
        raise RuntimeError("warehouse busy")

    with pytest.raises(RuntimeError, match="warehouse busy"):
        cache.get("k", boom)
    assert "k" not in cache and len(cache) == 0
    assert cache.get("k", lambda: 7) == 7 and "k" in cache


def test_least_recently_used_goes_first_by_count_and_by_size():
    cache = SingleFlightLRU(3)
    for key in "abc":
        cache.get(key, lambda key=key: key.upper())
    cache.get("a", lambda: "never called")           # a hit: "a" is now the most recent
    cache.get("d", lambda: "D")                       # four entries > 3: "b" (the least recent) goes
    assert [k for k, _v in cache.items()] == ["c", "a", "d"]

    sized = SingleFlightLRU(10, max_bytes=100, size_of=len)
    sized.get("x", lambda: "x" * 60)
    sized.get("y", lambda: "y" * 30)
    assert sized.nbytes == 90
    sized.get("z", lambda: "z" * 20)                  # 110 > 100: "x" goes (60), leaving 50
    assert [k for k, _v in sized.items()] == ["y", "z"] and sized.nbytes == 50
    sized.get("big", lambda: "b" * 500)               # over the bound alone: kept, everything else goes
    assert [k for k, _v in sized.items()] == ["big"] and sized.nbytes == 500


def test_both_caches_are_this_class():
    assert isinstance(ResultCache(), SingleFlightLRU) and isinstance(FactStore(), SingleFlightLRU)
