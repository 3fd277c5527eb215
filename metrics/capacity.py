"""Capacity per team per quarter, for product-planning reviews: throughput (changes shipped,
deployments), cost, compute utilization and the cost of idle capacity, commitment utilization, and
a forecast of cost and throughput for the next quarter.

The dashboard's Capacity page and any export call ``capacity_table``, so both show the same rows.
Every figure comes from the other metrics (``dora_metrics``; ``cost_summary``,
``utilization_summary`` and ``commitment_summary`` of metrics.costs, monthly by team), so the
numbers match the other pages; this module only adds them up per quarter and forecasts.
"""

from __future__ import annotations

import calendar
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from cadence.core.config import Config

CAPACITY_COLUMNS = (
    "team", "quarter", "quarter_start", "is_forecast", "days", "deployments", "changes_deployed",
    "effective_cost", "cost_per_change", "utilization", "cost_of_idle", "commitment_utilization",
)
# Months of history the forecast's trend needs; with fewer it extends the average daily rate.
MIN_TREND_MONTHS = 3


def quarter_of(d: date) -> date:
    """The first day of the calendar quarter holding ``d``."""
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def quarter_label(q: date) -> str:
    return f"{q.year}-Q{(q.month - 1) // 3 + 1}"


def _month_end(m: date) -> date:
    return date(m.year, m.month, calendar.monthrange(m.year, m.month)[1])


def _next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def _months(start: date, end: date) -> list[tuple[date, int]]:
    """(first day of month, days of that month inside [start, end]) for every month touched."""
    out, m = [], date(start.year, start.month, 1)
    while m <= end:
        lo, hi = max(m, start), min(_month_end(m), end)
        out.append((m, (hi - lo).days + 1))
        m = _next_month(m)
    return out


def trend_forecast(values: list[float], days: list[int], future_days: list[int], gap: int = 0) -> float:
    """Total over the future months of a linear trend fitted to the daily rate of past months.

    Each past month's rate is its value ÷ its days in range (so a partial month counts fairly); the
    rate is fitted by least squares against the month index (0 for the first past month) and
    extended over the future months, which start ``gap`` months after the last past one (index
    len + gap, ...), never below zero. With fewer than ``MIN_TREND_MONTHS`` months the average
    daily rate is extended instead.
    """
    if not values or sum(days) == 0:
        return float("nan")
    rates = np.array(values, dtype=float) / np.array(days, dtype=float)
    n = len(rates)
    if n < MIN_TREND_MONTHS:
        rate = float(np.sum(values) / np.sum(days))
        return float(max(rate, 0.0) * sum(future_days))
    slope, intercept = np.polyfit(np.arange(n, dtype=float), rates, 1)
    ahead = np.arange(n + gap, n + gap + len(future_days), dtype=float)
    return float(np.sum(np.clip(intercept + slope * ahead, 0.0, None) * np.array(future_days, dtype=float)))


