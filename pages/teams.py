"""Teams: every team side by side — the five keys with their bands, cost and cost per deployment.
Activity no team owns is its own row, "(no team)"; cost no rule allocates is "unallocated".
Pick a team (a row, or its button) to filter every page to it."""

import streamlit as st

from cadence.dashboard import charts, ui
from cadence.core.config import NO_TEAM
from metrics.teams import team_board

f = ui.header("Teams", "Every team side by side")
show_costs = ui.can_see_costs()  # without the cost role: no money column, chart or download
board = ui.load(team_board, start=f.start, end=f.end, benchmark=f.benchmark, include_costs=show_costs)
if board.empty:
    ui.empty_state("deployments", " and map repos to teams in `cadence.toml`")
    st.stop()

# What the sidebar can filter to: the configured teams and "(no team)"; cost scopes ("unallocated",
# "shared") are not teams.
teams = [t for t in board["team"].dropna() if t in ui.config().teams or t == NO_TEAM]
# How the board's numbers read: column -> (label, format).
NUMBERS = {"deploys_per_week": ("deploys / week", "%.2f"), "lead_time_p50_hours": ("lead time p50", "%.1f h"),
           "recovery_time_p50_hours": ("recovery p50", "%.1f h"),
           "change_failure_rate": ("change failure rate", "percent"), "rework_rate": ("rework rate", "percent"),
           "effective_cost": ("cost", "dollar"), "cost_per_deployment": ("cost / deployment", "dollar"),
           "flaky_rate": ("CI flaky rate", "percent"), "ci_cost": ("CI cost", "dollar")}


def pick_row() -> None:
    rows = st.session_state["teams-board"].selection.rows
    if rows and board.loc[rows[0], "team"] in teams:
        ui.focus_team(board.loc[rows[0], "team"])


st.caption(f"Bands: DORA {f.benchmark} clusters. Sort by any column; select a row to filter every page to "
           f"that team. *{NO_TEAM}*: deployments, changes and incidents of repos and services no team owns"
           + ("; *unallocated*: cost no allocation rule gives a team." if show_costs else ".")
           + (f" **Now filtered to {f.team}.**" if f.team else ""))
ui.table(board, f"teams-{f.start}-{f.end}", key="teams-board", on_select=pick_row, selection_mode="single-row",
         column_config={c: st.column_config.NumberColumn(label, format=fmt) for c, (label, fmt) in NUMBERS.items()}
         | {c: st.column_config.TextColumn("band") for c in board.columns if c.startswith("band_")})
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
if show_costs and board["effective_cost"].notna().any():
    charts.show(charts.bars(board.dropna(subset=["cost_per_deployment"]), "team", "cost_per_deployment",
                            title="Cost per production deployment by team", unit="USD", horizontal=True,
                            label="cost / deployment"), key="tm-cpd")
