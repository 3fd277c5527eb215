"""Cost, utilization and commitment metrics: what delivery costs, per team, service and account.

Pure functions ``(con, config, ...) -> DataFrame`` over the warehouse; SQL in
``metrics/sql/cost_*.sql``. Definitions in docs/costs.md. Teams are re-allocated at query time from
the configuration (cadence/core/allocation.py), so a change to cadence.toml needs no re-sync; shared
cost is split across teams per ``[cost_allocation] shared_split``. End dates are inclusive.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from cadence.core.allocation import SHARED, UNALLOCATED, allocation_rules, has_rules, shared_split
from cadence.core.config import Config
from metrics._sql import compose, run_with_views, valid_params

log = logging.getLogger(__name__)

RULES_VIEW = "cadence_cost_rules"
COST_BY = ("org", "team", "service", "account", "provider", "region", "category", "tag")
SUMMARY_BY = ("org", "team")
PERIODS = ("day", "week", "month", "total")
SUMMARY_COLUMNS = ["scope", "period_start", "effective_cost", "billed_cost", "deployments", "changes_deployed",
                   "cost_per_deployment", "cost_per_change", "utilization"]


# -- plumbing -------------------------------------------------------------------------------------

COST_FRAGMENTS = ("cost_lines",)
DAILY_FRAGMENTS = ("cost_lines", "cost_daily")


def _run(con: duckdb.DuckDBPyConnection, config: Config, sql: str, params: dict) -> pd.DataFrame:
    """Run with the allocation rules registered; bind only the named params."""
    rules = allocation_rules(config)
    rules = pd.DataFrame({c: pd.Series(rules[c].tolist() if len(rules) else [], dtype="string")
                          for c in ("kind", "value", "team")})
    return run_with_views(con, sql, params, {RULES_VIEW: rules})


def _params(config: Config, start: date, end: date, **extra) -> dict:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return {"start_date": start, "end_date": end + timedelta(days=1), "use_rules": has_rules(config),
            "category": None, "shared_split": shared_split(config), "split_teams": sorted(config.teams),
            "shared_team": SHARED, **{k: v for k, v in valid_params().items() if k.endswith("_day")}, **extra}


def _check(value: str, choices: tuple[str, ...], name: str) -> None:
    if value not in choices:
        raise ValueError(f'{name} must be one of {", ".join(choices)}, got "{value}"')


def period_start(day: date, period: str, start: date) -> date:
    """The first day of ``day``'s period: ISO week (Monday), calendar month, or the range start."""
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return start


def _as_dates(values) -> list[date]:
    """``pd.Timestamp(v).date()`` of every value, column-wise (a query returns thousands of days)."""
    if len(values) == 0:
        return []
    return list(pd.DatetimeIndex(pd.to_datetime(pd.Series(values, copy=False))).date)


# -- daily cost, allocation and the shared split --------------------------------------------------

def daily_cost(con, config: Config, start: date, end: date, by: str = "team",
               category: str | None = None) -> pd.DataFrame:
    """Cost per scope and day (scope, charge_date, effective/billed/list/untagged/unallocated cost,
    estimated), with shared cost split across teams when by="team" and a split is configured
    (cost_shared_split.sql); ``category`` keeps one service category's lines."""
    _check(by, COST_BY, "by")
    df = _run(con, config, compose("cost_shared_split", DAILY_FRAGMENTS),
              _params(config, start, end, by=by, category=category))
    df["charge_date"] = pd.Series(_as_dates(df["charge_date"]), index=df.index, dtype=object)
    df["scope"] = df["scope"].astype(object)
    return df


def _bucket(daily: pd.DataFrame, period: str, start: date) -> pd.DataFrame:
    df = daily.copy()
    df["period_start"] = pd.Series([period_start(d, period, start) for d in df["charge_date"]],
                                   index=df.index, dtype=object)
    agg = {"effective_cost": "sum", "billed_cost": "sum", "list_cost": lambda s: s.sum(min_count=1),
           "untagged_cost": "sum", "unallocated_cost": "sum", "estimated": "any"}
    if df.empty:
        return pd.DataFrame(columns=["scope", "period_start", *agg])
    return df.groupby(["scope", "period_start"], as_index=False).agg(agg)


# -- public metrics -------------------------------------------------------------------------------

