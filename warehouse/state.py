"""Sync cursors in ``sync_state``: a collector reads its cursor, writes rows, and moves the cursor
in the same transaction as the rows, so a killed run resumes without loss or duplicates."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb

from cadence.core.clock import utcnow
from cadence.core.scrub import scrub

if TYPE_CHECKING:   # pandas is imported where used: `cadence ingest` starts faster without it
    import pandas as pd


def _now() -> datetime:
    return utcnow()   # CADENCE_NOW pins it


def read_cursor(con: duckdb.DuckDBPyConnection, source: str, scope: str) -> str | None:
    """The saved cursor of ``source``/``scope`` (None before the first successful run)."""
    row = con.execute("SELECT cursor FROM sync_state WHERE source = ? AND scope = ?",
                      [source, scope]).fetchone()
    return row[0] if row else None


def read_details(con: duckdb.DuckDBPyConnection, source: str, scope: str) -> dict:
    """Per-source extras saved beside the cursor (ETags, counts)."""
    row = con.execute("SELECT details FROM sync_state WHERE source = ? AND scope = ?",
                      [source, scope]).fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def write_cursor(con: duckdb.DuckDBPyConnection, source: str, scope: str, cursor: str | None, *,
                 rows_written: int = 0, details: dict | None = None,
                 now: datetime | None = None) -> None:
    """Record a successful run: new cursor, success time, cleared error, rows added to the total."""
    now = now or _now()
    con.execute(
        """
        INSERT INTO sync_state (source, scope, cursor, last_success_at, last_error, last_attempt_at,
                                rows_written, details)
        VALUES (?, ?, ?, ?, NULL, ?, ?, ?)
        ON CONFLICT (source, scope) DO UPDATE SET
            cursor = excluded.cursor,
            last_success_at = excluded.last_success_at,
            last_error = NULL,
            skipped = NULL,
            last_attempt_at = excluded.last_attempt_at,
            rows_written = sync_state.rows_written + excluded.rows_written,
            details = coalesce(excluded.details, sync_state.details)
        """,
        [source, scope, cursor, now, now, rows_written,
         json.dumps(details, sort_keys=True) if details is not None else None])


def record_sync_error(con: duckdb.DuckDBPyConnection, source: str, scope: str, message: str, *,
                      now: datetime | None = None) -> None:
    """Record a failed run; the cursor stays where the last success left it. The message is
    scrubbed of secrets first (it may quote an upstream answer that echoed the request)."""
    _record_attempt(con, source, scope, error=message, skipped=None, now=now)


def record_sync_skipped(con: duckdb.DuckDBPyConnection, source: str, scope: str, reason: str, *,
                        now: datetime | None = None) -> None:
    """Record a part the source cannot serve: not an error (nothing to fix here), not a success
    (the cursor stays); ``reason`` says why and what would make it run."""
    _record_attempt(con, source, scope, error=None, skipped=reason, now=now)


def _record_attempt(con: duckdb.DuckDBPyConnection, source: str, scope: str, *, error: str | None,
                    skipped: str | None, now: datetime | None) -> None:
    """A run that moved no cursor: its error or its reason to skip (scrubbed, the other cleared)."""
    con.execute(
        """
        INSERT INTO sync_state (source, scope, last_error, skipped, last_attempt_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (source, scope) DO UPDATE SET
            last_error = excluded.last_error, skipped = excluded.skipped, last_attempt_at = excluded.last_attempt_at
        """,
        [source, scope, *(scrub(text)[:2000] if text is not None else None for text in (error, skipped)),
         now or _now()])


def read_sync_states(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every source/scope with its cursor, last success, rows, last error and why it was skipped
    (Data health)."""
    return con.execute(
        "SELECT source, scope, cursor, last_success_at, last_attempt_at, rows_written, last_error, skipped "
        "FROM sync_state ORDER BY source, scope").df()
