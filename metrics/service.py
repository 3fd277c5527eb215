"""What ``cadence serve`` recorded of its scheduled runs (``job_runs``, migration 008), for Data
health and the sidebar's "data as of"."""

from __future__ import annotations

import duckdb
import pandas as pd

from cadence.core.config import Config
from cadence.core.scrub import scrub
from warehouse.runs import data_as_of as last_sync_end
from warehouse.runs import recent_runs

JOB_RUN_COLUMNS = ("job", "started_at", "finished_at", "outcome", "rows_written", "seconds", "trigger", "message")


def job_runs(con: duckdb.DuckDBPyConnection, config: Config, limit: int = 50) -> pd.DataFrame:
    """The latest ``limit`` runs, newest first; messages scrubbed again on the way out."""
    runs = recent_runs(con, limit)
    runs["message"] = [scrub(v) if isinstance(v, str) else v for v in runs["message"]]
    return runs[list(JOB_RUN_COLUMNS)]


def data_as_of(con: duckdb.DuckDBPyConnection, config: Config) -> pd.DataFrame:
    """One row: ``synced_at``, the end of the latest successful scheduled sync (NaT when none)."""
    synced_at = last_sync_end(con)
    return pd.DataFrame({"synced_at": [pd.Timestamp(synced_at) if synced_at is not None else pd.NaT]})
