"""Delivery: how often we ship and how long a change waits, stage by stage — a tab each for the
trends, the stages per team and the changes themselves (lead-time distribution, the slowest, all of
them). Only the open tab is computed and drawn (``st.tabs`` bound to the URL as ``?tab=``): on a busy
2-core host the whole page cost a revisit ~0.52 s, the Trends tab alone ~0.38 s (docs/performance.md)."""

import streamlit as st

from cadence.dashboard import charts, ui
from metrics import dora_metrics
from metrics.capacity_review import bot_changes
from metrics.export import export_changes_table

STAGES = {"coding_p50_hours": "Coding", "pickup_p50_hours": "Pickup", "review_p50_hours": "Review",
          "deploy_p50_hours": "Deploy"}

f = ui.header("Delivery", "Throughput and lead time")
trend = ui.load(dora_metrics, **f.dora_args(period=f.period, benchmark=f.benchmark))
if trend.empty:
    ui.empty_state("deployments")
    st.stop()

tabs = ui.page_tabs("delivery")

if tabs["Trends"].open:
    with tabs["Trends"]:
        split = st.segmented_control("Split deployments by", ["repo", "service"], default="repo", required=True,
                                     key="delivery-split")
        by_scope = ui.in_view(ui.load(dora_metrics, start=f.start, end=f.end, by=split, period=f.period,
                                      benchmark=f.benchmark), split, f)
        # Each column's two charts are one Vega view (charts.stack: a view costs the browser ~40 ms a visit).
        left, right = st.columns(2)
        with left:
            charts.show_stack([charts.bars(by_scope, "period_start", "deployments", color="scope",
                                           title=f"Production deployments per {f.period}, by {split}", unit="count"),
                               charts.lines(trend, "period_start", {"lead_time_p50_hours": "p50",
                                                                    "lead_time_p75_hours": "p75",
                                                                    "lead_time_p90_hours": "p90"},
                                            title="Lead time for changes (first commit → production)", unit="hours",
                                            dash=["lead_time_p75_hours", "lead_time_p90_hours"])], key="dl-deploys")
            bots = ui.load(bot_changes, start=f.start, end=f.end, by=f.by, scope=f.scope)
            st.caption(f"Bot changes: {bots:,}, excluded from lead time (authors matching `exclude_authors`; they "
                       "still count as changes shipped).")
        with right:
            charts.show_stack([charts.bars(trend, "period_start", "deployment_days",
                                           title=f"Days with at least one deployment, per {f.period}", unit="days",
                                           label="deployment days"),
                               charts.stacked_stages(trend, "period_start", STAGES,
                                                     title=f"Where a change waits: p50 of each stage per {f.period}")],
                              key="dl-days")

if tabs["Per team"].open:
    with tabs["Per team"]:
        teams = ui.load(dora_metrics, start=f.start, end=f.end, by="team", period="total", benchmark=f.benchmark)
        if teams.empty:
            ui.empty_state("deployments", " and map repos to teams in `cadence.toml`")
        else:
            st.caption("Each team's p50 of each stage over the whole range: where its changes wait longest.")
            charts.show(charts.stacked_stages(teams.sort_values("lead_time_p50_hours", ascending=False), "scope",
                                              STAGES, title="Stage breakdown per team (p50 hours)", horizontal=True),
                        key="dl-team-stages")


def slowest(rows):
    """The 25 changes with the longest lead time."""
    return rows.dropna(subset=["lead_time_hours"]).sort_values("lead_time_hours", ascending=False).head(25)


if tabs["Changes"].open:
    with tabs["Changes"]:
        changes = ui.load(export_changes_table, start=f.start, end=f.end, by=f.by, scope=f.scope)
        if changes.empty:
            ui.empty_state("changes")
        else:
            charts.show(charts.histogram(changes["lead_time_hours"], title="Lead-time distribution of changes"),
                        key="dl-hist")
            slow = ui.load_derived(slowest, export_changes_table, start=f.start, end=f.end, by=f.by, scope=f.scope)
            st.subheader("Slowest changes")
            st.caption(f"{len(changes):,} changes deployed or merged in the range; the 25 slowest to reach "
                       "production.")
            ui.table(slow, "slowest-changes", key="dl-slow", column_order=[
                "title", "repo", "url", "author", "lead_time_hours", "coding_hours", "pickup_hours", "review_hours",
                "deploy_hours", "merged_at", "deployed_at", "link", "change_id"], column_config={
                "url": st.column_config.LinkColumn("pull request", display_text="open ↗"),
                "lead_time_hours": st.column_config.NumberColumn("lead time", format="%.1f h"),
                **{c: st.column_config.NumberColumn(c.replace("_hours", ""), format="%.1f h")
                   for c in ("coding_hours", "pickup_hours", "review_hours", "deploy_hours")}})
            box = ui.rows_expander("All changes in the range (the export's columns)", key="dl-changes")
            if box is not None:
                with box:
                    ui.table(changes, f"changes-{f.start}-{f.end}", key="dl-changes-table")

ui.drilldown("deployments", f, key="dl-drill-deployments")
ui.metrics_table(f, key="dl-table")
