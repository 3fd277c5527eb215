"""Opening the DuckDB file: read-write or read-only, with a short retry on the file lock.

DuckDB lets one process hold a file read-write *or* any number of processes hold it read-only.
The dashboard and a sync are separate processes, so both keep their connections short
(open, do one unit of work, close) and retry briefly when the other holds the lock.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import duckdb

from cadence.core.errors import DatabaseLockedError, WarehouseError

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 15.0   # read when opening, so a test (or a caller) may change it

# One write transaction at a time in this process. Between processes DuckDB's file lock does it;
# inside one process (webhook threads, parallel sync workers) connections to the same file share
# one DuckDB instance and would run concurrent transactions, which the upserts of tables without
# a declared key (warehouse.upsert.UNINDEXED_TABLES) must not. Re-entrant for the read-only open
# of an old file, which upgrades it through a write connection.
_WRITE_LOCK = threading.RLock()
# Set by a stopping service (`cadence serve` on SIGTERM): no new write transaction starts in this
# process, so a sync in progress ends at a transaction boundary (StoppingError) instead of being cut
# off inside one.
_STOPPING = threading.Event()


class StoppingError(WarehouseError):
    """A write was refused because this process is shutting down (``stop_new_writes``)."""


# Called with the seconds each write connection held the file (open to close), e.g. by
# `cadence serve`'s metrics: that is how long a reader in another process may have waited.
WRITE_OBSERVERS: list = []


def stop_new_writes() -> None:
    """Refuse every write transaction that has not started yet in this process (shutdown)."""
    _STOPPING.set()


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in warehouse/migrations, in order."""
    out = []
    for item in resources.files("warehouse").joinpath("migrations").iterdir():
        if item.name.endswith(".sql"):
            version = int(item.name.split("_", 1)[0])
            out.append((version, item.name, item.read_text(encoding="utf-8")))
    return sorted(out)


LATEST_VERSION = max(v for v, _, _ in _migrations())


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _describe_open_error(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "not a valid duckdb database" in text.lower() or "not a duckdb" in text.lower():
        return (f'Database "{path}" is not a DuckDB file; point --db or CADENCE_DB at a Cadence '
                f"database, or remove the file to start a new one.")
    return f'Cannot open database "{path}": {text.splitlines()[0]}'


def connect(path: str | os.PathLike, *, read_only: bool = False,
            lock_wait_seconds: float | None = None, _deadline: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to ``lock_wait_seconds`` (default ``LOCK_WAIT_SECONDS``) for
    another process's lock.

    A read-write open creates the file if needed and brings its schema to the latest version.
    A read-only open of an older file upgrades it first through a short read-write connection.
    The wait is one deadline for the whole open, upgrade included (``_deadline``, passed down by
    the nested opens), so the time waited matches the one the error message names.
    """
    path = Path(path)
    wait = LOCK_WAIT_SECONDS if lock_wait_seconds is None else float(lock_wait_seconds)
    deadline = time.monotonic() + wait if _deadline is None else _deadline
    if read_only and not path.exists():
        raise WarehouseError(f'No database at "{path}"; run `cadence demo` for demo data, or '
                             f"`cadence sync`/`cadence ingest` to fill a new one.")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except (duckdb.IOException, duckdb.Error) as exc:
            left = deadline - time.monotonic()
            if _is_lock_error(exc) and left > 0:
                time.sleep(min(delay * (0.5 + random.random()), left))
                delay = min(delay * 1.6, 0.5)
                continue
            if _is_lock_error(exc):
                raise DatabaseLockedError(
                    f'Database "{path}" stayed locked by another process for {_seconds(wait)} s; '
                    f"wait for the running sync or ingest to finish and try again.") from exc
            raise WarehouseError(_describe_open_error(path, exc)) from exc
    try:
        version = database_version(con)
        if version < LATEST_VERSION:
            if read_only:
                con.close()
                with write_connection(path, lock_wait_seconds=wait, _deadline=deadline):
                    pass
                return connect(path, read_only=True, lock_wait_seconds=wait, _deadline=deadline)
            ensure_schema(con)
        elif version > LATEST_VERSION:
            con.close()
            raise WarehouseError(f'Database "{path}" has schema version {version}, newer than this '
                                 f"Cadence ({LATEST_VERSION}); upgrade Cadence.")
    except duckdb.Error:
        con.close()
        raise
    return con


def _seconds(wait: float) -> str:
    """A lock wait as the message shows it: "15", "2", "0.5"."""
    return f"{wait:.0f}" if wait >= 1 else f"{wait:.1g}"


def database_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open database (0 for an empty file)."""
    # fetchall, not fetchone: DuckDB 2.0 keeps a half-read result open on the connection, and a
    # later con.register() on it then fails with "Resource In Use".
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    rows = con.execute("SELECT max(version) FROM schema_version").fetchall()
    return int(rows[0][0] or 0)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the database's version, each in its own transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "name VARCHAR, applied_at TIMESTAMP DEFAULT current_timestamp)")
    current = database_version(con)
    for version, name, sql in _migrations():
        if version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        log.info("warehouse: applied migration %s", name)
        current = version
    return current


@contextmanager
def write_connection(path: str | os.PathLike, *, lock_wait_seconds: float | None = None,
                     _deadline: float | None = None,
                     _when_stopping: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-write connection: one transaction, committed on success, then closed.

    Holds this process's write lock throughout, so write transactions never overlap. Waiting for
    that lock counts against the same lock wait as the file's lock."""
    wait = LOCK_WAIT_SECONDS if lock_wait_seconds is None else float(lock_wait_seconds)
    deadline = time.monotonic() + wait if _deadline is None else _deadline
    if not _WRITE_LOCK.acquire(timeout=max(deadline - time.monotonic(), 0)):
        raise DatabaseLockedError(
            f'Database "{path}" stayed busy with another write of this process for {_seconds(wait)} s; '
            f"try again when it has finished.")
    try:
        if _STOPPING.is_set() and not _when_stopping:
            raise StoppingError(f'Database "{path}": this process is stopping; the write was not started.')
        con = connect(path, read_only=False, lock_wait_seconds=wait, _deadline=deadline)
        opened = time.monotonic()
        try:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()
            for observe in WRITE_OBSERVERS:
                observe(time.monotonic() - opened)
    finally:
        _WRITE_LOCK.release()


@contextmanager
def read_connection(path: str | os.PathLike, *,
                    lock_wait_seconds: float | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short read-only connection, closed on exit so a writer in another process can proceed."""
    con = connect(path, read_only=True, lock_wait_seconds=lock_wait_seconds)
    try:
        yield con
    finally:
        con.close()


def last_write_token(path: str | os.PathLike) -> str:
    """Changes whenever the database file (or its WAL) is written: a cache key for readers."""
    parts = []
    for p in (Path(path), Path(f"{path}.wal")):
        try:
            st = p.stat()
            parts.append(f"{st.st_mtime_ns}:{st.st_size}")
        except FileNotFoundError:
            parts.append("-")
    return "|".join(parts)
