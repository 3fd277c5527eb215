"""Timing shared by the benchmarks: medians, as docs/performance.md quotes them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls of ``fn``."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


@dataclass
class SyncRuns:
    """What ``time_syncs`` measured: per first sync (each into a new warehouse) its wall time, the
    requests the fake counted for the scope and its request log; then the re-sync of the last one."""

    times: list[float] = field(default_factory=list)
    counted: list[int] = field(default_factory=list)
    requests: list[list[dict]] = field(default_factory=list)
    report: Any = None
    resync_time: float = 0.0
    resync_counted: int = 0
    resync_not_modified: int = 0
    resync_requests: list[dict] = field(default_factory=list)


def time_syncs(fake, sync: Callable[..., Any], config, scope: str, *, runs: int, now: datetime,
               folder: Path) -> SyncRuns:
    """``runs`` first syncs of ``scope`` from a fake forge (tests/support/fake_github or fake_gitlab),
    each into a new warehouse in ``folder``, then a re-sync of the last warehouse (what ETags and
    cursors save)."""
    from warehouse import connect

    out, db = SyncRuns(), None
    for i in range(runs):
        db = folder / f"run{i}.duckdb"
        connect(db).close()
        fake.reset_log()
        t0 = time.perf_counter()
        out.report = sync(db, config, now=now)
        out.times.append(time.perf_counter() - t0)
        out.counted.append(fake.counted(scope))
        out.requests.append(list(fake.requests))
    fake.reset_log()
    t0 = time.perf_counter()
    sync(db, config, now=now)
    out.resync_time = time.perf_counter() - t0
    out.resync_counted, out.resync_not_modified = fake.counted(scope), fake.not_modified()
    out.resync_requests = list(fake.requests)
    return out
