"""Capacity per team per quarter, for product-planning reviews: throughput (changes shipped,
deployments), cost, compute utilization and the cost of idle capacity, commitment utilization, and
a forecast of cost and throughput for the next quarter.

The dashboard's Capacity page and any export call ``capacity_table``, so both show the same rows.
Throughput comes from ``dora_metrics`` and cost from ``metrics.costs.cost_summary`` (monthly, by
team), so the figures match the other pages; only the commitment figure is read here directly.
"""

from __future__ import annotations

import calendar
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from cadence.config import Config

CAPACITY_COLUMNS = (
    "team", "quarter", "quarter_start", "is_forecast", "days", "deployments", "changes_deployed",
    "effective_cost", "cost_per_change", "utilization", "cost_of_idle", "commitment_utilization",
)
# Months of history the forecast's trend needs; with fewer it extends the average daily rate.
MIN_TREND_MONTHS = 3


def _sql(name: str) -> str:
    return (Path(__file__).parent / "sql" / f"{name}.sql").read_text(encoding="utf-8")


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


def trend_forecast(values: list[float], days: list[int], future_days: list[int]) -> float:
    """Total over the future months of a linear trend fitted to the daily rate of past months.

    Each past month's rate is its value ÷ its days in range (so a partial month counts fairly); the
    rate is fitted by least squares against the month index and extended over the next months
    (index len, len+1, ...), never below zero. With fewer than ``MIN_TREND_MONTHS`` months the
    average daily rate is extended instead.
    """
    if not values or sum(days) == 0:
        return float("nan")
    rates = np.array(values, dtype=float) / np.array(days, dtype=float)
    n = len(rates)
    if n < MIN_TREND_MONTHS:
        rate = float(np.sum(values) / np.sum(days))
        return float(max(rate, 0.0) * sum(future_days))
    slope, intercept = np.polyfit(np.arange(n, dtype=float), rates, 1)
    ahead = np.arange(n, n + len(future_days), dtype=float)
    return float(np.sum(np.clip(intercept + slope * ahead, 0.0, None) * np.array(future_days, dtype=float)))


def capacity_table(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> pd.DataFrame:
    """One row per team per quarter touched by [start, end] (only the days inside the range count),
    then one forecast row per team for the quarter after the one holding ``end``.

    utilization is cost-weighted over the quarter's months; cost_of_idle = cost × (1 − utilization);
    commitment_utilization is the organisation's (Savings Plans and reservations), the same on every
    team's row. Forecast rows carry deployments, changes_deployed and effective_cost only.
    """
    from metrics import dora_metrics
    from metrics.costs import cost_summary

    months = _months(start, end)
    days_of = dict(months)
    dora = dora_metrics(con, config, start, end, by="team", period="month")
    cost = cost_summary(con, config, start, end, by="team", period="month")

    def month_key(v) -> date:
        d = pd.Timestamp(v).date()
        return date(d.year, d.month, 1)

    def months_of(values) -> pd.Series:
        return pd.Series([month_key(v) for v in values], dtype=object)

    through = pd.DataFrame({"team": dora["scope"].astype(object), "month": months_of(dora["period_start"]),
                            "deployments": dora["deployments"], "changes_deployed": dora["changes_deployed"]})
    spend = pd.DataFrame({"team": cost["scope"].astype(object), "month": months_of(cost["period_start"]),
                          "effective_cost": cost["effective_cost"].astype(float),
                          "utilization": pd.to_numeric(cost["utilization"], errors="coerce")})
    monthly = through.merge(spend, on=["team", "month"], how="outer")
    monthly = monthly[monthly["month"].isin(days_of)]
    if monthly.empty:
        return pd.DataFrame(columns=list(CAPACITY_COLUMNS))
    monthly[["deployments", "changes_deployed", "effective_cost"]] = \
        monthly[["deployments", "changes_deployed", "effective_cost"]].fillna(0)
    monthly["quarter_start"] = monthly["month"].map(quarter_of)
    known = monthly["utilization"].notna()
    monthly["used_cost"] = np.where(known, monthly["utilization"] * monthly["effective_cost"], 0.0)
    monthly["measured_cost"] = np.where(known, monthly["effective_cost"], 0.0)

    quarters = (monthly.groupby(["team", "quarter_start"], as_index=False)
                .agg(deployments=("deployments", "sum"), changes_deployed=("changes_deployed", "sum"),
                     effective_cost=("effective_cost", "sum"), used_cost=("used_cost", "sum"),
                     measured_cost=("measured_cost", "sum")))
    quarters["days"] = [sum(d for m, d in months if quarter_of(m) == q) for q in quarters["quarter_start"]]
    quarters["utilization"] = quarters["used_cost"] / quarters["measured_cost"].where(quarters["measured_cost"] > 0)
    quarters["cost_of_idle"] = quarters["effective_cost"] * (1 - quarters["utilization"])
    quarters["cost_per_change"] = quarters["effective_cost"] / quarters["changes_deployed"].where(
        quarters["changes_deployed"] > 0)
    commit = con.execute(_sql("commitment_quarters"), [start, end]).df()
    commit_of = {pd.Timestamp(q).date(): u for q, u in zip(commit["quarter_start"], commit["utilization"], strict=True)}
    quarters["commitment_utilization"] = quarters["quarter_start"].map(commit_of)
    quarters["is_forecast"] = False

    next_q = _next_month(_next_month(_next_month(quarter_of(end))))
    future = [calendar.monthrange(m.year, m.month)[1]
              for m in (next_q, _next_month(next_q), _next_month(_next_month(next_q)))]
    forecasts = []
    for team, rows in monthly.groupby("team", sort=True):
        full = [m for m, _ in months]
        by_month = rows.set_index("month").reindex(full).fillna({"deployments": 0, "changes_deployed": 0,
                                                                 "effective_cost": 0})
        days = [days_of[m] for m in full]
        forecasts.append({
            "team": team, "quarter_start": next_q, "is_forecast": True, "days": sum(future),
            **{c: trend_forecast(by_month[c].astype(float).tolist(), days, future)
               for c in ("deployments", "changes_deployed", "effective_cost")}})
    out = pd.concat([quarters, pd.DataFrame(forecasts)], ignore_index=True)
    out["quarter"] = out["quarter_start"].map(quarter_label)
    out = out.sort_values(["team", "quarter_start"], kind="mergesort", ignore_index=True)
    return out.loc[:, list(CAPACITY_COLUMNS)]
