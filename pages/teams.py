"""Teams: every team side by side — the five keys with their bands, cost and cost per deployment.
Activity no team owns is its own row, "(no team)"; cost no rule allocates is "unallocated".
Pick a team (a row, or its button) to filter every page to it."""

import pandas as pd
import streamlit as st

from cadence.dashboard import charts, ui
from cadence.core.config import NO_TEAM
from metrics import dora_metrics
from metrics.costs import cost_by
from metrics.pipelines import pipeline_summary

f = ui.header("Teams", "Every team side by side")
dora = ui.load(dora_metrics, start=f.start, end=f.end, by="team", period="total", benchmark=f.benchmark)
show_costs = ui.can_see_costs()  # without the cost role: no money column, chart or download
cost = ui.load(cost_by, start=f.start, end=f.end, by="team", period="total") if show_costs else \
    pd.DataFrame(columns=["scope", "effective_cost"])
if dora.empty and cost.empty:
    ui.empty_state("deployments", " and map repos to teams in `cadence.toml`")
    st.stop()

spend = cost.groupby("scope", as_index=False)["effective_cost"].sum() if not cost.empty else \
    pd.DataFrame(columns=["scope", "effective_cost"])
board = dora.merge(spend, on="scope", how="outer").rename(columns={"scope": "team"})
board["cost_per_deployment"] = board["effective_cost"] / board["deployments"].where(board["deployments"] > 0)
ci = ui.load(pipeline_summary, start=f.start, end=f.end, by="team", period="total")   # CI (issue 18)
board = board.merge(ci[["scope", "flaky_rate", "ci_cost"]].rename(columns={"scope": "team"}), on="team", how="left")
board = board[["team", "deployments", "deploys_per_week", "band_deployment_frequency", "lead_time_p50_hours",
               "band_lead_time", "change_failure_rate", "band_change_failure_rate", "recovery_time_p50_hours",
               "band_recovery_time", "rework_rate", "flaky_rate", "effective_cost", "cost_per_deployment", "ci_cost"]]
if not show_costs:
    board = board.drop(columns=["effective_cost", "cost_per_deployment", "ci_cost"])
board = board.sort_values("deploys_per_week", ascending=False, na_position="last", ignore_index=True)
# What the sidebar can filter to: the configured teams and "(no team)"; cost scopes ("unallocated",
# "shared") are not teams.
teams = [t for t in board["team"].dropna() if t in ui.config().teams or t == NO_TEAM]


def pick_row() -> None:
    rows = st.session_state["teams-board"].selection.rows
    if rows and board.loc[rows[0], "team"] in teams:
        ui.focus_team(board.loc[rows[0], "team"])


st.caption(f"Bands: DORA {f.benchmark} clusters. Sort by any column; select a row to filter every page to "
           f"that team. *{NO_TEAM}*: deployments, changes and incidents of repos and services no team owns"
           + ("; *unallocated*: cost no allocation rule gives a team." if show_costs else ".")
           + (f" **Now filtered to {f.team}.**" if f.team else ""))
ui.table(board, f"teams-{f.start}-{f.end}", key="teams-board", on_select=pick_row, selection_mode="single-row",
         column_config={
             "deploys_per_week": st.column_config.NumberColumn("deploys / week", format="%.2f"),
             "lead_time_p50_hours": st.column_config.NumberColumn("lead time p50", format="%.1f h"),
             "recovery_time_p50_hours": st.column_config.NumberColumn("recovery p50", format="%.1f h"),
             "change_failure_rate": st.column_config.NumberColumn("change failure rate", format="percent"),
             "rework_rate": st.column_config.NumberColumn("rework rate", format="percent"),
             "effective_cost": st.column_config.NumberColumn("cost", format="dollar"),
             "cost_per_deployment": st.column_config.NumberColumn("cost / deployment", format="dollar"),
             "flaky_rate": st.column_config.NumberColumn("CI flaky rate", format="percent"),
             "ci_cost": st.column_config.NumberColumn("CI cost", format="dollar"),
             **{c: st.column_config.TextColumn("band") for c in board.columns if c.startswith("band_")}})
st.session_state["teams-pick"] = f.team if f.team in teams else None  # mirror the sidebar filter
st.pills("Filter every page to", teams, key="teams-pick",
         on_change=lambda: ui.focus_team(st.session_state["teams-pick"]))

left, right = st.columns(2)
with left:
    charts.show(charts.bars(board.dropna(subset=["deploys_per_week"]), "team", "deploys_per_week",
                            title="Deployment frequency by team", unit="per week", horizontal=True,
                            label="deploys / week"), key="tm-freq")
with right:
    charts.show(charts.bars(board.dropna(subset=["lead_time_p50_hours"]), "team", "lead_time_p50_hours",
                            title="Lead time p50 by team", unit="hours", horizontal=True, label="lead time p50"),
                key="tm-lead")
if show_costs and not cost.empty:
    charts.show(charts.bars(board.dropna(subset=["cost_per_deployment"]), "team", "cost_per_deployment",
                            title="Cost per production deployment by team", unit="USD", horizontal=True,
                            label="cost / deployment"), key="tm-cpd")
