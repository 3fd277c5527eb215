"""Stability: how often a deploy hurts, which deployment each incident came from, how fast we
recover, and what is still open. The open incidents stay at the top; below them a tab each for the
trends, the incidents (timeline and attribution) and the failed deployments. Only the open tab is
computed and drawn (``st.tabs`` bound to the URL as ``?tab=``): on the 1M-deployment warehouse the
failed deployments alone are thousands of rows a revisit sent to the browser (docs/performance.md)."""

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

# What is still open stays above the tabs, whichever is shown.
open_now = incidents[incidents["resolved_at"].isna()] if not incidents.empty else incidents
st.subheader(f"Open incidents ({len(open_now)})")
if open_now.empty:
    st.success("No open incidents in this view.", icon=":material/check_circle:")
else:
    ui.table(open_now, "open-incidents", key="st-open")

tabs = ui.page_tabs("stability")

if tabs["Trends"].open:
    with tabs["Trends"]:
        left, right = st.columns(2)
        with left:
            charts.show(charts.lines(trend, "period_start", {"change_failure_rate": "Change failure rate",
                                                             "rework_rate": "Rework rate"},
                                     title=f"Change failure and rework rate per {f.period}", unit="fraction",
                                     dash=["rework_rate"]), key="st-rates")
        with right:
            charts.show(charts.lines(trend, "period_start",
                                     {"recovery_time_p50_hours": "Failed deployment recovery p50",
                                      "mttr_p50_hours": "All incidents (MTTR) p50"},
                                     title=f"Recovery time per {f.period}", unit="hours", dash=["mttr_p50_hours"]),
                        key="st-recovery")

if tabs["Incidents"].open:
    with tabs["Incidents"]:
        st.caption("Incidents and the deployments they are attributed to.")
        if incidents.empty:
            ui.empty_state("incidents")
        else:
            charts.show(charts.incident_timeline(incidents, title="Incident timeline by service (colour: how it "
                                                                  "was attributed)"), key="st-timeline")
            services = incidents["service"].nunique(dropna=False)
            if services > charts.TIMELINE_SERVICES:
                st.caption(f"The timeline shows the {charts.TIMELINE_SERVICES} services with the most incidents, "
                           f"of {services:,}; every incident is in the tables below.")
            counts = incidents["attribution"].value_counts()
            st.caption("Attribution: " + " · ".join(f"{k} {v}" for k, v in counts.items()) +
                       ". *explicit* = the source named the deployment; *service*/*repo* = the latest deployment "
                       "of the same service (repo) in the attribution window; *none* = no deployment in the window.")
            box = ui.rows_expander(f"All {len(incidents):,} incidents", key="st-incidents")
            if box is not None:
                with box:
                    ui.table(incidents, f"incidents-{f.start}-{f.end}", key="st-incidents-table")

if tabs["Failed deployments"].open:
    with tabs["Failed deployments"]:
        failed = deployments[deployments["failed"].astype(bool)] if not deployments.empty else deployments
        if failed.empty:
            st.success("No failed production deployments in this view.", icon=":material/check_circle:")
        else:
            st.caption(f"{len(failed):,} of {len(deployments):,} production deployments caused an incident or "
                       "were rolled back.")
            ui.table(failed, "failed-deployments", key="st-failed")

ui.metrics_table(f, key="st-table")
