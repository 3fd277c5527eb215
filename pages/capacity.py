"""Capacity (the quarterly review): the review quarter's headline figures, then one section at a time
as tabs — where each team's time went (investment balance), who was there to do it (active
contributors), next quarter under a scenario that lives in the URL with the review document to
download, and the saving on the table from right-sizing. The page is for the cost role only
(``ui.require_costs``).

Only the open tab's content is computed and sent to the browser (``st.tabs`` bound to the URL, so a
link opens the same section): a browser spends ~50 ms on each chart and ~20 ms on each table of a
page view (docs/performance.md), and the whole review on one page cost a revisit 0.6–0.8 s on a busy
2-core host where each section alone stays well under 0.5 s."""

import pandas as pd
import streamlit as st

from cadence.dashboard import charts, ui
from cadence.report.capacity import capacity_report_html
from metrics.capacity import quarter_label, quarter_of
from metrics.capacity_review import (forecast_of, previous_quarters, review_changes, review_overview, right_sizing,
                                     scenario_base, with_scenario)


def _planned(value: str | None) -> bool:
    """A contributor change read from the link: a non-zero whole number (anything else is no change)."""
    try:
        return int(float(value or 0)) != 0
    except (ValueError, OverflowError):   # a word, or "inf"
        return False


ui.require_costs()  # issue 15: Costs and Capacity are for the cost role only (hidden from the navigation)
f = ui.header("Capacity", "The quarterly review: investment balance, contributors, next quarter and right-sizing")
cfg = ui.config()
review_q = quarter_of(f.end)
start = min(quarter_of(f.start), previous_quarters(review_q, 4)[0])  # at least the last four quarters
label = quarter_label(review_q)
st.caption(f"Calendar quarters from {start:%d %b %Y} to {f.end:%d %b %Y}; the review quarter is {label} (the one "
           "holding the end of the date range; to date when it is still running).")
balance, people, bots, people_now = ui.load(review_overview, start=start, end=f.end, team=f.team)
# The quarter table and what the forecast reads are the same whatever the scenario: read once, and
# each scenario applied to them (capacity_with_scenario's figures, without its queries).
base, usage_now = ui.load(scenario_base, start=start, end=f.end)
now = people[people["quarter"] == label]
unplanned = balance[(balance["quarter"] == label) & (balance["category"] == "unplanned")]
shipped = balance[balance["quarter"] == label]["changes"].sum()
cost_now = base[(base["quarter"] == label) & ((base["team"] == f.team) if f.team else True)]["effective_cost"].sum()
cols = st.columns(4)
cols[0].metric(f"Changes shipped · {label}", ui.fmt_number(now["changes_shipped"].sum(), 0), border=True,
               help="Human changes shipped to production; bot changes are counted apart.")
cols[1].metric(f"Active contributors · {label}", ui.fmt_number(now["active_contributors"].sum(), 0), border=True,
               help="Distinct human authors with at least one merged change, summed over teams.")
cols[2].metric(f"Unplanned share · {label}", ui.fmt_pct(unplanned["changes"].sum() / shipped if shipped else None),
               border=True)
cols[3].metric(f"Cloud cost · {label}", ui.fmt_money(cost_now), border=True)
patterns = ", ".join(f"`{a}`" for a in cfg.review.exclude_authors) or "none"   # as code: `*[bot]` is no italics
st.caption(f"**Bot changes: {bots:,}, excluded** from lead time, investment balance and contributor counts "
           f"(authors matching `exclude_authors`: {patterns}).")

tabs = ui.page_tabs("capacity")

