"""The dashboard's copy of the warehouse under ``cadence serve``: readers never wait for a writer.

DuckDB lets a process open a file read-write only while no other process has it open, and readers
wait for every write transaction of the worker. Under ``cadence serve`` the dashboard reads
``<name>.dashboard.duckdb`` beside the warehouse instead: a copy the worker refreshes after writes
(at most one refresh per ``MIN_INTERVAL`` seconds, and never more often than five times the last
copy took), so a page never waits behind a sync and never sees a lock error; it shows data at most
a few seconds older than the warehouse. The copy is taken like a backup (a read-only connection
holds off other processes' writers while the file and its WAL are copied), checkpointed, and put in
place with one rename: a reader sees the old copy or the new one, never a part.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

MIN_INTERVAL = 1.0


def snapshot_path(db_path: str | os.PathLike) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.stem}.dashboard.duckdb")


def take_snapshot(db_path: str | os.PathLike, dest: str | os.PathLike | None = None) -> Path:
    """Copy the warehouse to ``dest`` (default ``snapshot_path``) consistently; returns ``dest``.
    In the worker, call it under the process's write lock (no read-write connection of this process
    may be open while the read-only one is)."""
    from warehouse.db import connect

    db_path = Path(db_path)
    dest = Path(dest) if dest is not None else snapshot_path(db_path)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    for stale in (tmp, Path(f"{tmp}.wal")):
        stale.unlink(missing_ok=True)
    con = connect(db_path, read_only=True)   # holds off other processes' writers while copying
    try:
        shutil.copyfile(db_path, tmp)
        wal = Path(f"{db_path}.wal")
        if wal.exists():
            shutil.copyfile(wal, f"{tmp}.wal")
    finally:
        con.close()
    copy = duckdb.connect(str(tmp))          # fold the WAL into the copy: one file to rename
    try:
        copy.execute("CHECKPOINT")
    finally:
        copy.close()
    Path(f"{tmp}.wal").unlink(missing_ok=True)
    os.replace(tmp, dest)
    return dest


class Refresher(threading.Thread):
    """Refreshes the dashboard's copy after writes (``mark``), debounced; a daemon thread."""

    def __init__(self, db_path: Path, lock) -> None:
        super().__init__(name="dashboard-snapshot", daemon=True)
        self.db_path = Path(db_path)
        self.lock = lock
        self.dirty = threading.Event()
        self.stopped = threading.Event()
        self.refreshes = 0

    def mark(self, _seconds: float | None = None) -> None:
        self.dirty.set()

    def run(self) -> None:
        interval = MIN_INTERVAL
        while not self.stopped.is_set():
            if not self.dirty.wait(timeout=1.0):
                continue
            self.stopped.wait(interval)          # let a burst of writes finish first
            self.dirty.clear()
            started = time.monotonic()
            try:
                with self.lock:
                    take_snapshot(self.db_path)
                self.refreshes += 1
            except Exception as exc:   # noqa: BLE001  the dashboard keeps its older copy
                log.warning("dashboard copy not refreshed (it keeps the previous one): %s", exc)
                self.dirty.set()
            interval = max(MIN_INTERVAL, 5 * (time.monotonic() - started))
