"""Capacity (product-planning reviews): per team per quarter — throughput, cost, compute utilization
and the cost of idle, commitment utilization — and a forecast for the next quarter."""

from datetime import timedelta

import streamlit as st

from cadence import charts, ui
from metrics.capacity import capacity_table, quarter_of

ui.require_costs()  # money only: hidden from the navigation without the cost role
f = ui.header("Capacity", "Per team per quarter, with next quarter's forecast")
start = quarter_of(f.start)  # whole quarters: a review compares quarters, not slices of them
st.caption(f"Calendar quarters from {start:%d %b %Y} (the quarter the date range starts in) to {f.end:%d %b %Y}; "
           "the current quarter counts the days so far (see *days*). Pick *This year* or *Last 12 months* for a "
           "full review.")
table = ui.load(capacity_table, start=start, end=f.end)
if f.team:
    table = table[table["team"] == f.team]
if table.empty:
    ui.empty_state("deployments")
    ui.empty_state("costs")
    st.stop()

actual = table[~table["is_forecast"].astype(bool)]
forecast = table[table["is_forecast"].astype(bool)]
latest_q = actual["quarter"].max()
latest = actual[actual["quarter"] == latest_q]
cols = st.columns(4)
cols[0].metric(f"Changes shipped · {latest_q}", ui.fmt_number(latest["changes_deployed"].sum(), 0), border=True)
cols[1].metric(f"Cloud cost · {latest_q}", ui.fmt_money(latest["effective_cost"].sum()), border=True)
cols[2].metric(f"Cost of idle · {latest_q}", ui.fmt_money(latest["cost_of_idle"].sum(min_count=1)), border=True,
               help="Cost × (1 − compute utilization), over the teams with utilization data.")
if not forecast.empty:
    cols[3].metric(f"Forecast cost · {forecast['quarter'].iloc[0]}", ui.fmt_money(forecast["effective_cost"].sum()),
                   border=True, help="Linear trend of each team's monthly daily rate, extended over next quarter.")

# A quarter is 90-92 days, so 100 days after its start always lies in the next one.
partial = table["days"] < [(quarter_of(q + timedelta(days=100)) - q).days for q in table["quarter_start"]]
show = table.assign(quarter=table["quarter"] + [" (forecast)" if fc else (" (to date)" if part else "")
                                                for fc, part in zip(table["is_forecast"], partial, strict=True)])
left, right = st.columns(2)
with left:
    charts.show(charts.bars(show, "quarter", "changes_deployed", color="team", title="Changes shipped per quarter",
                            unit="count"), key="cap-changes")
with right:
    charts.show(charts.bars(show, "quarter", "effective_cost", color="team", title="Cloud cost per quarter (amortized)",
                            unit="USD"), key="cap-cost")
if actual["utilization"].notna().any():
    charts.show(charts.bars(actual.dropna(subset=["cost_of_idle"]), "quarter", "cost_of_idle", color="team",
                            title="Cost of idle compute per quarter", unit="USD"), key="cap-idle")

st.subheader("Quarter table")
ui.table(table, f"capacity-{f.start}-{f.end}", key="cap-table", column_config={
    "deployments": st.column_config.NumberColumn(format="%.0f"),
    "changes_deployed": st.column_config.NumberColumn("changes shipped", format="%.0f"),
    "quarter_start": st.column_config.DateColumn("starts"),
    "effective_cost": st.column_config.NumberColumn("cost", format="dollar"),
    "cost_per_change": st.column_config.NumberColumn("cost / change", format="dollar"),
    "cost_of_idle": st.column_config.NumberColumn("cost of idle", format="dollar"),
    "utilization": st.column_config.NumberColumn("compute utilization", format="percent"),
    "commitment_utilization": st.column_config.NumberColumn("commitment utilization", format="percent"),
    "is_forecast": st.column_config.CheckboxColumn("forecast")})
