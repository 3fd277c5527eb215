"""The DORA facts of a range, computed once and read by many queries (the dashboard's rollup).

Every DORA query (``dora_metrics``, ``drilldown``, ``bot_changes``) is the shared fragments
(metrics/sql: valid rows → deployments → change links → incident attribution → deployment outcomes)
followed by the scopes and a final aggregate. On a large warehouse the fragments are nearly all of
the cost, and they do not depend on the grouping (``by``), the scope, the period or the team map: a
page that draws the same range by org, by repo and by team computes them three times.

A ``FactStore`` keeps the three fact tables the fragments end in (``change_facts``,
``incident_attribution``, ``deployment_outcomes``) per (data version, range, settings), as Arrow
tables in memory, and a query reads them in place of the fragments: the same final SQL files over the
same rows, so the numbers are the same ones (tests/metrics/test_facts.py compares both paths). The
store is used only where a caller switched it on for a data version (``using_store``): the dashboard
does, keyed by the warehouse's last-write token, and warms it for the default views; the CLI, the
export and the tests without it take the direct path.

Facts are computed in three steps, each reading what the previous produced (so the change links,
the costliest part, are computed once, not once per fact table).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from cadence.core.config import Config
from cadence.core.lru import SingleFlightLRU
from metrics._sql import TEAM_MAP_VIEW, load_sql, range_params, run_with_views, team_map_frame

log = logging.getLogger(__name__)

FACT_TABLES = ("change_facts", "incident_attribution", "deployment_outcomes")
# step -> fragments composed in front of "SELECT * FROM <step>" (the earlier facts are registered)
_STEPS = {
    "change_facts": ("valid_rows", "deployments", "change_links"),
    "incident_attribution": ("valid_rows", "deployments", "incident_attribution"),
    "deployment_outcomes": ("valid_rows", "deployments", "deployment_outcomes"),
}
# The fragments a query over stored facts still needs: the valid rows (a final file may read
# valid_incidents) and the scopes (they apply $by, $scope and the team map to the facts).
ON_FACTS = ("valid_rows", "scopes")
# Range parameters the fragments read; the facts are the same for the same values of these.
_FACT_PARAMS = ("start_ts", "end_ts", "prod_envs", "window_days", "rework_labels", "bot_pattern",
                "with_merged")


@dataclass(frozen=True, eq=False)
class Facts:
    """The fact tables of [start, end] (end inclusive) for one data version and settings."""

    start: date
    end: date
    with_merged: bool
    tables: dict[str, pa.Table]

    def covers(self, start: date, end: date) -> bool:
        return self.start <= start and end <= self.end

    @property
    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.tables.values())


def _settings_key(params: dict[str, Any]) -> tuple:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()
                 if k in _FACT_PARAMS and k not in ("start_ts", "end_ts", "with_merged"))


def compute_facts(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                  with_merged: bool = False) -> Facts:
    """The three fact tables of [start, end], by the fragments' own SQL."""
    params = range_params(config, start, end, with_merged=with_merged)
    tables: dict[str, pa.Table] = {}
    for name, fragments in _STEPS.items():
        sql = "WITH " + ",\n".join(load_sql(f).strip() for f in fragments) + f"\nSELECT * FROM {name}"
        tables[name] = run_with_views(con, sql, params, dict(tables), arrow=True)
    return Facts(start=start, end=end, with_merged=with_merged, tables=tables)


class FactStore(SingleFlightLRU):
    """Facts per (data version, settings, range, with_merged), least recently used dropped first.

    Thread-safe; one computation per key at a time (cadence.core.lru: a second caller waits for the
    first's result rather than computing it again), so a warm-up and a page asking for the same range
    share the work.
    """

    def __init__(self, max_entries: int = 6) -> None:
        super().__init__(max_entries)

    def covering(self, version: str, settings: tuple, start: date, end: date,
                 with_merged: bool) -> Facts | None:
        """A stored Facts of ``version`` whose range covers [start, end] (the narrowest), or None."""
        found = [f for (v, s, _lo, _hi, m), f in self.items()
                 if v == version and s == settings and m == with_merged and f.covers(start, end)]
        return min(found, key=lambda f: (f.end - f.start).days) if found else None


_current = threading.local()


@contextmanager
def using_store(store: FactStore | None, version: str) -> Iterator[None]:
    """Within the block (this thread), DORA queries read and fill ``store`` for data ``version``
    (for instance a database path and its last-write token); None switches it off."""
    previous = getattr(_current, "state", None)
    _current.state = (store, version) if store is not None else None
    try:
        yield
    finally:
        _current.state = previous


def facts_for(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date, *,
              with_merged: bool = False, covering: bool = False) -> Facts | None:
    """The stored facts for [start, end] when a store is in use (computed now if missing), else
    None. ``covering``: any stored facts whose range covers [start, end] will do (queries that filter
    every row to their own range, as dora_metrics' views do)."""
    state = getattr(_current, "state", None)
    if state is None:
        return None
    store, version = state
    settings = _settings_key(range_params(config, start, end, with_merged=with_merged))
    if covering:
        found = store.covering(version, settings, start, end, with_merged)
        if found is not None:
            return found
    key = (version, settings, start, end, with_merged)
    return store.get(key, lambda: _timed_compute(con, config, start, end, with_merged))


def _timed_compute(con, config, start, end, with_merged) -> Facts:
    import time

    t0 = time.perf_counter()
    facts = compute_facts(con, config, start, end, with_merged)
    log.info("DORA facts %s..%s%s: %.2f s, %.1f MB", start, end, " (with merged)" if with_merged else "",
             time.perf_counter() - t0, facts.nbytes / 1e6)
    return facts


def run_on_facts(con: duckdb.DuckDBPyConnection, config: Config, facts: Facts, final: str,
                 params: dict[str, Any]) -> Any:
    """Run the final query file ``final`` over stored ``facts`` (in place of the fragments)."""
    from metrics._sql import compose

    views = {TEAM_MAP_VIEW: team_map_frame(config), **facts.tables}
    return run_with_views(con, compose(final, ON_FACTS), params, views)
