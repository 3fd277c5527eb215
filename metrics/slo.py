"""SLOs and error budgets: pure functions ``(con, config, ...) -> DataFrame`` over ``sli_hours``.

Definitions are in docs/metrics.md ("SLOs and error budgets") and, one fact per file, in
metrics/sql/slo_*.sql and incident_availability*.sql. This module picks the as-of time, registers
the declared SLOs as ``cadence_slos`` for the query, and binds the parameters.

As of when: the end of the last complete UTC hour by default; ``at`` = a date means that date
24:00 UTC; a datetime means the end of the last complete hour at that moment.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from cadence.core.clock import day_end, hour_floor, utcnow
from cadence.core.config import NO_TEAM, Config
from cadence.core.errors import CadenceError
from cadence.core.settings.slos import SLO
from metrics._sql import compose, range_params, run_with_views

SLO_STATUS_COLUMNS = (
    "slo", "service", "objective", "window_days", "good", "total", "attainment", "budget_remaining",
    "burn_rate_1h", "burn_rate_6h", "burn_rate_3d", "status", "projected_exhaustion",
    "budget_burned_by_change_failures", "deployments_into_exhausted_budget",
)
STATUSES = ("no-data", "exhausted", "fast-burn", "slow-burn", "ok")
SLO_FRAGMENTS = ("valid_rows", "deployments", "incident_attribution", "slo_hours", "slo_change_failures",
                 "slo_deployment_budget")
SLO_VIEW = "cadence_slos"
BURN_DAYS = 3   # the longest burn-rate look-back


class SLOError(CadenceError):
    """An SLO request names an SLO or team that is not declared."""


def as_of(at: date | datetime | None = None, now: datetime | None = None) -> datetime:
    """The end of the hours the figures cover (naive UTC)."""
    if at is None:
        return hour_floor(now or utcnow())
    if isinstance(at, datetime):
        return hour_floor(at)
    return day_end(at)


def _slo_frame(slos: Sequence[SLO]) -> pd.DataFrame:
    return pd.DataFrame({
        "slo": pd.Series([s.name for s in slos], dtype=object),
        "service": pd.Series([s.service for s in slos], dtype=object),
        "objective": pd.Series([s.target for s in slos], dtype="float64"),
        "budget_fraction": pd.Series([s.budget_fraction for s in slos], dtype="float64"),
        "window_days": pd.Series([s.window_days for s in slos], dtype="int32"),
    })


def _select(config: Config, team: str | None = None, slo: str | None = None) -> list[SLO]:
    slos = list(config.slos)
    if slo is not None:
        slos = [s for s in slos if s.name == slo]
        if not slos:
            known = ", ".join(s.name for s in config.slos) or "none declared"
            raise SLOError(f'Unknown SLO "{slo}"; declared SLOs: {known}.')
    if team is not None:
        services = set(_services(config, team))
        if team == NO_TEAM:  # the SLOs of services no team owns
            owned = set(_services(config, None))
            slos = [s for s in slos if s.service not in owned]
        else:
            slos = [s for s in slos if s.service in services]
    return slos


def _attribution_start(con: duckdb.DuckDBPyConnection, at: datetime, days: int) -> datetime:
    """Where incident attribution must start so every incident open in the windows is included."""
    window_start = at - timedelta(days=days)
    earliest = con.execute(
        "SELECT min(created_at) FROM incidents WHERE created_at < ? "
        "AND coalesce(resolved_at, 'infinity'::TIMESTAMP) > ?", [at, window_start]).fetchall()[0][0]
    return min(window_start, earliest) if earliest is not None else window_start


def _run(con: duckdb.DuckDBPyConnection, config: Config, final: str, slos: Sequence[SLO],
         at: datetime) -> pd.DataFrame:
    sql = compose(final, SLO_FRAGMENTS)
    longest = max([s.window_days for s in slos] + [BURN_DAYS])
    start = _attribution_start(con, at, longest)
    params = range_params(config, start.date(), at.date())
    params.update({"start_ts": start, "end_ts": at, "at_ts": at})
    return run_with_views(con, sql, params, {SLO_VIEW: _slo_frame(slos)})


def slo_status(con: duckdb.DuckDBPyConnection, config: Config, at: date | datetime | None = None, *,
               team: str | None = None, now: datetime | None = None) -> pd.DataFrame:
    """One row per declared SLO (of ``team``'s services when given), with exactly the keys of
    ``cadence slo``: attainment, budget remaining, burn rates, status, projected exhaustion, and
    what change failures and deployments did to the budget. Fractions, not percents."""
    slos = _select(config, team)
    if not slos:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SLO_STATUS_COLUMNS})
    df = _run(con, config, "slo_status", slos, as_of(at, now))
    df["window_days"] = df["window_days"].astype("int64")
    df["deployments_into_exhausted_budget"] = df["deployments_into_exhausted_budget"].astype("int64")
    df["projected_exhaustion"] = [None if pd.isna(v) else pd.Timestamp(v).date()
                                  for v in df["projected_exhaustion"]]
    return df[list(SLO_STATUS_COLUMNS)]


def slo_burndown(con: duckdb.DuckDBPyConnection, config: Config, slo: str,
                 at: date | datetime | None = None, *, now: datetime | None = None) -> pd.DataFrame:
    """Hour by hour over ``slo``'s window: good, total, bad (NULL in gaps), the budget remaining
    since the window's start, and the hours a change failure was open (the burn-down chart)."""
    return _run(con, config, "slo_burndown", _select(config, slo=slo), as_of(at, now))


def slo_drilldown(con: duckdb.DuckDBPyConnection, config: Config, kind: str,
                  at: date | datetime | None = None, *, slo: str | None = None, team: str | None = None,
                  now: datetime | None = None) -> pd.DataFrame:
    """The rows behind the figures: ``deployments`` (each production deployment in the window with
    the budget left while it deployed) or ``incidents`` (the change failures in the burn)."""
    if kind not in ("deployments", "incidents"):
        raise SLOError(f'Unknown SLO drill-down "{kind}"; use deployments or incidents.')
    slos = _select(config, team, slo) if slo else _select(config, team)
    if not slos:
        return pd.DataFrame()
    return _run(con, config, f"slo_drilldown_{kind}", slos, as_of(at, now))


def _services(config: Config, team: str | None) -> list[str]:
    if team == NO_TEAM:  # "(no team)": no configured service is unowned by definition
        return []
    if team is not None:
        return list(config.require_team(team).services)
    return sorted({s for t in config.teams.values() for s in t.services})


def incident_availability(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date, *,
                          team: str | None = None) -> pd.DataFrame:
    """Per service over [start, end] (whole UTC days): the share of time with no open incident,
    beside the incident hours behind it; ``has_slo`` marks services with a declared SLO."""
    if end < start:
        raise SLOError(f"end {end} is before start {start}; give an end on or after the start.")
    params = range_params(config, start, end)
    params["services"] = _services(config, None)
    sql = compose("incident_availability", ("valid_rows",))
    df = run_with_views(con, sql, params, {SLO_VIEW: _slo_frame(config.slos)})
    df["incidents"] = df["incidents"].astype("int64")
    if team is not None:
        df = df[df["service"].isin(set(_services(config, team)))].reset_index(drop=True)
    return df


def incident_availability_incidents(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                                    *, service: str | None = None) -> pd.DataFrame:
    """The incidents behind ``incident_availability`` (of one service when given)."""
    sql = compose("incident_availability_incidents", ("valid_rows",))
    df = run_with_views(con, sql, range_params(config, start, end), {})
    if service is not None:
        df = df[df["service"] == service].reset_index(drop=True)
    return df
