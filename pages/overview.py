"""Overview: the five DORA keys as tiles (value, band, change against the previous period of equal
length, sparkline), the SLOs met (linking to Reliability), their trends, and what delivery cost in
the same period (the cost tile and chart only for users with the ``cost`` role)."""

import streamlit as st

from cadence.dashboard import charts, ui
from metrics import dora_metrics_views
from metrics.costs import cost_by, unit_cost
from metrics.slo import slo_status

# (label, column, unit, band column, lower is better, how the change reads)
KEYS = [
    ("Deployment frequency", "deploys_per_week", "per week", "band_deployment_frequency", False, "relative"),
    ("Lead time for changes", "lead_time_p50_hours", "hours", "band_lead_time", True, "relative"),
    ("Change failure rate", "change_failure_rate", "fraction", "band_change_failure_rate", True, "points"),
    ("Failed deployment recovery", "recovery_time_p50_hours", "hours", "band_recovery_time", True, "relative"),
    ("Rework rate", "rework_rate", "fraction", None, True, "points"),
]
HELP = {
    "deploys_per_week": "Successful production deployments per week over the range.",
    "lead_time_p50_hours": "Median time from a change's first commit to its production deployment.",
    "change_failure_rate": "Share of production deployments that caused an incident or were rolled back.",
    "recovery_time_p50_hours": "Median time to resolve incidents attributed to a deployment.",
    "rework_rate": "Share of production deployments that were unplanned fixes.",
}


def fmt(value, unit):
    return {"per week": ui.fmt_per_week, "hours": ui.fmt_hours, "fraction": ui.fmt_pct}[unit](value)


def spark_label(periods, values, show):
    """A sparkline's hover title: its first and last period and value (``show`` formats a value)."""
    return f"{periods[0]:%d %b} {show(values[0])} to {periods[-1]:%d %b} {show(values[-1])}"


f = ui.header("Overview", "Where delivery stands")
# The period, the previous period (for the tile changes) and the trend in one pass over the facts.
now, before, trend = ui.load(dora_metrics_views, views=((f.start, f.end, "total"),
                                                       (f.previous.start, f.previous.end, "total"),
                                                       (f.start, f.end, f.period)),
                             by=f.by, scope=f.scope, benchmark=f.benchmark)
show_costs = ui.can_see_costs()  # without the cost role no cost figure is even computed
if show_costs:
    # cost_by is cost alone (cost_summary adds delivery and utilization, which the tiles already have).
    costs = ui.cost_in_view(ui.load(cost_by, start=f.start, end=f.end, by="team", period=f.period), f)
    costs_before = ui.cost_in_view(ui.load(cost_by, start=f.previous.start, end=f.previous.end, by="team",
                                           period="total"), f)
slos = ui.slos_in_view(ui.load(slo_status, at=f.end, team=f.team), f)

cur = now.iloc[0] if not now.empty else None
prev = before.iloc[0] if not before.empty else None
cols = [*st.columns(3), *st.columns(4 if show_costs else 3)]
for col, (label, key, unit, band, lower_better, change_kind) in zip(cols, KEYS, strict=False):
    with col.container(border=True):
        value = cur[key] if cur is not None else None
        delta = ui.change(value, prev[key] if prev is not None else None, kind=change_kind)
        spark = trend.dropna(subset=[key]) if not trend.empty else trend
        st.metric(label, fmt(value, unit), delta=delta, delta_color="inverse" if lower_better else "normal",
                  help=HELP[key], delta_description=f"vs previous {f.days} days")
        if len(spark) > 1:
            charts.show_sparkline(spark[key].round(4).tolist(), label=spark_label(
                spark["period_start"].tolist(), spark[key].tolist(), lambda v, u=unit: fmt(v, u)))
        if band:
            ui.band_badge(cur[band] if cur is not None else None, f.benchmark)
        else:
            st.badge("no DORA band", color="gray", help="DORA publishes no clusters for rework rate.")
