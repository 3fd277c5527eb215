"""Data health: is every source syncing, what does the warehouse hold, and can the numbers be
trusted — each finding with what to do about it."""

import pandas as pd
import streamlit as st

from cadence.dashboard import ui
from metrics.catalog import data_extent, sync_states
from metrics.costs import untagged_share
from cadence.core.timerange import describe_accepted_range
from metrics.health import data_health, duplicate_keys, out_of_range_rows, sync_status
from metrics.service import job_runs
from collectors.registry import command_for_state, pulled

COST_TABLES = ("costs", "utilization", "commitments")  # shown only to the cost role

f = ui.header("Data health", "Can these numbers be trusted?")

st.subheader("Sources")
states = ui.load(sync_states) if ui.can_see_admin_details() else None
if states is None:  # cursors and sync errors are for the admin role
    st.info("Each source's sync state (cursors, last success, errors) is shown to Cadence's admins; ask them if a "
            "figure looks stale.", icon=":material/lock:")
elif states.empty:
    first, *others = [s.command for s in pulled()]
    st.info("No sync has run against this warehouse yet: its data came from `cadence ingest` or `cadence demo`. "
            f"Configure a source in `cadence.toml` and run `cadence sync {first}` (or "
            f"{', '.join(f'`{c}`' for c in others)}); schedule it (cron or systemd, see README) to keep the "
            "dashboard current.", icon=":material/sync:")
else:
    now = pd.Timestamp(ui.filters().as_of) + pd.Timedelta(days=1)
    states = sync_status(states, now, command_for_state)
    failing = states[states["status"] != "OK"]
    if failing.empty:
        st.success(f"All {len(states)} source scopes synced recently.", icon=":material/check_circle:")
    for row in failing.itertuples():
        if row.status.startswith("Skipped"):
            st.info(f"**{row.source} · {row.scope}**: {row.status}\n\n{row.skipped}", icon=":material/block:")
            continue
        st.warning(f"**{row.source} · {row.scope}**: {row.status}" +
                   (f"\n\nLast error: {row.last_error}" if isinstance(row.last_error, str) else ""),
                   icon=":material/warning:")
    ui.table(states, "sync-state", key="dh-sync", column_config={
        "last_success_at": st.column_config.DatetimeColumn("last success (UTC)", format="YYYY-MM-DD HH:mm"),
        "last_attempt_at": st.column_config.DatetimeColumn("last attempt (UTC)", format="YYYY-MM-DD HH:mm"),
        "rows_written": st.column_config.NumberColumn("rows written", format="%d")})

st.subheader("Scheduled runs")
runs = ui.load(job_runs, limit=50)
if runs.empty:
    st.caption("No scheduled run recorded: `cadence serve` runs the syncs and exports of `[schedule]` in cadence.toml "
               "and lists each run here (docs/operations.md).")
