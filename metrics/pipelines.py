"""CI pipeline figures (issue 18): pure functions ``(con, config, ...) -> DataFrame`` over
``pipeline_runs`` and ``pipeline_jobs``.

Definitions are in docs/metrics.md ("CI pipelines") and in metrics/sql/pipeline_facts.sql (the
facts) and pipeline_*.sql (one figure set per file). This module registers the team mapping and the
per-minute runner rates for the query and binds the parameters; nothing is written.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from cadence.core.clock import utcnow
from cadence.core.config import NO_TEAM, Config
from cadence.core.errors import CadenceError
from cadence.core.settings.pipelines import PipelineSettings
from metrics._sql import TEAM_MAP_VIEW, compose, range_params, run_with_views

BYS = ("org", "team", "repo", "workflow")
PERIODS = ("week", "month", "total")
# The keys of `cadence pipelines` (and the first columns of pipeline_summary), in this order.
SUMMARY_KEYS = ("scope", "runs", "success_rate", "flaky_rate", "duration_p50_minutes", "duration_p90_minutes",
                "queue_p50_minutes", "red_hours_default_branch", "feedback_p50_minutes", "ci_minutes", "ci_cost")
RATES_VIEW = "cadence_runner_rates"


class PipelineQueryError(CadenceError):
    """A pipelines request names an unknown grouping or period."""


def settings_of(config: Config) -> PipelineSettings:
    return config.pipelines if isinstance(config.pipelines, PipelineSettings) else PipelineSettings()


def _run(con: duckdb.DuckDBPyConnection, config: Config, final: str, start: date, end: date, *,
         by: str, period: str, scope: str | None, now: datetime | None) -> pd.DataFrame:
    if by not in BYS:
        raise PipelineQueryError(f'Unknown grouping "{by}"; use one of {", ".join(BYS)}.')
    if period not in PERIODS:
        raise PipelineQueryError(f'Unknown period "{period}"; use one of {", ".join(PERIODS)}.')
    settings = settings_of(config)
    params = range_params(config, start, end, by=by, scope=scope, period=period)
    params["default_branches"] = list(settings.default_branches)
    params["now_ts"] = now or utcnow()
    sql = _join(final)
    rows = config.team_rows()
    teams = pd.DataFrame({"team": pd.Series([r[0] for r in rows], dtype=object),
                          "kind": pd.Series([r[1] for r in rows], dtype=object),
                          "value": pd.Series([r[2] for r in rows], dtype=object)})
    rate_rows = settings.rate_rows()
    rates = pd.DataFrame({"kind": pd.Series([r[0] for r in rate_rows], dtype=object),
                          "name": pd.Series([r[1] for r in rate_rows], dtype=object),
                          "usd_per_minute": pd.Series([r[2] for r in rate_rows], dtype="float64")})
    return run_with_views(con, sql, params, {TEAM_MAP_VIEW: teams, RATES_VIEW: rates})


def _join(final: str) -> str:
    """The facts' CTEs, then the final file: its own CTEs (if it opens with one) and SELECT."""
    return compose(final, ("pipeline_facts",))


def pipeline_summary(con, config: Config, start: date, end: date, *, by: str = "org", period: str = "total",
                     scope: str | None = None, now: datetime | None = None) -> pd.DataFrame:
    """Per scope and period: the keys of ``SUMMARY_KEYS`` after ``period_start``, then the counts
    behind the rates (passed/failed/excluded/running attempts, failed and flaky pairs)."""
    df = _run(con, config, "pipeline_summary", start, end, by=by, period=period, scope=scope, now=now)
    for col in ("runs", "passed_attempts", "failed_attempts", "excluded_attempts", "running_attempts",
                "failed_pairs", "flaky_pairs"):
        df[col] = df[col].astype("int64")
    df["ci_minutes"] = df["ci_minutes"].astype("int64")
    df["period_start"] = pd.to_datetime(df["period_start"]).dt.date
    return df.reset_index(drop=True)


def pipeline_workflows(con, config: Config, start: date, end: date, *, by: str = "org",
                       scope: str | None = None, now: datetime | None = None) -> pd.DataFrame:
    """Per workflow of each scope: runs, success and flaky rates, durations, minutes and cost."""
    return _run(con, config, "pipeline_workflows", start, end, by=by, period="total", scope=scope, now=now)


def pipeline_red_spells(con, config: Config, start: date, end: date, *, by: str = "org",
                        scope: str | None = None, now: datetime | None = None) -> pd.DataFrame:
    """Default-branch red spells of the range, longest first, with breaking and fixing commits."""
    return _run(con, config, "pipeline_red_spells", start, end, by=by, period="total", scope=scope, now=now)


def pipeline_minutes(con, config: Config, start: date, end: date, *, by: str = "team",
                     scope: str | None = None, now: datetime | None = None) -> pd.DataFrame:
    """CI minutes and cost per scope and runner OS (self-hosted apart)."""
    df = _run(con, config, "pipeline_minutes", start, end, by=by, period="total", scope=scope, now=now)
    df["ci_minutes"] = df["ci_minutes"].astype("int64")
    return df


def pipeline_drilldown(con, config: Config, start: date, end: date, *, by: str = "org",
                       scope: str | None = None, now: datetime | None = None) -> pd.DataFrame:
    """The attempts of the range with their scope, verdict, duration, minutes, cost and link."""
    return _run(con, config, "pipeline_drilldown", start, end, by=by, period="total", scope=scope, now=now)


__all__ = ["BYS", "NO_TEAM", "PERIODS", "SUMMARY_KEYS", "PipelineQueryError", "pipeline_drilldown",
           "pipeline_minutes", "pipeline_red_spells", "pipeline_summary", "pipeline_workflows"]