def capacity_table(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> pd.DataFrame:
    """One row per team per quarter touched by [start, end] (only the days inside the range count),
    then one forecast row per team for the quarter after the one holding ``end``.

    utilization is the compute utilization weighted by compute cost over the quarter's months,
    cost_of_idle = compute cost × (1 − utilization) (metrics.costs.utilization_summary);
    commitment_utilization is the organisation's (Savings Plans and reservations, mean over kinds
    and days), the same on every team's row. Forecast rows carry deployments, changes_deployed and
    effective_cost only.
    """
    from metrics import dora_metrics
    from metrics.costs import _bucket, commitment_summary, daily_cost, unit_cost, utilization_summary

    months = _months(start, end)
    days_of = dict(months)
    dora = dora_metrics(con, config, start, end, by="team", period="month")
    # cost_summary's effective_cost, without the delivery figures it would compute again
    cost = _bucket(daily_cost(con, config, start, end, by="team"), "month", start)

    def month_key(v) -> date:
        d = pd.Timestamp(v).date()
        return date(d.year, d.month, 1)

    def months_of(values) -> pd.Series:
        return pd.Series([month_key(v) for v in values], dtype=object)

    through = pd.DataFrame({"team": dora["scope"].astype(object), "month": months_of(dora["period_start"]),
                            "deployments": dora["deployments"], "changes_deployed": dora["changes_deployed"]})
    spend = pd.DataFrame({"team": cost["scope"].astype(object), "month": months_of(cost["period_start"]),
                          "effective_cost": cost["effective_cost"].astype(float)})
    util = utilization_summary(con, config, start, end, by="team", period="month")
    idle = pd.DataFrame({"team": util["scope"].astype(object), "month": months_of(util["period_start"]),
                         "compute_cost": pd.to_numeric(util["compute_cost"], errors="coerce"),
                         "idle_cost": pd.to_numeric(util["idle_cost"], errors="coerce")})
    monthly = through.merge(spend, on=["team", "month"], how="outer").merge(idle, on=["team", "month"], how="left")
    monthly = monthly[monthly["month"].isin(days_of)]
    if monthly.empty:
        return pd.DataFrame(columns=list(CAPACITY_COLUMNS))
    monthly[["deployments", "changes_deployed", "effective_cost"]] = \
        monthly[["deployments", "changes_deployed", "effective_cost"]].fillna(0)
    monthly["quarter_start"] = monthly["month"].map(quarter_of)
    measured = monthly["compute_cost"].notna() & monthly["idle_cost"].notna()
    monthly["measured_cost"] = np.where(measured, monthly["compute_cost"], 0.0)
    monthly["idle_cost"] = np.where(measured, monthly["idle_cost"], 0.0)

    quarters = (monthly.groupby(["team", "quarter_start"], as_index=False)
                .agg(deployments=("deployments", "sum"), changes_deployed=("changes_deployed", "sum"),
                     effective_cost=("effective_cost", "sum"), idle_cost=("idle_cost", "sum"),
                     measured_cost=("measured_cost", "sum")))
    quarters["days"] = [sum(d for m, d in months if quarter_of(m) == q) for q in quarters["quarter_start"]]
    has_compute = quarters["measured_cost"] > 0
    # Weighted by compute cost: 1 - idle/compute equals the cost-weighted mean of the monthly figures.
    quarters["utilization"] = (1 - quarters["idle_cost"] / quarters["measured_cost"]).where(has_compute)
    quarters["cost_of_idle"] = quarters["idle_cost"].where(has_compute)
    quarters["cost_per_change"] = unit_cost(quarters["effective_cost"], quarters["changes_deployed"])
    commit = commitment_summary(con, config, start, end, period="month")
    commit_of = {}
    if len(commit):
        commit = commit.assign(quarter_start=[quarter_of(month_key(p)) for p in commit["period_start"]],
                               weighted=commit["utilization"] * commit["days"])
        sums = commit.dropna(subset=["utilization"]).groupby("quarter_start")[["weighted", "days"]].sum()
        commit_of = (sums["weighted"] / sums["days"]).to_dict()
    quarters["commitment_utilization"] = quarters["quarter_start"].map(commit_of)
    quarters["is_forecast"] = False

    next_q = _next_month(_next_month(_next_month(quarter_of(end))))
    future = [calendar.monthrange(m.year, m.month)[1]
              for m in (next_q, _next_month(next_q), _next_month(_next_month(next_q)))]
    last = months[-1][0]
    gap = (next_q.year * 12 + next_q.month) - (last.year * 12 + last.month) - 1  # months in between
    forecasts = []
    for team, rows in monthly.groupby("team", sort=True):
        full = [m for m, _ in months]
        by_month = rows.set_index("month").reindex(full).fillna({"deployments": 0, "changes_deployed": 0,
                                                                 "effective_cost": 0})
        days = [days_of[m] for m in full]
        forecasts.append({
            "team": team, "quarter_start": next_q, "is_forecast": True, "days": sum(future),
            **{c: trend_forecast(by_month[c].astype(float).tolist(), days, future, gap)
               for c in ("deployments", "changes_deployed", "effective_cost")}})
    out = pd.concat([quarters, pd.DataFrame(forecasts)], ignore_index=True)
    out["quarter"] = out["quarter_start"].map(quarter_label)
    out = out.sort_values(["team", "quarter_start"], kind="mergesort", ignore_index=True)
    return out.loc[:, list(CAPACITY_COLUMNS)]