with cols[5].container(border=True):
    met = int((slos["budget_remaining"] > 0).sum()) if not slos.empty else None
    st.metric("SLOs met", f"{met} / {len(slos)}" if met is not None else "—",
              help="SLOs with error budget left (attainment above the objective) over their own rolling "
                   f"window, as of {f.end:%d %b %Y} 24:00 UTC. Declare SLOs under [[slos]] in cadence.toml.")
    if slos.empty:
        st.badge("no SLOs in this view", color="gray")
    else:
        spent = int((slos["status"] == "exhausted").sum())
        burning = int(slos["status"].isin(["fast-burn", "slow-burn"]).sum())
        st.badge(f"{spent} exhausted · {burning} burning", color="red" if spent else ("orange" if burning else "green"))
    st.page_link("pages/reliability.py", label="Open Reliability", icon=":material/monitor_heart:")
if show_costs:
    with cols[6].container(border=True):
        total = costs["effective_cost"].sum() if not costs.empty else None
        total_before = costs_before["effective_cost"].sum() if not costs_before.empty else None
        weekly_cost = costs.groupby("period_start")["effective_cost"].sum() if not costs.empty else []
        st.metric("Cloud cost", ui.fmt_money(total), delta=ui.change(total, total_before), delta_color="inverse",
                  help="Amortized (effective) cost allocated to this view's team(s) over the range.",
                  delta_description=f"vs previous {f.days} days")
        if len(weekly_cost) > 1:
            charts.show_sparkline([round(v, 2) for v in weekly_cost], kind="bar", label=spark_label(
                weekly_cost.index.tolist(), weekly_cost.tolist(), ui.fmt_money))
        per_deploy = unit_cost(total, cur["deployments"] if cur is not None else None)
        st.badge(f"{ui.fmt_money(per_deploy)} per deployment", color="violet")

if cur is None:
    ui.empty_state("deployments")

label = "Weekly" if f.period == "week" else "Monthly"
st.subheader(f"{label} trends")
if trend.empty:
    ui.empty_state("deployments")
else:
    # Each column's two charts are one Vega view (charts.stack: a view costs the browser ~40 ms a visit).
    left, mid, right = st.columns(3)
    with left:
        charts.show_stack([charts.bars(trend, "period_start", "deployments", title="Production deployments",
                                       unit="count", label="deployments"),
                           charts.lines(trend, "period_start", {"change_failure_rate": "Change failure rate"},
                                        title="Change failure rate", unit="fraction")], key="ov-deploys")
    with mid:
        charts.show_stack([charts.lines(trend, "period_start", {"lead_time_p50_hours": "p50",
                                                                "lead_time_p90_hours": "p90"},
                                        title="Lead time for changes", unit="hours", dash=["lead_time_p90_hours"]),
                           charts.lines(trend, "period_start",
                                        {"recovery_time_p50_hours": "Failed deployment recovery p50",
                                         "mttr_p50_hours": "All incidents (MTTR) p50"},
                                        title="Recovery time", unit="hours", dash=["mttr_p50_hours"])],
                          key="ov-lead")
    with right:
        rework = charts.lines(trend, "period_start", {"rework_rate": "Rework rate"}, title="Rework rate",
                              unit="fraction")
        cost_chart = None
        if show_costs and not costs.empty:
            by_period = costs.groupby("period_start", as_index=False)["effective_cost"].sum()
            cost_chart = charts.bars(by_period, "period_start", "effective_cost", title="Cloud cost (amortized)",
                                     unit="USD", label="cost")
        charts.show_stack([rework, cost_chart], key="ov-rework")
        if show_costs and costs.empty:
            ui.empty_state("costs")

st.subheader("Behind the numbers")
ui.metrics_table(f, key="ov-table")
ui.drilldown("deployments", f, key="ov-drill-deployments")
ui.drilldown("changes", f, key="ov-drill-changes")
ui.drilldown("incidents", f, key="ov-drill-incidents")