if tabs["Investment balance"].open:
    with tabs["Investment balance"]:
        weight = st.segmented_control("Weighted by", ["change count", "coding effort"], default="change count",
                                      required=True, key=ui.KEY_WEIGHT, bind="query-params") or "change count"
        share = "share_by_count" if weight == "change count" else "share_by_effort"
        st.caption("Every change shipped is feature, maintenance, unplanned or other by the ordered `[investment]` "
                   "rules (rework and changes shipped during an open incident are unplanned whatever their label). "
                   + ("Shares of the **number of changes**." if share == "share_by_count" else
                      "Shares of **coding effort**: each change weighted by its coding span (first commit → "
                      "opened), a proxy for effort; changes without a first commit weigh nothing."))
        if balance.empty:
            ui.empty_state("changes", " and map repos to teams in `cadence.toml`")
        else:
            left, right = st.columns(2)
            with left:
                charts.show(charts.bars(balance[balance["quarter"] == label], "team", share, color="category",
                                        title=f"Investment balance · {label}", unit="fraction"), key="cap-balance")
            with right:
                trend = balance[balance["category"] == "unplanned"]
                charts.show(charts.lines(trend.pivot(index="quarter_start", columns="team", values=share).reset_index(),
                                         "quarter_start", {t: t for t in sorted(trend["team"].unique())},
                                         title="Unplanned share per quarter", unit="fraction", period="month"),
                            key="cap-unplanned")
            box = ui.rows_expander("Open the balance per team and quarter", key="cap-balance-rows")
            if box is not None:
                with box:
                    ui.table(balance, f"investment-{start}-{f.end}", key="cap-balance-table", column_config={
                        "share_by_count": st.column_config.NumberColumn("share (count)", format="percent"),
                        "share_by_effort": st.column_config.NumberColumn("share (effort)", format="percent"),
                        "coding_hours": st.column_config.NumberColumn("coding hours", format="%.0f"),
                        "quarter_start": None})
        box = ui.rows_expander("Open the changes behind the balance (with the rule that classified each)",
                               key="cap-drill")
        if box is not None:
            with box:
                this_q = ui.load(review_changes, start=review_q, end=f.end, team=f.team)  # the review quarter's
                st.caption(f"{len(this_q):,} changes shipped in {label}; `rule` and `reason` say why each counts "
                           "where it does.")
                ui.table(this_q, f"investment-changes-{label}", key="cap-drill-table",
                         column_config={"url": st.column_config.LinkColumn("url")})

if tabs["Contributors"].open:
    with tabs["Contributors"]:
        st.caption("Active contributors: distinct human authors with at least one merged change in the quarter, per "
                   "team. A capacity denominator (changes shipped per contributor-week), **never a per-person "
                   "measure**: Cadence shows no per-person table or ranking.")
        ui.table(people, f"contributors-{start}-{f.end}", key="cap-people", column_config={
            "changes_per_contributor_week": st.column_config.NumberColumn("changes / contributor-week",
                                                                          format="%.2f"),
            "contributor_weeks": st.column_config.NumberColumn("contributor-weeks", format="%.1f"),
            "quarter_start": None})

