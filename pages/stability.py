"""Stability: how often a deploy hurts, which deployment each incident came from, how fast we
recover, and what is still open."""

import plotly.express as px
import streamlit as st

from cadence.dashboard import charts, ui
from metrics import dora_metrics, drilldown

f = ui.header("Stability", "Failures, incidents and recovery")
trend = ui.load(dora_metrics, **f.dora_args(period=f.period, benchmark=f.benchmark))
incidents = ui.load(drilldown, kind="incidents", **f.dora_args())
deployments = ui.load(drilldown, kind="deployments", **f.dora_args())

if trend.empty and incidents.empty:
    ui.empty_state("deployments")
    ui.empty_state("incidents")
    st.stop()

left, right = st.columns(2)
with left:
    charts.show(charts.lines(trend, "period_start", {"change_failure_rate": "Change failure rate",
                                                     "rework_rate": "Rework rate"},
                             title=f"Change failure and rework rate per {f.period}", unit="fraction",
                             dash=["rework_rate"]), key="st-rates")
with right:
    charts.show(charts.lines(trend, "period_start", {"recovery_time_p50_hours": "Failed deployment recovery p50",
                                                     "mttr_p50_hours": "All incidents (MTTR) p50"},
                             title=f"Recovery time per {f.period}", unit="hours", dash=["mttr_p50_hours"]),
                key="st-recovery")

st.subheader("Incidents and the deployments they are attributed to")
if incidents.empty:
    ui.empty_state("incidents")
else:
    timeline = incidents.copy()
    timeline["end"] = timeline["resolved_at"].fillna(timeline["created_at"].max())
    timeline["state"] = timeline["resolved_at"].isna().map({True: "open", False: "resolved"})
    timeline["duration_hours"] = (timeline["end"] - timeline["created_at"]).dt.total_seconds() / 3600
    timeline["deployment_id"] = timeline["deployment_id"].fillna("none")
    fig = px.timeline(timeline, x_start="created_at", x_end="end", y="service", color="attribution",
                      custom_data=["incident_id", "deployment_id", "attribution", "duration_hours", "state"],
                      category_orders={"attribution": ["explicit", "service", "repo", "none"]})
    fig.update_traces(hovertemplate="<b>%{customdata[0]}</b> (%{customdata[4]})<br>%{base|%d %b %Y %H:%M} → "
                                    "%{x|%d %b %Y %H:%M} UTC<br>%{customdata[3]:,.1f} h<br>deployment: "
                                    "%{customdata[1]} (attributed by %{customdata[2]})<extra></extra>")
    fig.update_layout(hovermode="closest")
    charts.show(charts.layout(fig, "Incident timeline by service (colour: how it was attributed)", "service",
                               height=max(280, 28 * timeline["service"].nunique() + 120)), key="st-timeline")
    counts = incidents["attribution"].value_counts()
    st.caption("Attribution: " + " · ".join(f"{k} {v}" for k, v in counts.items()) +
               ". *explicit* = the source named the deployment; *service*/*repo* = the latest deployment of the "
               "same service (repo) in the attribution window; *none* = no deployment in the window.")

    open_now = incidents[incidents["resolved_at"].isna()]
    st.subheader(f"Open incidents ({len(open_now)})")
    if open_now.empty:
        st.success("No open incidents in this view.", icon=":material/check_circle:")
    else:
        ui.table(open_now, "open-incidents", key="st-open")
    box = ui.rows_expander(f"All {len(incidents):,} incidents", key="st-incidents")
    if box is not None:
        with box:
            ui.table(incidents, f"incidents-{f.start}-{f.end}", key="st-incidents-table")

st.subheader("Failed deployments")
failed = deployments[deployments["failed"].astype(bool)] if not deployments.empty else deployments
if failed.empty:
    st.success("No failed production deployments in this view.", icon=":material/check_circle:")
else:
    st.caption(f"{len(failed):,} of {len(deployments):,} production deployments caused an incident or were "
               "rolled back.")
    ui.table(failed, "failed-deployments", key="st-failed")
ui.metrics_table(f, key="st-table")
