"""Job runs in the warehouse (``job_runs``, migration 008): every run ``cadence serve`` starts is
inserted as ``running`` and closed with its outcome, each in its own short write transaction (a
run's own rows are written by the sync in between, in theirs). Readers: Data health, the sidebar's
"data as of", ``/readyz`` and the missed-run check at start-up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cadence.core.scrub import scrub
from warehouse import write_connection

if TYPE_CHECKING:
    import pandas as pd

OUTCOMES = ("running", "success", "failed", "interrupted", "skipped")
MESSAGE_CHARS = 2000


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def start_run(db_path: str | Path, job: str, trigger: str = "schedule", *, now: datetime | None = None) -> str:
    """Record that ``job`` started; returns the run's id."""
    run_id = uuid.uuid4().hex
    with write_connection(db_path) as con:
        con.execute("INSERT INTO job_runs (run_id, job, started_at, outcome, trigger) VALUES (?, ?, ?, 'running', ?)",
                    [run_id, job, now or utcnow(), trigger])
    return run_id


def finish_run(db_path: str | Path, run_id: str, outcome: str, *, rows: int | None = None,
               message: str | None = None, now: datetime | None = None,
               lock_wait_seconds: float | None = None, _when_stopping: bool = False) -> None:
    """Close a run with its outcome (``success``, ``failed``, ``interrupted``). ``_when_stopping``:
    the shutdown's own write, allowed after ``warehouse.db.stop_new_writes``."""
    if outcome not in OUTCOMES or outcome == "running":
        raise ValueError(f"not a final outcome: {outcome!r}")
    text = scrub(message)[:MESSAGE_CHARS] if message else None
    with write_connection(db_path, lock_wait_seconds=lock_wait_seconds, _when_stopping=_when_stopping) as con:
        con.execute("UPDATE job_runs SET finished_at = ?, outcome = ?, rows_written = ?, message = ? "
                    "WHERE run_id = ?", [now or utcnow(), outcome, rows, text, run_id])


def record_skipped(db_path: str | Path, job: str, reason: str, *, now: datetime | None = None) -> None:
    """A run that did not start (the previous run of the same job was still going)."""
    at = now or utcnow()
    with write_connection(db_path) as con:
        con.execute("INSERT INTO job_runs (run_id, job, started_at, finished_at, outcome, message, trigger) "
                    "VALUES (?, ?, ?, ?, 'skipped', ?, 'schedule')", [uuid.uuid4().hex, job, at, at, scrub(reason)])


def close_interrupted(db_path: str | Path, *, now: datetime | None = None) -> int:
    """Close the runs a stopped or killed service left ``running``; returns how many. Called once at
    start-up, before the scheduler runs anything (no run of this process is open yet)."""
    with write_connection(db_path) as con:
        rows = con.execute("UPDATE job_runs SET finished_at = ?, outcome = 'interrupted', "
                           "message = coalesce(message, 'the service stopped during the run; its committed "
                           "transactions were kept, the one in progress rolled back') "
                           "WHERE outcome = 'running' RETURNING run_id", [now or utcnow()]).fetchall()
    return len(rows)


def last_runs(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Per job: ``last_start``, the start of its latest run that ran to its end (success or failure;
    not a skipped or interrupted one, which still leave the run owed), its latest success's end and
    its latest outcome; ``last_rows`` and ``last_seconds`` of its latest run that ran to its end."""
    rows = con.execute(
        "SELECT job, max(started_at) FILTER (WHERE outcome IN ('success', 'failed')) AS last_start, "
        "max(finished_at) FILTER (WHERE outcome = 'success') AS last_success, "
        "arg_max(outcome, started_at) AS last_outcome, "
        "arg_max(rows_written, started_at) FILTER (WHERE outcome IN ('success', 'failed')) AS last_rows, "
        "arg_max(date_diff('millisecond', started_at, finished_at) / 1000.0, started_at) "
        "FILTER (WHERE outcome IN ('success', 'failed')) AS last_seconds "
        "FROM job_runs GROUP BY job").fetchall()
    return {job: {"last_start": start, "last_success": success, "last_outcome": outcome,
                  "last_rows": last_rows, "last_seconds": last_seconds}
            for job, start, success, outcome, last_rows, last_seconds in rows}


def recent_runs(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """The latest runs, newest first (Data health)."""
    return con.execute(
        "SELECT job, started_at, finished_at, outcome, rows_written, "
        "date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds, trigger, message "
        "FROM job_runs ORDER BY started_at DESC, job LIMIT ?", [limit]).df()


def data_as_of(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When the warehouse was last brought up to date: the end of the latest successful sync run."""
    row = con.execute("SELECT max(finished_at) FROM job_runs WHERE outcome = 'success' AND job LIKE 'sync:%'"
                      ).fetchall()
    return row[0][0] if row else None
