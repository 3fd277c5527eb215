"""The DORA metrics and their drill-downs: pure functions ``(con, config, ...) -> DataFrame``.

Definitions are in docs/metrics.md and, one fact per file, in metrics/sql/. This module only
validates arguments, binds parameters, and adds the performance bands.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from cadence.core.config import Config
from cadence.core.errors import CadenceError
from cadence.core.timerange import day_option_problem
from metrics import bands
from metrics._sql import compose, range_params, run_query
from metrics.facts import facts_for, run_on_facts

log = logging.getLogger(__name__)

BY_CHOICES = ("org", "team", "repo", "service")
PERIOD_CHOICES = ("week", "month", "total")
DRILLDOWN_KINDS = ("changes", "deployments", "incidents")

DORA_COLUMNS = (
    "scope", "period_start", "deployments", "deployment_days", "deploys_per_week",
    "changes_deployed", "lead_time_p50_hours", "lead_time_p75_hours", "lead_time_p90_hours",
    "coding_p50_hours", "pickup_p50_hours", "review_p50_hours", "deploy_p50_hours",
    "failed_deployments", "change_failure_rate", "incidents", "open_incidents",
    "recovery_time_p50_hours", "mttr_p50_hours", "rework_rate", "band_deployment_frequency",
    "band_lead_time", "band_change_failure_rate", "band_recovery_time",
)
INT_COLUMNS = ("deployments", "deployment_days", "changes_deployed", "failed_deployments",
               "incidents", "open_incidents")
DRILLDOWN_COLUMNS = {
    "changes": ("scope", "change_id", "repo", "deployment_id", "link", "lead_time_hours",
                "coding_hours", "pickup_hours", "review_hours", "deploy_hours"),
    "deployments": ("scope", "deployment_id", "repo", "service", "finished_at", "failed",
                    "failure_reasons", "rework", "rework_reasons"),
    "incidents": ("scope", "incident_id", "service", "created_at", "resolved_at", "deployment_id",
                  "attribution"),
}
# band column -> (bands metric, source column, factor turning the source into the band's unit)
BAND_SOURCES = {
    "band_deployment_frequency": ("deployment_frequency", "deploys_per_week", 1 / 7),
    "band_lead_time": ("lead_time", "lead_time_p50_hours", 1.0),
    "band_change_failure_rate": ("change_failure_rate", "change_failure_rate", 1.0),
    "band_recovery_time": ("recovery_time", "recovery_time_p50_hours", 1.0),
}


class MetricsError(CadenceError):
    """A metrics request has a bad argument (unknown grouping, period, benchmark or dates)."""


def _as_date(value, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise MetricsError(f"{name} {value!r} is not a date; give it as YYYY-MM-DD.")


def _check_range(start, end) -> tuple[date, date]:
    start, end = _as_date(start, "start"), _as_date(end, "end")
    for name, day in (("start", start), ("end", end)):
        problem = day_option_problem(day)
        if problem:
            raise MetricsError(f"{name} {problem}")
    if end < start:
        raise MetricsError(f"end {end} is before start {start}; give an end on or after the start.")
    return start, end


def _check_choice(value: str, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise MetricsError(f'{name} "{value}" is not one of {", ".join(choices)}.')
    return value


def _resolve_benchmark(config: Config, benchmark) -> tuple[str, Mapping | None]:
    """(year, overrides): ``benchmark`` is a year, a dict of threshold overrides, or None."""
    if benchmark is None:
        return str(config.benchmark), None
    if isinstance(benchmark, Mapping):
        overrides = dict(benchmark)
        year = str(overrides.pop("year", config.benchmark))
        return year, overrides
    return str(benchmark), None


def add_bands(df: pd.DataFrame, year: str, overrides: Mapping | None = None) -> pd.DataFrame:
    """Add the four band columns to a frame of DORA metrics (None where the metric is missing)."""
    bands.thresholds(year, overrides)  # validates year and overrides once, even for no rows
    for column, (metric, source, factor) in BAND_SOURCES.items():
        df[column] = pd.Series(
            [bands.band_for(metric, None if pd.isna(v) else float(v) * factor, year, overrides)
             for v in df[source]], index=df.index, dtype=object)
    return df


def dora_metrics(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                 by: str = "org", period: str = "week", benchmark=None,
                 scope: str | None = None) -> pd.DataFrame:
    """The five DORA keys and their bands per scope and period, over [start, end] (end inclusive).

    One row per (scope, period) with any deployment, deployed change or incident; sorted by scope,
    period_start. ``by`` org gives scope "all"; ``benchmark`` names the band year (default
    config.benchmark) or is a dict of threshold overrides (optionally with "year").
    """
    return dora_metrics_views(con, config, ((start, end, period),), by=by, benchmark=benchmark,
                              scope=scope)[0]


def dora_metrics_views(con: duckdb.DuckDBPyConnection, config: Config,
                       views: Sequence[tuple[date, date, str]], by: str = "org", benchmark=None,
                       scope: str | None = None) -> list[pd.DataFrame]:
    """``dora_metrics`` for several (start, end, period) views at once, one frame per view.

    The derived facts (change links, incident attribution, deployment outcomes) are computed once
    for the range covering every view, which is most of a query's cost on a large warehouse; each
    frame equals what ``dora_metrics(con, config, start, end, by, period, benchmark, scope)`` gives.
    The Overview uses it for its period, the previous period and the trend.
    """
    if not views:
        raise MetricsError("no views given; pass at least one (start, end, period).")
    checked = []
    for view in views:
        if len(view) != 3:
            raise MetricsError(f"view {view!r} is not (start, end, period).")
        start, end = _check_range(view[0], view[1])
        checked.append((start, end, _check_choice(view[2], PERIOD_CHOICES, "period")))
    _check_choice(by, BY_CHOICES, "by")
    year, overrides = _resolve_benchmark(config, benchmark)
    params = range_params(config, min(v[0] for v in checked), max(v[1] for v in checked),
                          by=by, scope=scope)
    params["view_starts"] = [v[0] for v in checked]
    params["view_ends"] = [v[1] + timedelta(days=1) for v in checked]
    params["view_periods"] = [v[2] for v in checked]
    facts = facts_for(con, config, params["start_date"], max(v[1] for v in checked), covering=True)
    if facts is not None:   # every view counts only its own range's rows: covering facts give the same
        params.update(range_params(config, facts.start, facts.end, by=by, scope=scope))
        df = run_on_facts(con, config, facts, "dora_metrics", params)
    else:
        df = run_query(con, config, compose("dora_metrics"), params)
    frames = []
    for number, (start, end, period) in enumerate(checked):
        frames.append(_finish_dora(df[df["view_no"] == number].drop(columns="view_no"), year, overrides))
        log.debug("dora_metrics %s..%s by %s per %s: %d rows", start, end, by, period, len(frames[-1]))
    return frames


def _finish_dora(df: pd.DataFrame, year: str, overrides: Mapping | None) -> pd.DataFrame:
    """Types and bands of one view's rows, in the column order of ``DORA_COLUMNS``."""
    df = df.reset_index(drop=True)
    if len(df):
        df["period_start"] = pd.Series([ts.date() if hasattr(ts, "date") else ts
                                        for ts in df["period_start"]], index=df.index, dtype=object)
    else:
        df["period_start"] = pd.Series([], dtype=object)
    for column in INT_COLUMNS:
        df[column] = df[column].astype("int64")
    float_columns = [c for c in DORA_COLUMNS[2:] if c not in INT_COLUMNS and not c.startswith("band_")]
    for column in float_columns:
        df[column] = df[column].astype("float64")
    df["scope"] = df["scope"].astype(object)
    df = add_bands(df, year, overrides)
    return df.loc[:, list(DORA_COLUMNS)].reset_index(drop=True)


