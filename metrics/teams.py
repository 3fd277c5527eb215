"""The team board: every team side by side — the five DORA keys with their bands, CI flaky rate and
cost, and cost per deployment — as the Teams page shows it and downloads it."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from cadence.core.config import Config

BOARD_COLUMNS = ("team", "deployments", "deploys_per_week", "band_deployment_frequency", "lead_time_p50_hours",
                 "band_lead_time", "change_failure_rate", "band_change_failure_rate", "recovery_time_p50_hours",
                 "band_recovery_time", "rework_rate", "flaky_rate", "effective_cost", "cost_per_deployment",
                 "ci_cost")
COST_COLUMNS = ("effective_cost", "cost_per_deployment", "ci_cost")


def team_board(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date, benchmark=None,
               include_costs: bool = True) -> pd.DataFrame:
    """One row per team over [start, end]: DORA metrics (``dora_metrics`` by team, whole range),
    CI flaky rate and cost (``pipeline_summary``), allocated cost (``cost_by``) and cost per
    deployment (``unit_cost``). A team with cost but no delivery still has a row, as do the cost
    scopes "unallocated" and "shared"; "(no team)" holds activity no team owns. Sorted by
    deployments per week, most first (rows without deliveries last). Without ``include_costs`` no
    cost is computed and the money columns are left out (the cost role, issue 15)."""
    from metrics import dora_metrics
    from metrics.costs import cost_by, unit_cost
    from metrics.pipelines import pipeline_summary

    dora = dora_metrics(con, config, start, end, by="team", period="total", benchmark=benchmark)
    spend = pd.DataFrame(columns=["scope", "effective_cost"])
    if include_costs:
        cost = cost_by(con, config, start, end, by="team", period="total")
        if not cost.empty:
            spend = cost.groupby("scope", as_index=False)["effective_cost"].sum()
    board = dora.merge(spend, on="scope", how="outer").rename(columns={"scope": "team"})
    board["cost_per_deployment"] = unit_cost(board["effective_cost"], board["deployments"])
    ci = pipeline_summary(con, config, start, end, by="team", period="total")
    board = board.merge(ci[["scope", "flaky_rate", "ci_cost"]].rename(columns={"scope": "team"}), on="team",
                        how="left")
    board = board[list(BOARD_COLUMNS)]
    if not include_costs:
        board = board.drop(columns=list(COST_COLUMNS))
    return board.sort_values("deploys_per_week", ascending=False, na_position="last", ignore_index=True)


__all__ = ["BOARD_COLUMNS", "team_board"]
