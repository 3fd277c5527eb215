"""Idempotent writes: every table is upserted on its natural key, so any sync or ingest re-runs
without duplicates."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:   # pandas is imported where used: `cadence ingest` starts faster without it
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "deployments": ("id",),
    "changes": ("id",),
    "deployment_changes": ("deployment_id", "change_id"),
    "incidents": ("id",),
    "costs": ("charge_date", "source", "provider", "billing_account_id", "sub_account_id",
              "service_name", "region", "resource_id", "allocation_tag"),
    "utilization": ("date", "provider", "resource", "metric"),
    "commitments": ("date", "provider", "kind"),
    "sync_state": ("source", "scope"),
    "warehouse_meta": ("key",),
    "branch_commits": ("repo", "sha"),
    "sli_hours": ("slo", "hour"),
    "notify_alerts": ("alert_key",),
    "notify_alert_channels": ("alert_key", "channel"),
    "notify_deliveries": ("id",),
    "pipeline_runs": ("id", "attempt"),
    "pipeline_jobs": ("run_id", "attempt", "name"),
    "job_runs": ("run_id",),
}

# Tables whose key is not declared as a PRIMARY KEY (migration 004: DuckDB's key index cost more
# than the rows on large loads). Their key is kept by the writers: upsert_rows deletes the rows
# with the incoming keys and inserts the new ones, in the caller's one write transaction, and
# write transactions are serialized (warehouse.db.write_connection).
UNINDEXED_TABLES = frozenset({"deployments", "changes", "incidents", "costs"})


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """Column names of a warehouse table, in schema order."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()
    return [r[0] for r in rows]


def upsert_rows(con: duckdb.DuckDBPyConnection, table: str,
                rows: pd.DataFrame | pa.Table | Iterable[Mapping]) -> int:
    """Insert or replace ``rows`` into ``table`` on its natural key; returns the rows written.

    Tables with a primary key take DuckDB's INSERT OR REPLACE; ``UNINDEXED_TABLES`` the same
    effect by deleting the rows with the incoming keys, then inserting.
    Columns not given keep their defaults on insert (and are reset to them on replace: a writer
    always sends the whole row it owns). Within one batch the last row for a key wins; an Arrow
    table (typed rows, written without a pandas round trip: ``cadence ingest``) must hold each key
    once, as ingest checks.
    The caller owns the transaction (see ``write_connection``).
    """
    if table not in TABLE_KEYS:
        raise ValueError(f"unknown warehouse table {table!r}")
    arrow = hasattr(rows, "num_rows") and hasattr(rows, "column_names")
    if arrow:
        df = rows
        given, empty = list(rows.column_names), rows.num_rows == 0
    else:
        import pandas as pd

        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        given, empty = list(df.columns), df.empty
    if empty:
        return 0
    known = table_columns(con, table)
    unknown = [c for c in given if c not in known]
    if unknown:
        raise ValueError(f"{table}: no such column(s) {unknown}")
    key = list(TABLE_KEYS[table])
    missing_key = [k for k in key if k not in given]
    if missing_key:
        raise ValueError(f"{table}: rows lack key column(s) {missing_key}")
    cols = [c for c in known if c in given]
    if arrow:
        df = df.select(cols)
    else:
        df = df.drop_duplicates(subset=key, keep="last")[cols]
    col_list = ", ".join(f'"{c}"' for c in cols)
    view = f"_upsert_{table}"
    con.register(view, df)
    try:
        if table in UNINDEXED_TABLES:
            on = " AND ".join(f't."{k}" = v."{k}"' for k in key)
            con.execute(f'DELETE FROM "{table}" AS t USING "{view}" AS v WHERE {on}')
            con.execute(f'INSERT INTO "{table}" ({col_list}) SELECT {col_list} FROM "{view}"')
        else:
            con.execute(f'INSERT OR REPLACE INTO "{table}" ({col_list}) SELECT {col_list} FROM "{view}"')
    finally:
        con.unregister(view)
    return len(df)


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str | None) -> None:
    """Record a small fact about this warehouse (e.g. ``is_demo``)."""
    con.execute("INSERT OR REPLACE INTO warehouse_meta (key, value) VALUES (?, ?)", [key, value])


def get_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = con.execute("SELECT value FROM warehouse_meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else None