if tabs["Next quarter"].open:
    with tabs["Next quarter"]:
        teams = sorted(t for t in people["team"].unique())
        with st.container(border=True):
            st.markdown("**Scenario** (kept in the link: share it to show the same forecast)")
            growth = st.number_input("Expected traffic growth (%)", min_value=-100.0, max_value=1000.0, step=5.0,
                                     value=float(cfg.review.capacity.traffic_growth), key=ui.KEY_GROWTH,
                                     bind="query-params")
            # An input for each team picked, not for every team (25 inputs on a large organisation
            # cost the browser ~0.3 s a visit); a link naming a team's change picks that team.
            linked = [t for t in teams if _planned(st.query_params.get(f"{ui.KEY_CONTRIBUTORS}{t}"))]
            picked = st.multiselect("Teams whose contributors change", teams, default=linked,
                                    key=ui.KEY_SCENARIO_TEAMS, bind="query-params",
                                    placeholder="None: every team as it is",
                                    help="Pick a team to plan a change in its active contributors next quarter.")
            picked = [t for t in teams if t in picked]   # the teams' order, whatever the picking order
            grid = st.columns(min(len(picked), 6)) if picked else []
            change = {t: int(grid[i % len(grid)].number_input(f"{t}: contributors ±", min_value=-100,
                                                              max_value=100, value=0, step=1,
                                                              key=f"{ui.KEY_CONTRIBUTORS}{t}",
                                                              bind="query-params") or 0)
                      for i, t in enumerate(picked)}
            change = tuple(sorted((t, n) for t, n in change.items() if n))
        forecast = forecast_of(base, people_now, usage_now, float(growth or 0.0), dict(change))
        table = with_scenario(base, forecast)
        if f.team:
            table, forecast = table[table["team"] == f.team], forecast[forecast["team"] == f.team]
        if len(forecast):
            st.metric(f"Forecast cost · {forecast['quarter'].iloc[0]}", ui.fmt_money(forecast["cost_forecast"].sum()),
                      border=True, width="content", help="The scenario's forecast: the same figure as the table below.")
        usage = ", ".join(cfg.review.capacity.usage_driven_categories + cfg.review.capacity.usage_driven_services)
        st.caption(f"Forecast: each team's linear trend of monthly daily rates, extended over next quarter. Changes "
                   f"scale with the planned change in contributors (human changes only; bots' do not). Cost scales "
                   f"with traffic only in the usage-driven services ({usage}: compute scales out with requests and "
                   f"networking is billed per GB or request; storage, databases and the rest are provisioned, not "
                   f"driven by this quarter's traffic). Set them in `[capacity]`.")
        shown = ["team", "quarter", "trend_changes", "contributors", "contributor_change", "changes_forecast",
                 "trend_cost", "usage_share", "cost_forecast"]
        ui.table(forecast[shown], f"forecast-{label}", key="cap-forecast", column_config={
            "trend_changes": st.column_config.NumberColumn("trend: changes", format="%.0f"),
            "changes_forecast": st.column_config.NumberColumn("forecast: changes", format="%.0f"),
            "trend_cost": st.column_config.NumberColumn("trend: cost", format="dollar"),
            "usage_share": st.column_config.NumberColumn("usage-driven share", format="percent"),
            "cost_forecast": st.column_config.NumberColumn("forecast: cost", format="dollar")})
        show = table.assign(quarter=table["quarter"] + table["is_forecast"].map({True: " (forecast)", False: ""}))
        left, right = st.columns(2)
        if table.empty:
            with left:
                ui.empty_state("deployments")
        else:
            with left:
                charts.show(charts.bars(show, "quarter", "changes_deployed", color="team",
                                        title="Changes shipped per quarter", unit="count"), key="cap-changes")
            with right:
                charts.show(charts.bars(show, "quarter", "effective_cost", color="team",
                                        title="Cloud cost per quarter (amortized)", unit="USD"), key="cap-cost")
        box = ui.rows_expander("Open the quarter table (the rows behind these charts, next quarter's forecast "
                               "included)", key="cap-table-rows")
        if box is not None:
            with box:
                ui.table(table, f"capacity-{start}-{f.end}", key="cap-table", column_config={
                    "quarter_start": st.column_config.DateColumn("starts"),
                    "deployments": st.column_config.NumberColumn(format="%.0f"),
                    "changes_deployed": st.column_config.NumberColumn("changes shipped", format="%.0f"),
                    "effective_cost": st.column_config.NumberColumn("cost", format="dollar"),
                    "cost_per_change": st.column_config.NumberColumn("cost / change", format="dollar"),
                    "cost_of_idle": st.column_config.NumberColumn("cost of idle", format="dollar"),
                    "utilization": st.column_config.NumberColumn("compute utilization", format="percent"),
                    "commitment_utilization": st.column_config.NumberColumn("commitment utilization",
                                                                            format="percent"),
                    "is_forecast": st.column_config.CheckboxColumn("forecast")})
        report_args = {"quarter": label, "as_of": ui._today(), "traffic_growth": float(growth or 0.0),
                       "contributor_change": change, "include_costs": True}
        st.download_button("Download report", data=lambda: ui.load(capacity_report_html, **report_args),
                           file_name=f"capacity-review-{label}.html", mime="text/html", key="cap-report",
                           icon=":material/description:", on_click="ignore", type="primary",
                           help="The quarterly review document with this scenario (the same file as `cadence "
                                "report capacity`): one HTML file, a page per team, that opens offline and prints "
                                "on A4.")

if tabs["Right-sizing"].open:
    with tabs["Right-sizing"]:
        sizing = ui.load(right_sizing, start=review_q, end=f.end)
        if f.team:
            sizing = sizing[sizing["team"] == f.team]
        target = cfg.review.capacity.target_utilization
        st.caption(f"{label}: compute cost of idle at today's utilization, and what compute would cost provisioned "
                   f"for a {target:.0%} target utilization (`[capacity] target_utilization`): the saving on the "
                   "table. Commitment coverage and utilization are the organisation's (commitments are not bought "
                   "per team).")
        ui.table(sizing, f"right-sizing-{label}", key="cap-sizing", column_config={
            c: st.column_config.NumberColumn(c.replace("_", " "), format="dollar")
            for c in ("compute_cost", "cost_of_idle", "cost_at_target", "idle_at_target", "saving")} | {
            c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
            for c in ("utilization", "target_utilization", "commitment_coverage", "commitment_utilization")})