def cost_by(con, config: Config, start: date, end: date, by: str = "team", period: str = "week",
            scope: str | None = None) -> pd.DataFrame:
    """Cost per scope and period, with each scope's share of the period and its change on the
    previous period: scope, period_start, effective_cost, billed_cost, list_cost, share,
    change, change_pct, estimated. Sorted by period_start, then effective_cost descending."""
    _check(period, PERIODS, "period")
    out = _bucket(daily_cost(con, config, start, end, by=by), period, start)
    cols = ["scope", "period_start", "effective_cost", "billed_cost", "list_cost", "share", "change",
            "change_pct", "estimated"]
    if out.empty:
        return pd.DataFrame(columns=cols)
    totals = out.groupby("period_start")["effective_cost"].transform("sum")
    out["share"] = out["effective_cost"] / totals.where(totals != 0)
    out = out.sort_values(["scope", "period_start"], kind="mergesort")
    prev = out.groupby("scope")["effective_cost"].shift(1)
    out["change"] = out["effective_cost"] - prev
    out["change_pct"] = out["change"] / prev.where(prev != 0)
    if scope is not None:
        out = out[out["scope"] == scope]
    out = out.sort_values(["period_start", "effective_cost"], ascending=[True, False], kind="mergesort")
    return out[cols].reset_index(drop=True)


def top_movers(con, config: Config, start: date, end: date, by: str = "service", n: int = 10) -> pd.DataFrame:
    """The scopes whose cost moved most between [start, end] and the equally long period before:
    scope, previous_cost, current_cost, change, change_pct; sorted by |change| descending."""
    days = (end - start).days + 1
    prev_start, prev_end = start - timedelta(days=days), start - timedelta(days=1)
    cur = daily_cost(con, config, start, end, by=by).groupby("scope")["effective_cost"].sum()
    prev = daily_cost(con, config, prev_start, prev_end, by=by).groupby("scope")["effective_cost"].sum()
    df = pd.DataFrame({"previous_cost": prev, "current_cost": cur}).fillna(0.0)
    df.index.name = "scope"
    df = df.reset_index()
    df["scope"] = df["scope"].astype(object)
    df["change"] = df["current_cost"] - df["previous_cost"]
    df["change_pct"] = df["change"] / df["previous_cost"].where(df["previous_cost"] != 0)
    df = df.reindex(df["change"].abs().sort_values(ascending=False, kind="mergesort").index)
    return df.head(n).reset_index(drop=True)[["scope", "previous_cost", "current_cost", "change", "change_pct"]]


def untagged_share(con, config: Config, start: date, end: date, period: str = "week") -> pd.DataFrame:
    """Per period: total_cost, untagged_cost (no team-tag value), untagged_share, unallocated_cost
    (no team by any rule), unallocated_share. Fractions 0..1 of effective cost."""
    _check(period, PERIODS, "period")
    out = _bucket(daily_cost(con, config, start, end, by="org"), period, start)
    cols = ["period_start", "total_cost", "untagged_cost", "untagged_share", "unallocated_cost", "unallocated_share"]
    if out.empty:
        return pd.DataFrame(columns=cols)
    out = out.rename(columns={"effective_cost": "total_cost"})
    nonzero = out["total_cost"].where(out["total_cost"] != 0)
    out["untagged_share"] = out["untagged_cost"] / nonzero
    out["unallocated_share"] = out["unallocated_cost"] / nonzero
    return out.sort_values("period_start", kind="mergesort")[cols].reset_index(drop=True)


