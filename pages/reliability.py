"""Reliability: every SLO with its status and error budget, the budget's burn-down, the change
failures and deployments inside the burn, and incident-based availability per service."""

import streamlit as st

from cadence.dashboard import charts, ui
from metrics.slo import (
    incident_availability,
    incident_availability_incidents,
    slo_burndown,
    slo_drilldown,
    slo_status,
)

FIRST = ["slo", "status", "budget_remaining", "attainment", "objective"]   # what a lead reads first

f = ui.header("Reliability", "SLOs and error budgets, and what deployments cost in reliability")
status = ui.slos_in_view(ui.load(slo_status, at=f.end, team=f.team), f)
st.caption(f"As of {f.end:%d %b %Y} 24:00 UTC (the end of the view); each SLO over its own rolling window.")

if status.empty:
    st.info("No SLOs in this view — declare them under `[[slos]]` in cadence.toml, then run "
            "`cadence sync prometheus` or `cadence ingest sli FILE` (docs/sources.md).", icon=":material/inbox:")
else:
    met = int((status["budget_remaining"] > 0).sum())
    cols = st.columns(4)
    cols[0].metric("SLOs within budget", f"{met} / {len(status)}")
    for col, name in zip(cols[1:], ("exhausted", "fast-burn", "slow-burn"), strict=True):
        col.metric(name, int((status["status"] == name).sum()))
    shown = status[FIRST + [c for c in status.columns if c not in FIRST]]
    ui.table(shown, f"slo-status-{f.end}", key="rel-status", column_config={
        "objective": st.column_config.NumberColumn(format="%.4f"),
        "attainment": st.column_config.NumberColumn(format="%.5f"),
        "budget_remaining": st.column_config.NumberColumn("budget left", format="percent"),
        "budget_burned_by_change_failures": st.column_config.NumberColumn("burned by change failures",
                                                                          format="percent"),
        **{c: st.column_config.NumberColumn(c.replace("burn_rate_", "burn "), format="%.2f")
           for c in ("burn_rate_1h", "burn_rate_6h", "burn_rate_3d")}})
    st.caption("Burn rate 1 spends exactly the budget over the window; fast-burn: 1 h > 14.4 and 6 h > 6, "
               "slow-burn: 3 d > 1 (SRE workbook). Definitions: docs/metrics.md §9.")

    pick = st.selectbox("SLO", list(status["slo"]), key="rel-slo")
    burn = ui.load(slo_burndown, slo=pick, at=f.end)
    charts.show(charts.burn_down(burn, title=f"Error budget burn-down of {pick} over its window"),
                key="rel-burndown")

    drills = (("incidents", "Change failures inside the burn"),
              ("deployments", "Deployments inside the window, with the budget left"))
    for column, (kind, label) in zip(st.columns(2), drills, strict=True):
        with column:
            box = ui.rows_expander(label, key=f"rel-{kind}")
            if box is not None:
                with box:
                    ui.table(ui.load(slo_drilldown, kind=kind, at=f.end, slo=pick), f"slo-{kind}-{pick}",
                             key=f"rel-{kind}-table")

st.subheader("Incident-based availability per service")
availability = ui.load(incident_availability, start=f.start, end=f.end, team=f.team)
if availability.empty:
    ui.empty_state("incidents")
else:
    st.caption(f"Share of {f.range_label} with no open incident of the service (overlaps counted once).")
    ui.table(availability, f"availability-{f.start}-{f.end}", key="rel-availability", column_config={
        "availability": st.column_config.NumberColumn(format="percent"),
        "incident_hours": st.column_config.NumberColumn(format="%.1f h"),
        "period_hours": None})
    box = ui.rows_expander("The incidents behind it", key="rel-availability-incidents")
    if box is not None:
        with box:
            rows = ui.load(incident_availability_incidents, start=f.start, end=f.end)
            ui.table(ui.in_view(rows, "service", f, column="service"), f"availability-incidents-{f.start}",
                     key="rel-availability-incidents-table")