def drilldown(con: duckdb.DuckDBPyConnection, config: Config, kind: str, start: date, end: date,
              by: str = "org", scope: str | None = None) -> pd.DataFrame:
    """The rows behind the DORA numbers of [start, end]: changes, deployments or incidents.

    changes: those deployed in the range, and those merged in it that no deployment has shipped
    (link "none"); deployments: the range's successful production deployments with why each
    failed or is rework; incidents: those created in the range with their attribution.
    """
    start, end = _check_range(start, end)
    _check_choice(kind, DRILLDOWN_KINDS, "kind")
    _check_choice(by, BY_CHOICES, "by")
    params = range_params(config, start, end, by=by, scope=scope, with_merged=(kind == "changes"))
    facts = facts_for(con, config, start, end, with_merged=(kind == "changes"))
    if facts is not None:
        df = run_on_facts(con, config, facts, f"drilldown_{kind}", params)
    else:
        df = run_query(con, config, compose(f"drilldown_{kind}"), params)
    for column in df.columns:
        if column.endswith("_hours"):
            df[column] = df[column].astype("float64")
        elif column in ("failed", "rework"):
            df[column] = df[column].astype(bool)
        elif not column.endswith("_at"):
            df[column] = df[column].astype(object).where(df[column].notna(), None)
    return df.loc[:, list(DRILLDOWN_COLUMNS[kind])].reset_index(drop=True)


__all__ = ["BY_CHOICES", "DORA_COLUMNS", "DRILLDOWN_COLUMNS", "DRILLDOWN_KINDS", "MetricsError",
           "PERIOD_CHOICES", "add_bands", "dora_metrics", "dora_metrics_views", "drilldown"]
