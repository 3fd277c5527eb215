"""Pipelines: how long CI takes, how often the default branch is red, how flaky the suites are and
what the minutes cost (issue 18), with every figure drilling to its runs."""

import streamlit as st

from cadence.dashboard import charts, ui
from metrics.costs import cost_by
from metrics.pipelines import (
    pipeline_drilldown,
    pipeline_minutes,
    pipeline_red_spells,
    pipeline_summary,
    pipeline_workflows,
)

f = ui.header("Pipelines", "CI duration, red builds, flaky suites and what the minutes cost")
by, scope = ("repo", f.repo) if f.repo else (("team", f.team) if f.team else ("org", None))
view = {"start": f.start, "end": f.end, "by": by, "scope": scope}
costs_ok = ui.can_see_costs()
total = ui.load(pipeline_summary, period="total", **view)
if total.empty:
    st.info("No pipeline runs in this view yet — run `cadence sync github` (GitHub Actions), "
            "`cadence ingest pipeline_runs FILE` or post to the webhook's /pipeline_runs (docs/ingest.md), "
            "or widen the date range.", icon=":material/inbox:")
    st.stop()

row = total.iloc[0]
before = ui.load(pipeline_summary, period="total", **{**view, "start": f.previous.start, "end": f.previous.end})
prev = before.iloc[0] if len(before) else None
tiles = [("Runs", f"{int(row.runs):,}", None),
         ("Success rate", ui.fmt_pct(row.success_rate), "Passing attempts ÷ attempts that passed or failed."),
         ("Flaky rate", ui.fmt_pct(row.flaky_rate), "Commits whose failed workflow later passed on the same commit."),
         ("Duration p50 / p90", f"{ui.fmt_number(row.duration_p50_minutes)} / "
                                f"{ui.fmt_number(row.duration_p90_minutes)} min", None),
         ("Queue p50", f"{ui.fmt_number(row.queue_p50_minutes, 2)} min", "A job's wait for a runner."),
         ("Default branch red", ui.fmt_hours(row.red_hours_default_branch), "Failed until the next pass."),
         ("Time to feedback p50", f"{ui.fmt_number(row.feedback_p50_minutes)} min", "Pull-request push → first result."),
         ("CI minutes", f"{int(row.ci_minutes):,}", "Each job rounded up to whole minutes, as GitHub bills.")]
if costs_ok:
    tiles.append(("CI cost", ui.fmt_money(row.ci_cost),
                  "Minutes × the runner's rate ([pipelines.rates_usd_per_minute])."))
for start in range(0, len(tiles), 5):
    cols = st.columns(5)
    for col, (label, value, help_text) in zip(cols, tiles[start:start + 5], strict=False):
        col.metric(label, value, border=True, help=help_text)
if prev is not None:
    st.caption(f"Previous {f.days} days: success {ui.fmt_pct(prev.success_rate)}, flaky {ui.fmt_pct(prev.flaky_rate)}, "
               f"red {ui.fmt_hours(prev.red_hours_default_branch)}. Definitions: docs/metrics.md (CI pipelines).")

trend = ui.load(pipeline_summary, period=f.period, **view)
left, right = st.columns(2)
with left:
    charts.show(charts.lines(trend, "period_start", {"success_rate": "success rate", "flaky_rate": "flaky rate"},
                             title=f"Success and flaky rate per {f.period}", unit="fraction", period=f.period),
                key="pl-rates")
with right:
    charts.show(charts.lines(trend, "period_start", {"duration_p50_minutes": "duration p50",
                                                     "duration_p90_minutes": "duration p90",
                                                     "feedback_p50_minutes": "feedback p50"},
                             title=f"Minutes per {f.period}", unit="minutes", period=f.period), key="pl-durations")

workflows = ui.load(pipeline_workflows, **view)
if not costs_ok:
    workflows = workflows.drop(columns=["ci_cost"])
left, right = st.columns(2)
with left:
    st.subheader("Slowest workflows")
    ui.table(workflows.sort_values("duration_p50_minutes", ascending=False).head(10), "slowest-workflows",
             key="pl-slowest")
with right:
    st.subheader("Flakiest workflows")
    ui.table(workflows[workflows["flaky_pairs"] > 0].sort_values(["flaky_rate", "flaky_pairs"], ascending=False)
             .head(10), "flakiest-workflows", key="pl-flakiest")

st.subheader("Red spells on the default branch")
spells = ui.load(pipeline_red_spells, **view)
if spells.empty:
    st.caption("The default branch was never red in this view.")
else:
    ui.table(spells, "red-spells", key="pl-spells", column_config={
        "red_hours": st.column_config.NumberColumn("hours red", format="%.1f")})

if costs_ok:
    st.subheader("CI minutes and cost by team and runner OS, beside cloud cost")
    minutes = ui.load(pipeline_minutes, start=f.start, end=f.end, by="team", scope=f.team)
    cloud = ui.load(cost_by, start=f.start, end=f.end, by="team", period="total")
    per_team = minutes.groupby("scope", as_index=False)[["ci_minutes", "ci_cost"]].sum()
    if not cloud.empty:
        per_team = per_team.merge(cloud[["scope", "effective_cost"]].rename(columns={"effective_cost": "cloud_cost"}),
                                  on="scope", how="left")
    left, right = st.columns(2)
    with left:
        ui.table(minutes, "ci-minutes-by-os", key="pl-minutes-os")
    with right:
        ui.table(per_team, "ci-cost-by-team", key="pl-minutes-team")

box = ui.rows_expander("Open the runs behind these numbers", key="pl-runs")
if box is not None:
    with box:
        runs = ui.load(pipeline_drilldown, **view)
        # Only web links are links: an ingested url could hold any scheme.
        runs["url"] = runs["url"].where(runs["url"].fillna("").str.match(r"^https?://"))
        if not costs_ok:
            runs = runs.drop(columns=["ci_cost"])
        ui.table(runs, f"pipeline-runs-{f.start}-{f.end}", key="pl-runs-table",
                 column_config={"url": st.column_config.LinkColumn("link", display_text="open")})