def cost_forecast(con, config: Config, start: date, end: date, horizon_days: int = 30, by: str = "org",
                  scope: str | None = None, z: float = 1.96) -> pd.DataFrame:
    """Daily cost for the ``horizon_days`` after ``end``: a least-squares fit of a linear trend plus
    a day-of-week effect on the history [start, end], with a ±z·σ interval (σ the residual standard
    deviation, widened by the trend's uncertainty). Rows: scope, date, actual (history), forecast,
    lower, upper. Needs 14 days of history per scope; scopes with less are left out."""
    if horizon_days not in (30, 90) and not 1 <= horizon_days <= 366:
        raise ValueError("horizon_days must be 1 to 366")
    daily = daily_cost(con, config, start, end, by=by)
    if scope is not None:
        daily = daily[daily["scope"] == scope]
    out = []
    all_days = pd.date_range(start, end, freq="D").date
    for name, group in daily.groupby("scope", sort=True):
        series = group.set_index("charge_date")["effective_cost"].reindex(all_days, fill_value=0.0)
        first = next((i for i, v in enumerate(series.to_numpy()) if v != 0), None)
        if first is None:
            continue
        series = series.iloc[first:]
        if len(series) < 14:
            continue
        days = np.array([(d - start).days for d in series.index], dtype=float)
        dows = np.array([d.weekday() for d in series.index])
        y = series.to_numpy(dtype=float)
        x = _design(days, dows)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ coef
        dof = max(len(y) - x.shape[1], 1)
        sigma = float(np.sqrt((resid ** 2).sum() / dof))
        xtx_inv = np.linalg.pinv(x.T @ x)
        for d, v in zip(series.index, y, strict=True):
            out.append({"scope": name, "date": d, "actual": v, "forecast": np.nan, "lower": np.nan, "upper": np.nan})
        future = [end + timedelta(days=k) for k in range(1, horizon_days + 1)]
        fx = _design(np.array([(d - start).days for d in future], dtype=float), np.array([d.weekday() for d in future]))
        pred = fx @ coef
        spread = z * sigma * np.sqrt(1 + np.einsum("ij,jk,ik->i", fx, xtx_inv, fx))
        for d, p, s in zip(future, pred, spread, strict=True):
            out.append({"scope": name, "date": d, "actual": np.nan, "forecast": max(float(p), 0.0),
                        "lower": max(float(p - s), 0.0), "upper": max(float(p + s), 0.0)})
    cols = ["scope", "date", "actual", "forecast", "lower", "upper"]
    return pd.DataFrame(out, columns=cols) if out else pd.DataFrame(columns=cols)


def _design(days: np.ndarray, dows: np.ndarray) -> np.ndarray:
    """Intercept, trend (per day), and six day-of-week offsets (Monday is the base)."""
    cols = [np.ones_like(days), days] + [(dows == k).astype(float) for k in range(1, 7)]
    return np.column_stack(cols)


def cost_anomalies(con, config: Config, start: date, end: date, by: str = "service", window_days: int = 28,
                   threshold: float = 3.0, min_change: float = 1.0, min_history: int = 14) -> pd.DataFrame:
    """Days far outside their scope's recent range: expected = median of the previous
    ``window_days`` days; spread = 1.4826 × their median absolute deviation (a robust σ), at least
    5 % of expected; anomalous when |actual − expected| > threshold × spread and ≥ ``min_change``.
    Scopes charged on fewer than half of the window's days (monthly fees) are not judged.
    Rows: scope, charge_date, actual, expected, lower, upper, deviation, direction; sorted by
    |deviation| descending."""
    daily = daily_cost(con, config, start - timedelta(days=window_days), end, by=by)
    cols = ["scope", "charge_date", "actual", "expected", "lower", "upper", "deviation", "direction"]
    out = []
    all_days = pd.date_range(start - timedelta(days=window_days), end, freq="D").date
    for name, group in daily.groupby("scope", sort=True):
        series = group.set_index("charge_date")["effective_cost"].reindex(all_days, fill_value=0.0)
        values = series.to_numpy(dtype=float)
        seen = next((i for i, v in enumerate(values) if v != 0), len(values))
        for i, day in enumerate(series.index):
            if day < start:
                continue
            history = values[max(seen, i - window_days):i]
            # Too little history, or a sparse line (a monthly fee, an upfront payment): no verdict.
            if len(history) < min_history or (history != 0).mean() < 0.5:
                continue
            expected = float(np.median(history))
            spread = max(1.4826 * float(np.median(np.abs(history - expected))), 0.05 * abs(expected))
            deviation = values[i] - expected
            if abs(deviation) > threshold * spread and abs(deviation) >= min_change:
                out.append({"scope": name, "charge_date": day, "actual": values[i], "expected": expected,
                            "lower": expected - threshold * spread, "upper": expected + threshold * spread,
                            "deviation": deviation, "direction": "up" if deviation > 0 else "down"})
    df = pd.DataFrame(out, columns=cols)
    if df.empty:
        return df
    return df.reindex(df["deviation"].abs().sort_values(ascending=False, kind="mergesort").index).reset_index(drop=True)


