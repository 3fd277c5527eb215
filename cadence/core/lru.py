"""A thread-safe least-recently-used store that computes each missing key once.

Used by the dashboard's result cache (cadence.dashboard.ui.RESULTS) and the store of DORA facts per
range (metrics.facts.FactStore): many sessions, and the warm-up, ask for the same results at once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class SingleFlightLRU:
    """At most ``max_entries`` values (and, with ``size_of``, about ``max_bytes`` of them), the least
    recently used dropped first; the entry just stored is never dropped, whatever its size.

    ``get(key, compute)`` returns the stored value, or computes it: one computation per key at a
    time, so a second caller asking for a key being computed waits for that result instead of
    computing it again. A computation that raises stores nothing; the next caller tries again.
    """

    def __init__(self, max_entries: int, *, max_bytes: int | None = None,
                 size_of: Callable[[Any], int] | None = None) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._size_of = size_of or (lambda _value: 0)
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key][0]
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key][0]
            try:
                value = compute()
            finally:
                with self._lock:
                    self._pending.pop(key, None)
            self._put(key, value)
            return value

    def _put(self, key: Hashable, value: Any) -> None:
        size = self._size_of(value)
        with self._lock:
            if key in self._entries:
                self._bytes -= self._entries.pop(key)[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while len(self._entries) > 1 and (
                    len(self._entries) > self.max_entries
                    or (self.max_bytes is not None and self._bytes > self.max_bytes)):
                _old, (_value, old_size) = self._entries.popitem(last=False)
                self._bytes -= old_size

    def items(self) -> list[tuple[Hashable, Any]]:
        """A snapshot of the stored (key, value) pairs, least recently used first."""
        with self._lock:
            return [(k, v) for k, (v, _size) in self._entries.items()]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    @property
    def nbytes(self) -> int:
        """The stored values' size as ``size_of`` counts it (0 without one)."""
        with self._lock:
            return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
