"""Loading metric SQL by name and running it with bound parameters.

Every metric query is one ``WITH`` built from the shared fragments (the derived facts: which
deployment shipped a change, which caused an incident, which failed or were rework, and the scope
of each row) followed by a final query file. The CLI, the pages and the export all go through here,
so they read the same definitions. Nothing is written to the warehouse: the team mapping from the
configuration is registered on the connection for the duration of one query, which works on a
read-only connection.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pandas as pd

from cadence.core.settings.capacity import author_pattern
from cadence.core.config import NO_TEAM, Config
from cadence.core.timerange import accepted_range

# The derived facts, in dependency order; each file holds comma-separated CTE definitions.
FRAGMENTS = ("valid_rows", "deployments", "change_links", "incident_attribution", "deployment_outcomes", "scopes")
TEAM_MAP_VIEW = "cadence_team_map"
_PARAM = re.compile(r"\$([a-z_]+)")


@cache
def load_sql(name: str) -> str:
    """The text of ``metrics/sql/<name>.sql``."""
    return resources.files("metrics").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def compose(final: str, fragments: Sequence[str] = FRAGMENTS) -> str:
    """One query: WITH the ``fragments`` (files of comma-separated CTE definitions, in dependency
    order; the DORA facts by default), then the final file: its own CTEs (if it opens with one) and
    its SELECT. Values reach the query as bound ``$name`` parameters, never through the text."""
    body = load_sql(final).strip()
    if not fragments:
        return body
    code = "\n".join(line for line in body.splitlines() if not line.lstrip().startswith("--")).lstrip()
    joiner = "\n" if code.upper().startswith("SELECT") else ",\n"
    return "WITH " + ",\n".join(load_sql(name).strip() for name in fragments) + joiner + body


def range_params(config: Config, start: date, end: date, *, by: str = "org", scope: str | None = None,
                 period: str = "total", with_merged: bool = False) -> dict[str, Any]:
    """Bound parameters for a query over [start, end] (end inclusive of its whole day, UTC)."""
    end_excl = end + timedelta(days=1)
    return {
        "start_ts": datetime(start.year, start.month, start.day),
        "end_ts": datetime(end_excl.year, end_excl.month, end_excl.day),
        "start_date": start,
        "end_date": end_excl,
        "prod_envs": [e.lower() for e in config.production_environments],
        "window_days": int(config.attribution_window_days),
        "rework_labels": [label.lower() for label in config.rework_labels],
        "bot_pattern": author_pattern(config.review.exclude_authors),
        "by": by,
        "scope": scope,
        "period": period,
        "with_merged": with_merged,
        "no_team": NO_TEAM,
        **valid_params(),
    }


def valid_params() -> dict[str, Any]:
    """The accepted range of stored times (cadence.core.timerange) as bound parameters: a row holding a
    time outside it is left out of every figure (valid_rows.sql) and counted on Data health."""
    valid_from, valid_until = accepted_range()
    return {"valid_from": valid_from, "valid_until": valid_until,
            "valid_first_day": valid_from.date(), "valid_last_day": valid_until.date()}


def run_with_views(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any],
                   views: dict[str, Any], *, arrow: bool = False) -> Any:
    """Run ``sql`` with ``views`` (DataFrames or Arrow tables) registered and only the parameters it
    names bound (a parameter it names but ``params`` lacks is an error); a DataFrame, or an Arrow
    table with ``arrow``."""
    used = set(_PARAM.findall(sql))
    missing = used - set(params)
    if missing:
        raise ValueError(f"metric SQL needs parameter(s) {sorted(missing)}")
    # A cursor of its own: the registrations stay private to this query (other threads may share
    # ``con``), and a result left half-fetched on ``con`` does not block it.
    cur = con.cursor()
    try:
        for name, frame in views.items():
            cur.register(name, frame)
        if TEAM_MAP_VIEW in views:    # the scope rule that reads the team map (scopes.sql), a macro of
            cur.execute(load_sql("scope_macro"))   # this cursor: it works on a read-only connection
        bound = {k: v for k, v in params.items() if k in used}
        if arrow:   # a relation straight to Arrow (a DB-API result would copy the rows once more)
            return cur.sql(sql, params=bound).to_arrow_table()
        return cur.execute(sql, bound).df()
    finally:
        cur.close()


def run_query(con: duckdb.DuckDBPyConnection, config: Config, sql: str,
              params: dict[str, Any]) -> pd.DataFrame:
    """Run ``sql`` with the team mapping registered and only the parameters it names bound."""
    return run_with_views(con, sql, params, {TEAM_MAP_VIEW: team_map_frame(config)})


def team_map_frame(config: Config) -> pd.DataFrame:
    """The configuration's (team, kind, value) rows, registered as cadence_team_map."""
    rows = config.team_rows()
    return pd.DataFrame({"team": pd.Series([r[0] for r in rows], dtype=object),
                         "kind": pd.Series([r[1] for r in rows], dtype=object),
                         "value": pd.Series([r[2] for r in rows], dtype=object)})
