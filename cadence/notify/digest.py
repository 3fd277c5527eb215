"""The weekly digest: one ISO week's figures per team (or for the organisation), as plain data.

What it holds, per scope: the five DORA keys (deployment frequency, lead time for changes, change
failure rate, failed deployment recovery time, rework rate) with their band and their change on
the previous week and on the 4-week average before it; the week's notable changes (the slowest
change shipped, the incidents and their recovery); cloud cost and cost per deployment against the
previous week. For the whole digest: the top cost movers and cost anomalies of the week, and data
freshness warnings. Everything comes from ``metrics`` on one read-only connection; ``render``
turns a ``Digest`` into each channel's format.

The "4-week average" of a key is the key computed over the four ISO weeks before this one as one
period (deployments per week over four weeks, the median lead time of the changes of those four
weeks, and so on): an average of weekly medians would weigh a quiet week like a busy one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd

from cadence.core.config import NO_TEAM, Config
from cadence.notify.links import dashboard_url

# (label, dora column, unit, better, band column)
KEYS = (
    ("Deployment frequency", "deploys_per_week", "per_week", "higher", "band_deployment_frequency"),
    ("Lead time for changes", "lead_time_p50_hours", "hours", "lower", "band_lead_time"),
    ("Change failure rate", "change_failure_rate", "rate", "lower", "band_change_failure_rate"),
    ("Failed deployment recovery time", "recovery_time_p50_hours", "hours", "lower", "band_recovery_time"),
    ("Rework rate", "rework_rate", "rate", "lower", None),
)
STALE_HOURS = 26.0          # a source not synced successfully for this long is flagged
TOP_MOVERS = 5
TOP_ANOMALIES = 5
LISTED_INCIDENTS = 5
SAME = 0.01                 # a relative change under 1 % (or 0.1 percentage point) reads "no change"


@dataclass
class Comparison:
    """A value against a reference, in words: arrow, direction, size, better/worse."""

    arrow: str          # ▲ ▼ = or –
    words: str          # "up 25% (better)", "no change", "no figure to compare"
    verdict: str        # better / worse / same / none


@dataclass
class KeyFigure:
    label: str
    column: str
    value: float | None
    text: str
    band: str | None
    previous: float | None
    average: float | None
    vs_previous: Comparison
    vs_average: Comparison


@dataclass
class CostFigure:
    cost: float | None
    previous_cost: float | None
    cost_change: Comparison
    per_deployment: float | None
    previous_per_deployment: float | None
    per_deployment_change: Comparison


@dataclass
class ScopeDigest:
    scope: str
    link: str
    keys: list[KeyFigure]
    notable: list[str]
    cost: CostFigure | None


@dataclass
class Digest:
    week: str
    start: date
    end: date
    by: str
    team: str | None
    benchmark: str
    generated_at: datetime
    link: str
    scopes: list[ScopeDigest]
    total_cost: CostFigure | None
    movers: list[dict] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)
    freshness: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        who = f"team {self.team}" if self.team else ("the organisation" if self.by == "org" else "every team")
        return f"Cadence weekly digest {self.week} ({self.start:%d %b} – {self.end:%d %b %Y}), {who}"


def _num(v) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "no data"
    if unit == "per_week":
        return f"{value:.1f}/week"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if unit == "usd":
        return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.2f}"
    return format_hours(value)


def format_hours(hours: float | None) -> str:
    if hours is None:
        return "no data"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def compare(value: float | None, reference: float | None, unit: str, better: str) -> Comparison:
    """``value`` against ``reference`` in words: rates change in percentage points, the rest in %."""
    if value is None or reference is None:
        return Comparison("–", "no figure to compare", "none")
    diff = value - reference
    if unit == "rate":
        size = abs(diff) * 100
        same = size < SAME * 10
        amount = f"{size:.1f} pts"
    else:
        if reference == 0:
            same = diff == 0
            amount = f"from {format_value(reference, unit)}"
        else:
            rel = abs(diff) / abs(reference)
            same = rel < SAME
            amount = f"{rel * 100:.0f}%"
    if same:
        return Comparison("=", "no change", "same")
    up = diff > 0
    good = up if better == "higher" else not up
    verdict = "better" if good else "worse"
    return Comparison("▲" if up else "▼", f"{'up' if up else 'down'} {amount} ({verdict})", verdict)


def _row(frame: pd.DataFrame, scope: str) -> pd.Series | None:
    rows = frame[frame["scope"] == scope]
    return None if rows.empty else rows.iloc[0]


def _key_figures(current, previous, average) -> list[KeyFigure]:
    out = []
    for label, column, unit, better, band_col in KEYS:
        value = _num(current[column]) if current is not None else None
        if column == "deploys_per_week" and value is None and current is None:
            value = 0.0 if previous is not None or average is not None else None
        prev = _num(previous[column]) if previous is not None else None
        avg = _num(average[column]) if average is not None else None
        band = current[band_col] if current is not None and band_col else None
        band = band if isinstance(band, str) and band else None
        out.append(KeyFigure(label, column, value, format_value(value, unit), band, prev, avg,
                             compare(value, prev, unit, better), compare(value, avg, unit, better)))
    return out


def _notable(changes: pd.DataFrame, incidents: pd.DataFrame, scope: str) -> list[str]:
    notes = []
    shipped = changes[(changes["scope"] == scope) & changes["deployment_id"].notna()]
    timed = shipped[shipped["lead_time_hours"].notna()]
    if not timed.empty:
        slow = timed.loc[timed["lead_time_hours"].idxmax()]
        notes.append(f"Slowest change shipped: {slow['change_id']} ({slow['repo']}), "
                     f"{format_hours(float(slow['lead_time_hours']))} from first commit to production")
    elif shipped.empty:
        notes.append("No change shipped to production this week")
    mine = incidents[incidents["scope"] == scope]
    if mine.empty:
        notes.append("No incidents")
    else:
        n = len(mine)
        notes.append(f"{n} incident{'s' if n != 1 else ''}:")
        for inc in mine.sort_values("created_at", kind="mergesort").head(LISTED_INCIDENTS).itertuples():
            if pd.isna(inc.resolved_at):
                how = "still open"
            else:
                how = "recovered in " + format_hours((pd.Timestamp(inc.resolved_at) - pd.Timestamp(inc.created_at))
                                                     .total_seconds() / 3600)
            cause = f", caused by deployment {inc.deployment_id}" if isinstance(inc.deployment_id, str) else ""
            notes.append(f"  {inc.incident_id} on {inc.service or 'an unknown service'}: {how}{cause}")
        if n > LISTED_INCIDENTS:
            notes.append(f"  and {n - LISTED_INCIDENTS} more")
    return notes


def _cost_figure(summary: pd.DataFrame, scope: str, start: date, prev_start: date) -> CostFigure | None:
    rows = summary[summary["scope"] == scope]
    cur = rows[rows["period_start"] == start]
    prev = rows[rows["period_start"] == prev_start]
    if cur.empty and prev.empty:
        return None
    cost = _num(cur["effective_cost"].iloc[0]) if len(cur) else None
    pcost = _num(prev["effective_cost"].iloc[0]) if len(prev) else None
    per = _num(cur["cost_per_deployment"].iloc[0]) if len(cur) else None
    pper = _num(prev["cost_per_deployment"].iloc[0]) if len(prev) else None
    return CostFigure(cost, pcost, compare(cost, pcost, "usd", "lower"), per, pper,
                      compare(per, pper, "usd", "lower"))


def freshness_warnings(con, config: Config, now: datetime, end: date) -> list[str]:
    """Sources failing or not synced for ``STALE_HOURS``, and data that ends before the week does."""
    from metrics.catalog import data_extent, sync_states

    notes = []
    for s in sync_states(con, config).itertuples():
        name = f"{s.source} ({s.scope})"
        if isinstance(s.last_error, str) and s.last_error:
            notes.append(f"{name}: the last sync failed: {s.last_error[:300]}")
        elif pd.isna(s.last_success_at):
            notes.append(f"{name}: never synced successfully")
        else:
            age = (now - pd.Timestamp(s.last_success_at).to_pydatetime()).total_seconds() / 3600
            if age > STALE_HOURS:
                notes.append(f"{name}: last successful sync {format_hours(age)} ago "
                             f"({pd.Timestamp(s.last_success_at):%Y-%m-%d %H:%M} UTC)")
    # Cost arrives daily, so cost that ends before the week does makes its figures partial; a quiet
    # Sunday without deployments is normal, a whole week without any is not.
    start = end - timedelta(days=6)
    for e in data_extent(con, config).itertuples():
        if e.source_table not in ("deployments", "costs"):
            continue
        last = pd.Timestamp(e.last_date).date() if e.row_count and pd.notna(e.last_date) else None
        if last is None:
            notes.append(f"No {e.source_table} in the warehouse")
        elif e.source_table == "costs" and last < end:
            notes.append(f"Cost data ends on {last:%Y-%m-%d}, before the end of this week: cost figures are partial")
        elif e.source_table == "deployments" and last < start:
            notes.append(f"No deployment recorded since {last:%Y-%m-%d}: check that the deployment source is synced")
    return notes


def build_digest(con, config: Config, week: str, *, by: str = "team", team: str | None = None,
                 now: datetime | None = None) -> Digest:
    """The digest of ISO week ``week`` (``YYYY-Www``) per team (``by="team"``, or only ``team``) or
    for the organisation (``by="org"``). Reads only; ``now`` (naive UTC) dates the freshness checks."""
    from cadence.core.clock import utcnow
    from metrics import dora_metrics_views, drilldown
    from metrics.costs import cost_anomalies, cost_summary, top_movers
    from metrics.export import parse_iso_week, week_label

    now = now or utcnow()
    if team is not None:
        config.require_team(team)
        by = "team"
    start, end = parse_iso_week(week)
    label = week_label(start)
    prev_start, prev_end = start - timedelta(days=7), start - timedelta(days=1)
    avg_start = start - timedelta(days=28)
    current, previous, average = dora_metrics_views(
        con, config, [(start, end, "total"), (prev_start, prev_end, "total"), (avg_start, prev_end, "total")],
        by=by, scope=team)
    if by == "org":
        scopes = ["all"]
    elif team is not None:
        scopes = [team]
    else:
        seen = set(current["scope"]) | set(previous["scope"]) | set(average["scope"])
        scopes = sorted(set(config.teams) | seen, key=lambda t: (t == NO_TEAM, t))
    changes = drilldown(con, config, "changes", start, end, by=by, scope=team)
    incidents = drilldown(con, config, "incidents", start, end, by=by, scope=team)
    costs = cost_summary(con, config, prev_start, end, by=by, period="week")
    org_costs = costs if by == "org" else cost_summary(con, config, prev_start, end, by="org", period="week")
    out = []
    for scope in scopes:
        link_team = scope if by == "team" else None
        out.append(ScopeDigest(
            scope=scope,
            link=dashboard_url("", start=start, end=end, team=link_team),
            keys=_key_figures(_row(current, scope), _row(previous, scope), _row(average, scope)),
            notable=_notable(changes, incidents, scope),
            cost=_cost_figure(costs, scope, start, prev_start)))
    movers = top_movers(con, config, start, end, by="service", n=TOP_MOVERS)
    movers = movers[movers["change"].abs() > 0]
    anomalies = cost_anomalies(con, config, start, end, by="service").head(TOP_ANOMALIES)
    return Digest(
        week=label, start=start, end=end, by=by, team=team, benchmark=config.benchmark, generated_at=now,
        link=dashboard_url("", start=start, end=end, team=team), scopes=out,
        total_cost=_cost_figure(org_costs, "all", start, prev_start),
        movers=[{"service": r.scope, "previous_cost": float(r.previous_cost), "current_cost": float(r.current_cost),
                 "change": float(r.change), "change_pct": _num(r.change_pct)} for r in movers.itertuples()],
        anomalies=[{"service": r.scope, "date": pd.Timestamp(r.charge_date).date(), "actual": float(r.actual),
                    "expected": float(r.expected), "deviation": float(r.deviation), "direction": r.direction}
                   for r in anomalies.itertuples()],
        freshness=freshness_warnings(con, config, now, end),
    )
