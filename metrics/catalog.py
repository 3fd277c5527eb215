"""What the warehouse holds, for the dashboard's filters: the date extent of each table (presets
end at the last day with data) and the repos and services there are, with their teams."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from cadence.core.config import NO_TEAM, Config
from cadence.core.scrub import scrub


def _sql(name: str) -> str:
    return (Path(__file__).parent / "sql" / f"{name}.sql").read_text(encoding="utf-8")


def data_extent(con: duckdb.DuckDBPyConnection, config: Config) -> pd.DataFrame:
    """``source_table, first_date, last_date, row_count`` for the tables the dashboard reads (first
    and last among the times in the accepted range; cadence.core.timerange)."""
    from metrics._sql import valid_params

    return con.execute(_sql("data_extent"), valid_params()).df()


def scope_options(con: duckdb.DuckDBPyConnection, config: Config) -> pd.DataFrame:
    """``kind`` (repo/service), ``value``, ``team``: every repo and service in the data or the
    config, one row per team that owns it (``team`` is ``NO_TEAM``, "(no team)", for one no team
    owns: the dashboard offers it as a team to filter by)."""
    found = con.execute(_sql("scope_values")).df()
    listed = pd.DataFrame(
        [(k, v) for _, k, v in config.team_rows() if k in ("repo", "service")], columns=["kind", "value"])
    values = pd.concat([found, listed]).drop_duplicates()
    rows = []
    for kind, value in values.itertuples(index=False):
        owners = config.teams_of(kind, value) or [NO_TEAM]
        rows += [(kind, value, team) for team in owners]
    out = pd.DataFrame(rows, columns=["kind", "value", "team"])
    return out.sort_values(["kind", "value"], key=lambda s: s.str.lower(), ignore_index=True)


def sync_states(con: duckdb.DuckDBPyConnection, config: Config) -> pd.DataFrame:
    """Every source/scope's cursor, last success, rows and last error (``warehouse.read_sync_states``).
    Errors are scrubbed of secrets again on the way out: a warehouse written by an older Cadence may
    hold one."""
    from warehouse.state import read_sync_states

    states = read_sync_states(con)
    for column in ("last_error", "skipped"):
        states[column] = [scrub(v) if isinstance(v, str) else v for v in states[column]]
    return states