def utilization_summary(con, config: Config, start: date, end: date, by: str = "team", period: str = "total",
                        metric: str = "cpu") -> pd.DataFrame:
    """Used ÷ provisioned per scope and period, weighted by cost, and the cost of idle.

    Weights are each resource-day's cost when every resource of the scope has resource-level cost
    (CUR/FOCUS ResourceId), else its capacity (vCPU or GiB), which is what the cost is proportional
    to. compute_cost is that resource cost, or else the scope's cost in the Compute service
    category; idle_cost = compute_cost × (1 − utilization). Rows: scope, period_start, resources,
    capacity (mean provisioned), utilization, p95, weighting, compute_cost, idle_cost.
    """
    _check(by, ("org", "team", "service"), "by")
    _check(period, PERIODS, "period")
    _check(metric, ("cpu", "memory"), "metric")
    cols = ["scope", "period_start", "resources", "capacity", "utilization", "p95", "weighting",
            "compute_cost", "idle_cost"]
    u = _run(con, config, compose("cost_utilization", COST_FRAGMENTS), _params(config, start, end, metric=metric))
    if u.empty:
        return pd.DataFrame(columns=cols)
    u["date"] = _as_dates(u["date"])
    u["scope"] = "all" if by == "org" else (u["team"] if by == "team" else u["service"])
    u["period_start"] = [period_start(d, period, start) for d in u["date"]]
    compute = pd.DataFrame(columns=["scope", "period_start", "category_cost"])
    if by in ("org", "team"):
        lines = _bucket(daily_cost(con, config, start, end, by="category"), period, start) if by == "org" else None
        if by == "org":
            compute = lines[lines["scope"] == "Compute"].assign(scope="all")
            compute = compute.rename(columns={"effective_cost": "category_cost"})[["scope", "period_start", "category_cost"]]
        else:
            compute = _compute_cost_by_team(con, config, start, end, period)
    # One row per (scope, period) in ``compute`` (a _bucket): its cost by key, not a filter per group.
    category_cost = {(c, p): 0.0 if pd.isna(v) else float(v) for c, p, v in   # NaN: a sum of nothing
                     zip(compute["scope"], compute["period_start"], compute["category_cost"], strict=True)}
    # Per group with numpy on the group's rows (as pandas' skipna sums: NaN counts as 0), not a
    # dozen pandas operations per group: the same sums over the same values in the same order.
    u = u.reset_index(drop=True)
    avg, p95_raw = _floats(u["avg"]), _floats(u["p95"])
    resource_cost, capacity = _floats(u["resource_cost"]), _floats(u["capacity"])
    resources, dates = u["resource"].tolist(), u["date"].tolist()
    groups = u.groupby(["scope", "period_start"], sort=True).indices
    rows = []
    for scope, p in sorted(groups):
        at = groups[(scope, p)]
        rc, cap = resource_cost[at], capacity[at]
        by_cost = bool((~np.isnan(rc)).all() and (rc > 0).all())
        w = rc if by_cost else np.where(np.isnan(cap), 0.0, cap)
        if _nansum(w) <= 0:
            w = np.ones(len(at))
        util = float(_nansum(avg[at] * w) / _nansum(w))
        p95 = float(_nansum(np.where(np.isnan(p95_raw[at]), avg[at], p95_raw[at]) * w) / _nansum(w))
        cost = float(_nansum(rc)) if by_cost else category_cost.get((scope, p), np.nan)
        days = len({dates[i] for i in at})
        rows.append({"scope": scope, "period_start": p,
                     "resources": len({resources[i] for i in at if not pd.isna(resources[i])}),
                     "capacity": float(_nansum(cap) / days) if (~np.isnan(cap)).any() else np.nan,
                     "utilization": util, "p95": p95, "weighting": "cost" if by_cost else "capacity",
                     "compute_cost": cost, "idle_cost": cost * (1 - util) if pd.notna(cost) else np.nan})
    return pd.DataFrame(rows, columns=cols)


