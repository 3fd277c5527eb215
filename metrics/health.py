"""Data health: coverage figures that say how far to trust the DORA numbers of a range.

Every metric rests on derived facts (which deployment shipped a change, which caused an incident);
this module counts how each was found (explicitly, by sha, by inference, not at all) and what had
to be left out (negative spans, deployments with no finish time), with what to do about each. It
reads the same SQL fragments as ``metrics.dora``, so the counts match the metrics exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import duckdb
import pandas as pd

from cadence.core.config import Config
from metrics._sql import compose, range_params, run_query
from metrics.dora import _check_range

HEALTH_COLUMNS = ("check", "value", "total", "share", "what_to_do")

WHAT_TO_DO = {
    1: "Sync deployments for these repos, or send change_ids with each deployment; until then they "
       "are not in lead time (see `cadence drilldown changes`, link none).",
    2: "Exact: the source said which deployment shipped the change.",
    3: "Exact for squash and merge commits whose sha was deployed.",
    4: "Assumes the first production deployment of the repo after the merge shipped it; record "
       "explicit links (deployment_changes / change_ids) for exact lead times.",
    5: "Deployments of repos whose pull requests are not synced, or redeploys; add the repo to "
       "[sources.github] repos or send change_ids.",
    6: "Left out of the lead-time median: a deployment linked before the first commit (clock skew "
       "or a wrong explicit link); check the source times.",
    7: "Left out of the coding median: first commit after the pull request opened (rebased or "
       "amended commits).",
    8: "Left out of the pickup median: a review before the pull request was opened.",
    9: "Left out of the review median: merged before its first review or opening.",
    10: "Left out of the deploy median: linked to a deployment that finished before the merge.",
    11: "Exact: the incident names the deployment that caused it.",
    12: "Attributed to the latest deployment of the same service (repo when there is no service) "
        "within attribution_window_days; set caused_by_deployment_id for exact figures.",
    13: "Count in MTTR only, not in change failure rate or recovery time; give incidents a service "
        "that matches the deployments' service, or widen attribution_window_days.",
    14: "Left out of recovery time and MTTR; check the incident source's times.",
    15: "Left out of every metric; make the deployment source report a finish time.",
    16: "Rollbacks and squash-merge links cannot be detected without a sha.",
    17: 'Shown as "(no team)" in every team view; add their repo or service to a [teams.NAME] in cadence.toml.',
    18: 'Shown as "(no team)" in every team view; add their repo to a [teams.NAME] in cadence.toml.',
    19: 'Shown as "(no team)" in every team view; add their service or repo to a [teams.NAME] in cadence.toml.',
}


def data_health(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> pd.DataFrame:
    """Coverage of [start, end]: one row per check with ``value`` of ``total`` and what to do."""
    start, end = _check_range(start, end)
    params = range_params(config, start, end, with_merged=True)
    df = run_query(con, config, compose("data_health"), params)
    df["value"] = df["value"].astype("int64")
    df["total"] = df["total"].astype("int64")
    df["share"] = (df["value"] / df["total"].where(df["total"] > 0)).astype("float64")
    df["what_to_do"] = df["ord"].map(WHAT_TO_DO).astype(object)
    df["check"] = df["check"].astype(object)
    return df.loc[:, list(HEALTH_COLUMNS)].reset_index(drop=True)


def out_of_range_rows(con: duckdb.DuckDBPyConnection, config: Config | None = None) -> pd.DataFrame:
    """``table, rows, columns``: per table, the rows holding a time outside the accepted range
    (cadence.core.timerange), and which time columns hold them; only tables with any.

    Ingest and the webhook refuse such times, so this is empty unless something wrote around them
    (SQL in the duckdb shell, or a sync storing a source's odd time as given); the metrics leave
    those rows out of every figure (so a row dated year 9999 cannot move "data through" either),
    and Data health shows this count."""
    from metrics._sql import load_sql, valid_params

    found = con.execute(load_sql("out_of_range"), valid_params()).fetchall()
    rows: dict[str, dict] = {}
    for _, table, column, n in found:
        entry = rows.setdefault(table, {"table": table, "rows": 0, "columns": []})
        if column == "*" or table not in ("deployments", "changes", "incidents"):
            entry["rows"] = max(entry["rows"], int(n))
        if column != "*":
            entry["columns"].append(column)
    return pd.DataFrame([{**e, "columns": ", ".join(e["columns"])} for e in rows.values()],
                        columns=["table", "rows", "columns"])


def duplicate_keys(con: duckdb.DuckDBPyConnection, config: Config | None = None) -> pd.DataFrame:
    """``table, keys, extra_rows``: natural keys held by more than one row, per fact table.

    The large fact tables keep their key without a database constraint (migration 004); every
    Cadence writer replaces rows on the key, so this is empty unless something wrote around them
    (a manual INSERT, say). Each copy would count in the metrics, so Data health shows it."""
    from warehouse.upsert import TABLE_KEYS, UNINDEXED_TABLES

    rows = []
    for table in sorted(UNINDEXED_TABLES):
        keys = ", ".join(f'"{k}"' for k in TABLE_KEYS[table])
        found = con.execute(f'SELECT count(*), coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM "{table}" '
                            f"GROUP BY {keys} HAVING count(*) > 1)").fetchall()[0]
        rows.append((table, int(found[0]), int(found[1])))
    return pd.DataFrame(rows, columns=["table", "keys", "extra_rows"])


# -- sync status ----------------------------------------------------------------------------------

STALE_AFTER_DAYS = 2


def sync_status(states: pd.DataFrame, now: pd.Timestamp, command: Callable[[str], str]) -> pd.DataFrame:
    """``states`` (``metrics.catalog.sync_states``) with a ``status`` column: what each source scope
    needs, checked in this order — "Failing" (its last sync raised: fix the cause and re-run),
    "Skipped" (the source cannot serve this part), "Never succeeded", "Stale" (last success more than
    ``STALE_AFTER_DAYS`` whole days before ``now``) or "OK". ``command(source)`` names the command
    that syncs a source (the caller's registry), quoted in the advice."""
    def status(row) -> str:
        run = f"`{command(str(row.source))}`"
        if isinstance(row.last_error, str) and row.last_error:
            return f"Failing — fix the cause above, then re-run {run}; the cursor has not moved."
        if isinstance(row.skipped, str) and row.skipped:
            return "Skipped — the source cannot serve this part (why below); the rest of the sync ran."
        if pd.isna(row.last_success_at):
            return f"Never succeeded — run {run}."
        if (now - pd.Timestamp(row.last_success_at)).days > STALE_AFTER_DAYS:
            return f"Stale — last success over {STALE_AFTER_DAYS} days ago; schedule {run}."
        return "OK"

    return states.assign(status=[status(r) for r in states.itertuples()])
