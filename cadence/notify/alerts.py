"""The alert rules of ``[[notify.alerts]]``, evaluated now on a read-only connection.

Each rule returns the alerts firing at this moment, each with a stable key (the rule and what it
is about), so that ``cadence notify check`` can tell a new alert from one already announced and
one that has stopped firing (``cadence.notify.service``). The rules (docs/notify.md has the full
definitions):

- ``cost_anomaly``: ``metrics.costs.cost_anomalies`` over the last 7 days that have cost data (the
  7 days ending at the last charge date), days whose |actual − expected| is at least
  ``min_impact_usd``, in ``direction``; one alert per ``by`` scope (service by default).
- ``cost_budget``: this month's cost of a team (or the organisation) against ``monthly_usd``: over
  when spent so far exceeds it, forecast over when spent so far plus ``metrics.costs.cost_forecast``
  to the month's end does (run rate when there is too little history to forecast). The month is
  the one holding the last charge date.
- ``dora_regression``: a DORA key's band in each of the last ``weeks`` complete ISO weeks is worse
  than its band over the ``baseline_weeks`` before them.
- ``stale_source``: a source/scope of ``sync_state`` (the demo's included) whose last successful
  sync is older than ``hours`` (or that never succeeded).
- ``slo_burn``: a declared SLO whose status (``metrics.slo.slo_status``) is in ``statuses``.
- ``default_branch_red``: a workflow on a default branch red for more than ``hours``
  (``pipeline_runs`` of the CI pipelines feature; without any run: "no CI data", not an error).
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from cadence.core.config import Config
from cadence.notify.digest import format_hours, format_value
from cadence.notify.links import dashboard_url
from cadence.core.settings.notify import AlertRule, NotifySettings

log = logging.getLogger(__name__)

BANDS = ("elite", "high", "medium", "low")
BAND_KEYS = {"band_deployment_frequency": "deployment frequency", "band_lead_time": "lead time for changes",
             "band_change_failure_rate": "change failure rate", "band_recovery_time": "failed deployment recovery time"}
BAND_PAGE = {"band_deployment_frequency": "delivery", "band_lead_time": "delivery",
             "band_change_failure_rate": "stability", "band_recovery_time": "stability"}
ANOMALY_DAYS = 7


@dataclass(frozen=True)
class Alert:
    """One alert firing now."""

    key: str
    rule: str
    scope: str | None
    title: str
    detail: str
    link: str
    channels: tuple[str, ...]


@dataclass(frozen=True)
class AlertEvent:
    """What is sent: an alert starting (``firing``) or stopping (``resolved``)."""

    key: str
    rule: str
    scope: str | None
    event: str
    title: str
    detail: str
    link: str
    first_seen_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None = None


def _money(v: float) -> str:
    return format_value(v, "usd")


def _last_cost_day(con, config: Config) -> date | None:
    from metrics.catalog import data_extent

    extent = data_extent(con, config)
    row = extent[extent["source_table"] == "costs"]
    if row.empty or not row["row_count"].iloc[0] or pd.isna(row["last_date"].iloc[0]):
        return None
    return pd.Timestamp(row["last_date"].iloc[0]).date()


def cost_anomaly(con, config: Config, rule: AlertRule, now: datetime, notes: list[str]) -> list[Alert]:
    from metrics.costs import cost_anomalies

    last = _last_cost_day(con, config)
    if last is None:
        notes.append("cost_anomaly: no cost data in the warehouse")
        return []
    start = last - timedelta(days=ANOMALY_DAYS - 1)
    found = cost_anomalies(con, config, start, last, by=rule["by"])
    if rule["direction"] != "any":
        found = found[found["direction"] == rule["direction"]]
    found = found[found["deviation"].abs() >= rule["min_impact_usd"]]
    out = []
    for scope, days in found.groupby("scope", sort=True):
        days = days.sort_values("charge_date", kind="mergesort")
        worst = days.loc[days["deviation"].abs().idxmax()]
        total = float(days["deviation"].sum())
        lines = [f"{pd.Timestamp(d.charge_date):%Y-%m-%d}: {_money(d.actual)} against an expected {_money(d.expected)} "
                 f"({'▲ up' if d.deviation > 0 else '▼ down'} {_money(abs(d.deviation))})" for d in days.itertuples()]
        out.append(Alert(
            key=f"cost_anomaly:{rule['by']}:{scope}", rule="cost_anomaly", scope=str(scope),
            title=(f"Cost anomaly: {rule['by']} {scope} {'up' if worst.deviation > 0 else 'down'} "
                   f"{_money(abs(worst.deviation))} on {pd.Timestamp(worst.charge_date):%Y-%m-%d}"),
            detail=(f"{len(days)} anomalous day{'s' if len(days) != 1 else ''} in {start:%Y-%m-%d} – {last:%Y-%m-%d} "
                    f"(net {'+' if total >= 0 else '−'}{_money(abs(total))}; threshold {_money(rule['min_impact_usd'])}):\n"
                    + "\n".join(lines)),
            link=dashboard_url("costs", start=start, end=last), channels=rule.channels))
    return out


def cost_budget(con, config: Config, rule: AlertRule, now: datetime, notes: list[str]) -> list[Alert]:
    from metrics.costs import cost_forecast, daily_cost

    last = _last_cost_day(con, config)
    if last is None:
        notes.append("cost_budget: no cost data in the warehouse")
        return []
    team = rule["team"] or None
    by, scope = ("team", team) if team else ("org", None)
    month_start = last.replace(day=1)
    month_end = last.replace(day=calendar.monthrange(last.year, last.month)[1])
    daily = daily_cost(con, config, month_start, last, by=by)
    if scope is not None:
        daily = daily[daily["scope"] == scope]
    spent = float(daily["effective_cost"].sum())
    remaining = (month_end - last).days
    projected, how = spent, "all of the month's days have cost data"
    if remaining > 0:
        fc = cost_forecast(con, config, last - timedelta(days=89), last, horizon_days=remaining, by=by, scope=scope)
        future = fc[fc["forecast"].notna()] if len(fc) else fc
        if len(future):
            projected = spent + float(future["forecast"].sum())
            how = f"the cost forecast for the remaining {remaining} days"
        else:
            elapsed = (last - month_start).days + 1
            projected = spent / elapsed * (elapsed + remaining)
            how = f"the run rate of the first {elapsed} days (too little history for a forecast)"
    budget = rule["monthly_usd"]
    who = f"Team {team}" if team else "The organisation"
    month = f"{last:%B %Y}"
    if spent > budget:
        title = f"{who} is over its {month} budget: {_money(spent)} spent of {_money(budget)}"
    elif projected > budget:
        title = f"{who} is forecast over its {month} budget: {_money(projected)} projected of {_money(budget)}"
    else:
        return []
    return [Alert(
        key=f"cost_budget:{team or 'all'}:{last:%Y-%m}", rule="cost_budget", scope=team or "all", title=title,
        detail=(f"Spent {month_start:%d %b} – {last:%d %b %Y}: {_money(spent)}; projected month end: "
                f"{_money(projected)} (from {how}); budget {_money(budget)}."),
        link=dashboard_url("costs", start=month_start, end=last, team=team), channels=rule.channels)]


def _complete_weeks_end(now: datetime) -> date:
    """The Sunday ending the last complete ISO week at ``now``."""
    today = now.date()
    return today - timedelta(days=today.isoweekday())


def dora_regression(con, config: Config, rule: AlertRule, now: datetime, notes: list[str]) -> list[Alert]:
    from metrics import dora_metrics_views

    weeks, base_weeks, by = rule["weeks"], rule["baseline_weeks"], rule["by"]
    end = _complete_weeks_end(now)
    start = end - timedelta(days=7 * weeks - 1)
    base_end = start - timedelta(days=1)
    base_start = start - timedelta(days=7 * base_weeks)
    baseline, weekly = dora_metrics_views(con, config, [(base_start, base_end, "total"), (start, end, "week")], by=by)
    out = []
    mondays = [start + timedelta(days=7 * i) for i in range(weeks)]
    for scope in sorted(set(baseline["scope"])):
        base = baseline[baseline["scope"] == scope].iloc[0]
        rows = weekly[weekly["scope"] == scope].copy()
        rows["monday"] = [pd.Timestamp(v).date() for v in rows["period_start"]]
        for column, name in BAND_KEYS.items():
            usual = base[column]
            if not isinstance(usual, str) or usual not in BANDS:
                continue
            seen = [rows[rows["monday"] == m][column] for m in mondays]
            bands = [s.iloc[0] if len(s) else None for s in seen]
            if not all(isinstance(b, str) and b in BANDS and BANDS.index(b) > BANDS.index(usual) for b in bands):
                continue
            who = "The organisation" if by == "org" else f"Team {scope}"
            out.append(Alert(
                key=f"dora_regression:{by}:{scope}:{column.removeprefix('band_')}", rule="dora_regression",
                scope=str(scope),
                title=f"{who}: {name} below its usual band ({usual}) for {weeks} week{'s' if weeks != 1 else ''}",
                detail=(f"Band over the {base_weeks} weeks {base_start:%d %b} – {base_end:%d %b %Y}: {usual}; "
                        "then week by week: " + ", ".join(f"{m:%d %b} {b}" for m, b in zip(mondays, bands, strict=True))
                        + f" (DORA {config.benchmark} benchmark)."),
                link=dashboard_url(BAND_PAGE[column], start=base_start, end=end,
                                   team=scope if by == "team" else None),
                channels=rule.channels))
    return out


def stale_source(con, config: Config, rule: AlertRule, now: datetime, notes: list[str]) -> list[Alert]:
    from metrics.catalog import sync_states

    hours = rule["hours"]
    out = []
    for s in sync_states(con, config).itertuples():
        last = None if pd.isna(s.last_success_at) else pd.Timestamp(s.last_success_at).to_pydatetime()
        age = None if last is None else (now - last).total_seconds() / 3600
        if age is not None and age <= hours:
            continue
        error = f" Last error: {s.last_error[:300]}" if isinstance(s.last_error, str) and s.last_error else ""
        if last is None:
            title, since = f"Source {s.source} ({s.scope}) has never synced successfully", "never"
        else:
            title = f"Source {s.source} ({s.scope}) not synced for {format_hours(age)}"
            since = f"{last:%Y-%m-%d %H:%M} UTC"
        out.append(Alert(
            key=f"stale_source:{s.source}:{s.scope}", rule="stale_source", scope=f"{s.source}:{s.scope}", title=title,
            detail=f"Last successful sync: {since}; the limit is {hours:g} hours.{error} Run or schedule its sync.",
            link=dashboard_url("data_health"), channels=rule.channels))
    return out


def slo_burn(con, config: Config, rule: AlertRule, now: datetime, notes: list[str]) -> list[Alert]:
    from metrics.slo import slo_status

    if not config.slos:
        notes.append("slo_burn: no [[slos]] declared")
        return []
    status = slo_status(con, config, now=now)
    out = []
    for s in status.itertuples():
        if s.status not in rule["statuses"]:
            continue
        remaining = "no data" if pd.isna(s.budget_remaining) else f"{float(s.budget_remaining) * 100:.1f}%"
        burn = "no data" if pd.isna(s.burn_rate_1h) else f"{float(s.burn_rate_1h):.1f}×"
        out.append(Alert(
            key=f"slo_burn:{s.slo}", rule="slo_burn", scope=s.slo,
            title=f"SLO {s.slo} ({s.service}): {s.status}",
            detail=(f"Objective {float(s.objective) * 100:g}% over {int(s.window_days)} days; error budget remaining "
                    f"{remaining}; burn rate over 1 h {burn}."),
            link=dashboard_url("reliability"), channels=rule.channels))
    return out


def default_branch_red(con, config: Config, rule: AlertRule, now: datetime, notes: list[str]) -> list[Alert]:
    from metrics._sql import load_sql

    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'pipeline_runs'"
                         ).fetchall()[0][0]
    if not exists or not con.execute("SELECT count(*) FROM pipeline_runs").fetchall()[0][0]:
        notes.append("default_branch_red: no CI data (no pipeline runs yet; sync GitHub Actions or GitLab, or "
                     "`cadence ingest pipeline_runs`, first)")
        return []
    red = con.execute(load_sql("notify_branch_red"), {"branches": list(rule["branches"]), "at": now}).df()
    out = []
    for r in red.itertuples():
        hours = (now - pd.Timestamp(r.red_since).to_pydatetime()).total_seconds() / 3600
        if hours <= rule["hours"]:
            continue
        out.append(Alert(
            key=f"default_branch_red:{r.repo}:{r.branch}:{r.workflow}", rule="default_branch_red",
            scope=f"{r.repo}@{r.branch}",
            title=f"{r.repo} {r.branch} is red: {r.workflow} failing for {format_hours(hours)}",
            detail=(f"Red since {pd.Timestamp(r.red_since):%Y-%m-%d %H:%M} UTC (limit {rule['hours']:g} hours); "
                    f"latest failed run: {r.url or 'no URL'}."),
            link=dashboard_url("", scope=f"repo:{r.repo}"), channels=rule.channels))
    return out


def duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


RULES = {"cost_anomaly": cost_anomaly, "cost_budget": cost_budget, "dora_regression": dora_regression,
         "stale_source": stale_source, "slo_burn": slo_burn, "default_branch_red": default_branch_red}


def evaluate(con, config: Config, settings: NotifySettings, now: datetime,
             failed: set[str] | None = None) -> tuple[list[Alert], list[str]]:
    """Every rule's alerts firing at ``now`` (naive UTC), and notes on rules that had nothing to judge.

    Two rules producing the same key (the same rule twice with different channels) merge: the
    alert goes to the union of their channels. A rule that cannot be evaluated (a locked or broken
    warehouse part) is noted and its name added to ``failed``: its alerts are then neither started
    nor resolved by this check."""
    from cadence.core.errors import CadenceError

    merged: dict[str, Alert] = {}
    notes: list[str] = []
    for rule in settings.alerts:
        try:
            found = RULES[rule.rule](con, config, rule, now, notes)
        except (CadenceError, ValueError, duckdb_error()) as exc:
            notes.append(f"{rule.rule}: could not be evaluated ({type(exc).__name__}: {str(exc)[:300]}); its alerts "
                         "are left as they were")
            if failed is not None:
                failed.add(rule.rule)
            log.warning("notify check: rule %s failed: %s", rule.rule, exc)
            continue
        for alert in found:
            if alert.key in merged:
                old = merged[alert.key]
                alert = Alert(**{**old.__dict__, "channels": tuple(dict.fromkeys(old.channels + alert.channels))})
            merged[alert.key] = alert
    return [merged[k] for k in sorted(merged)], notes