def _floats(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _nansum(values: np.ndarray) -> float:
    """``pd.Series(values).sum()``: NaN counts as 0, the rest summed by numpy as pandas does."""
    return np.where(np.isnan(values), 0.0, values).sum()


def _compute_cost_by_team(con, config, start, end, period) -> pd.DataFrame:
    """Compute-category cost per team and period (shared cost split as configured)."""
    df = _bucket(daily_cost(con, config, start, end, by="team", category="Compute"), period, start)
    return df.rename(columns={"effective_cost": "category_cost"})[["scope", "period_start", "category_cost"]]


def commitment_summary(con, config: Config, start: date, end: date, period: str = "week") -> pd.DataFrame:
    """Savings Plans and reservation utilization and coverage per kind and period: the mean of the
    daily fractions. Rows: kind, period_start, utilization, coverage, days."""
    _check(period, PERIODS, "period")
    df = _run(con, config, compose("cost_commitments", ()), _params(config, start, end))
    cols = ["kind", "period_start", "utilization", "coverage", "days"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["period_start"] = [period_start(d, period, start) for d in _as_dates(df["date"])]
    out = df.groupby(["kind", "period_start"], as_index=False).agg(
        utilization=("utilization", "mean"), coverage=("coverage", "mean"), days=("date", "nunique"))
    return out[cols]


# -- cost per deployment and per change (the one definition) --------------------------------------

def unit_cost(cost, count):
    """What one deployment or one change shipped cost: ``cost`` ÷ ``count``. The one place cost per
    deployment and per change is computed (export, pages, capacity review, digest all read it).

    Series in, Series out (NaN where the count is 0 or missing); scalars in, a float out, or None
    when there is nothing to divide by (no count, or no cost)."""
    if isinstance(count, pd.Series):
        return cost / count.where(count > 0)
    if cost is None or count is None or pd.isna(cost) or pd.isna(count) or count <= 0:
        return None
    return cost / count


def with_unit_costs(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (effective_cost, deployments, changes_deployed) with cost_per_deployment and
    cost_per_change added (NaN where nothing was deployed or shipped)."""
    frame["cost_per_deployment"] = unit_cost(frame["effective_cost"], frame["deployments"])
    frame["cost_per_change"] = unit_cost(frame["effective_cost"], frame["changes_deployed"])
    return frame


def delivery_cost(summary: pd.DataFrame, per: str | None = None) -> pd.DataFrame:
    """Rows of ``cost_summary`` added up (all of them, or per value of the column ``per``, e.g.
    period_start), with the cost per deployment and per change of the sums: effective_cost,
    deployments, changes_deployed, cost_per_deployment, cost_per_change."""
    columns = ["effective_cost", "deployments", "changes_deployed"]
    if per is None:
        total = pd.DataFrame([summary[columns].sum()]) if len(summary) else \
            pd.DataFrame({c: pd.Series([0.0 if c == "effective_cost" else 0]) for c in columns})
    else:
        total = summary.groupby(per, as_index=False)[columns].sum()
    return with_unit_costs(total)


def cost_summary(con, config: Config, start: date, end: date, by: str = "team", period: str = "week",
                 scope: str | None = None) -> pd.DataFrame:
    """Allocated cost beside the delivery it paid for, per team (or the org) and period: cost per
    successful production deployment, per change shipped, and cost-weighted CPU utilization.

    Columns: scope, period_start, effective_cost, billed_cost, deployments, changes_deployed,
    cost_per_deployment, cost_per_change, utilization. One row per (scope, period) with cost;
    "unallocated" (and "shared" without a split) appear as scopes of their own, with no delivery.
    Cost is allocated to teams, not repos or deployment services: other ``by`` raise ValueError.
    """
    if by not in SUMMARY_BY:
        raise ValueError(f'cost_summary by must be one of {", ".join(SUMMARY_BY)} (cost is allocated to teams); '
                         f'got "{by}". Use cost_by(by="service") for cloud services.')
    _check(period, ("week", "month", "total"), "period")
    cost = _bucket(daily_cost(con, config, start, end, by=by), period, start)
    if cost.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object if c in ("scope", "period_start") else float)
                             for c in SUMMARY_COLUMNS})
    cost = cost[["scope", "period_start", "effective_cost", "billed_cost"]]
    from metrics import dora_metrics

    dora = dora_metrics(con, config, start, end, by=by, period=period)
    dora = dora[["scope", "period_start", "deployments", "changes_deployed"]].copy()
    dora["period_start"] = _as_dates(dora["period_start"])
    out = cost.merge(dora, on=["scope", "period_start"], how="left")
    out[["deployments", "changes_deployed"]] = out[["deployments", "changes_deployed"]].fillna(0).astype("int64")
    out = with_unit_costs(out)
    util = utilization_summary(con, config, start, end, by=by, period=period)
    util = util[["scope", "period_start", "utilization"]] if len(util) else \
        pd.DataFrame(columns=["scope", "period_start", "utilization"])
    out = out.merge(util, on=["scope", "period_start"], how="left")
    out["utilization"] = pd.to_numeric(out["utilization"], errors="coerce").astype(float)
    if scope is not None:
        out = out[out["scope"] == scope]
    out["scope"] = out["scope"].astype(object)
    out["period_start"] = pd.Series(list(out["period_start"]), index=out.index, dtype=object)
    out = out.sort_values(["scope", "period_start"], kind="mergesort").reset_index(drop=True)
    return out[SUMMARY_COLUMNS]


__all__ = ["commitment_summary", "cost_anomalies", "cost_by", "cost_forecast", "cost_summary", "daily_cost",
           "delivery_cost", "unit_cost", "with_unit_costs", "top_movers", "untagged_share", "utilization_summary", "UNALLOCATED"]