else:
    latest = runs.drop_duplicates("job")
    for row in latest[latest["outcome"].isin(["failed", "interrupted"])].itertuples():
        st.warning(f"**{row.job}**: latest run {row.outcome} at {pd.Timestamp(row.started_at):%Y-%m-%d %H:%M} UTC"
                   + (f"\n\n{row.message}" if isinstance(row.message, str) else "")
                   + "\n\nThe next scheduled run retries; see the service log for details.", icon=":material/error:")
    ui.table(runs, "job-runs", key="dh-runs", column_config={
        "started_at": st.column_config.DatetimeColumn("started (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "finished_at": st.column_config.DatetimeColumn("finished (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "rows_written": st.column_config.NumberColumn("rows", format="%d"),
        "seconds": st.column_config.NumberColumn("seconds", format="%.1f")})

st.subheader("Coverage in this view")
health = ui.load(data_health, start=f.start, end=f.end)
show_costs = ui.can_see_costs()  # the cost coverage rows are money: cost role only
tags = ui.load(untagged_share, start=f.start, end=f.end, period="total") if show_costs else pd.DataFrame()
if len(tags) and tags["total_cost"].iloc[0]:
    cost = tags.iloc[0]
    health = pd.concat([health, pd.DataFrame([
        {"check": "cost with no team tag", "value": round(cost["untagged_cost"]), "total": round(cost["total_cost"]),
         "share": cost["untagged_share"],
         "what_to_do": "Tag resources with the cost-allocation tag ([sources.aws] team_tag); until then account and "
                       "service rules in [cost_allocation] decide the team."},
        {"check": "cost allocated to no team", "value": round(cost["unallocated_cost"]),
         "total": round(cost["total_cost"]), "share": cost["unallocated_share"],
         "what_to_do": "Shown as 'unallocated' on every cost page; map its accounts or services to teams in "
                       "[cost_allocation] of cadence.toml (USD figures)."}])], ignore_index=True)
ui.health_findings(health)

st.subheader("What the warehouse holds")
extent = ui.load(data_extent)
if not show_costs:  # what the cloud bill holds is the cost role's business
    extent = extent[~extent["source_table"].isin(COST_TABLES)].reset_index(drop=True)
repeated = ui.load(duplicate_keys)
for row in repeated[repeated["keys"] > 0].itertuples():
    st.error(f"**{row.table}**: {row.keys:,} key(s) held by more than one row ({row.extra_rows:,} extra rows), so "
             "the metrics count those rows twice. Cadence's syncs and ingest never write a key twice; something "
             "wrote around them. Remove the extra rows as in docs/operations.md (\"Repeated keys\").",
             icon=":material/content_copy:")
out_of_range = ui.load(out_of_range_rows)
if not show_costs:
    out_of_range = out_of_range[~out_of_range["table"].isin(COST_TABLES)]
for row in out_of_range.itertuples():
    st.warning(f"**{row.table}**: {row.rows:,} row{'s' if row.rows != 1 else ''} with times outside "
               f"{describe_accepted_range()} (in {row.columns}); they are left out of every figure and of "
               "\"data through\". Ingest and the webhook refuse such times, so they came another way (SQL, or a "
               "source's own odd time): correct or delete them as in docs/operations.md (\"Times out of range\").",
               icon=":material/event_busy:")
for row in extent[extent["row_count"] == 0].itertuples():
    ui.empty_state(row.source_table)
ui.table(extent, "warehouse-extent", key="dh-extent", column_config={
    "row_count": st.column_config.NumberColumn("rows", format="localized"),
    "first_date": st.column_config.DateColumn("first day"), "last_date": st.column_config.DateColumn("last day")})

# -- notifications (cadence notify: issue 19) -------------------------------------------------------
from cadence.notify.state import alert_states, recent_deliveries  # noqa: E402

st.subheader("Notifications")
deliveries = ui.load(recent_deliveries)
alerts = ui.load(alert_states)
if deliveries.empty and alerts.empty:
    st.info("No digest or alert has been sent from this warehouse. Configure channels in `[notify]` of cadence.toml "
            "and schedule `cadence notify digest` weekly and `cadence notify check` every few minutes "
            "(docs/notify.md).", icon=":material/notifications:")
else:
    firing = alerts[alerts["status"] == "firing"]
    st.caption(f"{len(firing)} alert(s) firing now; the last {len(deliveries)} deliveries below, newest first.")
    show_errors = ui.can_see_admin_details()
    for row in deliveries[deliveries["status"] == "failed"].head(5).itertuples():
        why = f"\n\n{row.error}" if show_errors and isinstance(row.error, str) else ""
        st.warning(f"**{row.channel} ({row.channel_kind})** · {row.subject}: failed after {row.attempts} attempt(s) at "
                   f"{pd.Timestamp(row.attempted_at):%Y-%m-%d %H:%M} UTC.{why}\n\nCheck the channel with "
                   f"`cadence notify test --channel {row.channel}`; alerts are sent again at the next check, a digest "
                   f"with `cadence notify digest --channel {row.channel}`.", icon=":material/notifications_off:")
    ui.table(deliveries if show_errors else deliveries.drop(columns=["error"]), "notify-deliveries",
             key="dh-notify", column_config={
                 "attempted_at": st.column_config.DatetimeColumn("attempted (UTC)", format="YYYY-MM-DD HH:mm")})
