"""Costs: what delivery costs — by team, service or account, what moved, what nobody owns, what looks
wrong, where it is heading, and what one deployment or one shipped change costs. The tiles and the
split sit above two tabs, Over time (daily cost with its anomalies marked, the forecast, cost per
deployment and per change) and Movers and anomalies (the two tables); only the open tab is computed
and drawn (``st.tabs`` bound to the URL as ``?tab=``): on a busy 2-core host the tables cost a revisit
~0.1 s (docs/performance.md)."""

import streamlit as st

from cadence.dashboard import charts, ui
from metrics.costs import (cost_anomalies, cost_by, cost_forecast, cost_summary, delivery_cost, top_movers,
                           untagged_share)

ui.require_costs()  # money only: hidden from the navigation without the cost role
f = ui.header("Costs", "Cloud cost beside the delivery it paid for")
summary = ui.cost_in_view(ui.load(cost_summary, start=f.start, end=f.end, by="team", period=f.period), f)
before = ui.cost_in_view(ui.load(cost_by, start=f.previous.start, end=f.previous.end, by="team",
                                 period="total"), f)
if summary.empty:
    ui.empty_state("costs")
    st.stop()

team = ui.cost_team(f)
overall = delivery_cost(summary).iloc[0]
total = overall["effective_cost"]
tags = ui.load(untagged_share, start=f.start, end=f.end, period="total")
cols = st.columns(4)
cols[0].metric("Cloud cost (amortized)", ui.fmt_money(total),
               delta=ui.change(total, before["effective_cost"].sum() if not before.empty else None),
               delta_color="inverse", border=True, delta_description=f"vs previous {f.days} days")
cols[1].metric("Cost per deployment", ui.fmt_money(overall["cost_per_deployment"]), border=True,
               help="Allocated cost ÷ successful production deployments of the same team(s) and days.")
cols[2].metric("Cost per change shipped", ui.fmt_money(overall["cost_per_change"]), border=True)
cols[3].metric("Untagged share (organisation)", ui.fmt_pct(tags["untagged_share"].iloc[0] if len(tags) else None),
               border=True, help="Cost with no team tag. Allocation rules in cadence.toml may still give it a "
                                 "team; tag resources with the cost-allocation tag to lower it.")

# The split is the daily chart's and the anomalies' (a day is anomalous for a team, service or account).
splits = ["team", "service", "account"]
split = st.segmented_control("Split daily cost and anomalies by", splits, default="team", required=True,
                             key="costs-split")
scope = team if split == "team" else None
if team and split != "team":
    st.caption("Cloud services and accounts are not split per team here: this chart is the whole organisation's.")
anomalies = ui.load(cost_anomalies, start=f.start, end=f.end, by=split)
if scope:
    anomalies = anomalies[anomalies["scope"] == scope]
tabs = ui.page_tabs("costs")
usd, pct = st.column_config.NumberColumn(format="dollar"), st.column_config.NumberColumn(format="percent")

if tabs["Over time"].open:
    with tabs["Over time"]:
        daily_by = ui.load(cost_by, start=f.start, end=f.end, by=split, period="day", scope=scope)
        daily = daily_by.groupby("period_start", as_index=False)["effective_cost"].sum()
        daily_chart = charts.bars(daily_by, "period_start", "effective_cost", color="scope", unit="USD",
                                  title=f"Daily cost by {split} (▼ anomalies)")
        charts.show(charts.mark_anomalies(daily_chart, anomalies, daily), key="co-daily")
        left, right = st.columns(2)
        with left:
            ahead = ui.load(cost_forecast, start=f.start, end=f.end, horizon_days=30, by="team" if team else "org",
                            scope=team)
            charts.show(charts.forecast(daily, ahead, title="Daily cost and the next 30 days (95 % interval)"),
                        key="co-forecast")
        with right:
            per = delivery_cost(summary, per="period_start")
            charts.show(charts.lines(per, "period_start", {"cost_per_deployment": "per deployment",
                                                           "cost_per_change": "per change shipped"},
                                     title=f"Cost per deployment and per change shipped, per {f.period}", unit="USD"),
                        key="co-per")

if tabs["Movers and anomalies"].open:
    with tabs["Movers and anomalies"]:
        left, right = st.columns(2)
        with left:
            st.subheader("Top movers (cloud services)")
            st.caption(f"Against the previous {f.days} days, organisation-wide.")
            movers = ui.load(top_movers, start=f.start, end=f.end, by="service", n=10)
            ui.table(movers, "cost-top-movers", key="co-movers", column_config={
                "previous_cost": usd, "current_cost": usd, "change": usd, "change_pct": pct})
        with right:
            st.subheader(f"Anomalies ({len(anomalies)})")
            st.caption("A day far outside the median of its previous 28 days (robust spread).")
            if anomalies.empty:
                st.success("No day far outside its recent range.", icon=":material/check_circle:")
            else:
                ui.table(anomalies, "cost-anomalies", key="co-anomalies", column_config={
                    "actual": usd, "expected": usd, "lower": usd, "upper": usd, "deviation": usd})

box = ui.rows_expander(f"Cost per {f.period} by team with deployments and utilization", key="co-summary")
if box is not None:
    with box:
        ui.table(summary, f"cost-summary-{f.start}-{f.end}", key="co-summary-table", column_config={
            "effective_cost": usd, "billed_cost": usd, "cost_per_deployment": usd, "cost_per_change": usd,
            "utilization": pct})
