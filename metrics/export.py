"""The weekly export: metric and change tables as CSV that is stable, deterministic and safe to open
in a spreadsheet.

``cadence export`` and the dashboard's download buttons share this module: the tables come from
``export_metrics_table`` / ``export_changes_table`` (thin joins over ``metrics.dora_metrics``,
``metrics.drilldown`` and ``metrics.costs.cost_summary``), and every CSV byte comes from
``to_csv_bytes``. The format is fixed so that re-running an export over unchanged data gives
byte-identical files (docs/export.md is the reference; tests check that it lists ``METRICS_COLUMNS``
and ``CHANGES_COLUMNS``):

- UTF-8 without a byte-order mark, comma separated, ``\\n`` line endings, a header row;
- fields quoted only when they hold a comma, a double quote, CR or LF (RFC 4180 quoting);
- numbers with a fixed number of decimals per column, ``.`` as decimal point, no thousands
  separator, never ``-0.00``; integers without decimals; an empty field for "no value";
- dates ``YYYY-MM-DD``, times ``YYYY-MM-DD HH:MM:SS`` in UTC, booleans ``true``/``false``;
- rows in a fixed order (see each table), never the database's.

Text that comes from outside (titles, authors, labels, scope names) is neutralised against CSV
injection as OWASP advises: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
(or their full-width forms, which some spreadsheets also read as formulas) gets a leading ``'``, so a
spreadsheet shows it as text instead of running it. Numeric columns are written as numbers and never
touched, so ``-3.50`` stays a number. Values of the token environment variables are redacted from
text in case one was ever pasted into a title.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets as _secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from cadence.core.clock import utcnow
from cadence.core.config import NO_TEAM, Config
from cadence.core.scrub import REDACTED, secret_values  # noqa: F401 (re-exported)
from cadence.core.timerange import FIRST_DAY, LAST_DAY
from cadence.core.errors import ExportError

log = logging.getLogger(__name__)

BY_CHOICES = ("org", "team", "repo", "service")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


@dataclass(frozen=True)
class Column:
    """One documented export column: how it is written and what it means."""

    name: str
    kind: str            # text | int | float | date | timestamp | bool
    unit: str
    meaning: str
    decimals: int = 0


def _c(name, kind, unit, meaning, decimals=0) -> Column:
    return Column(name, kind, unit, meaning, decimals)


METRICS_COLUMNS: tuple[Column, ...] = (
    _c("period", "text", "ISO week", "The period, e.g. 2026-W47 (2026-11 for a month; start/end for a whole range)."),
    _c("period_start", "date", "date (UTC)", "First day of the period (the Monday of an ISO week)."),
    _c("scope", "text", "name", 'Team, repo or service; "all" for the whole organisation; "(no team)": '
                                "activity of repos and services no team owns."),
    _c("deployments", "int", "count", "Successful production deployments."),
    _c("deployment_days", "int", "days", "Distinct UTC dates with at least one deployment."),
    _c("deploys_per_week", "float", "deployments/week", "Deployments divided by the weeks of the period.", 2),
    _c("changes_deployed", "int", "count", "Changes (pull requests) shipped by those deployments."),
    _c("lead_time_p50_hours", "float", "hours", "Median lead time: first commit to production.", 2),
    _c("lead_time_p75_hours", "float", "hours", "75th percentile of lead time.", 2),
    _c("lead_time_p90_hours", "float", "hours", "90th percentile of lead time.", 2),
    _c("coding_p50_hours", "float", "hours", "Median first commit to pull request opened.", 2),
    _c("pickup_p50_hours", "float", "hours", "Median opened to first review.", 2),
    _c("review_p50_hours", "float", "hours", "Median first review (or opened) to merged.", 2),
    _c("deploy_p50_hours", "float", "hours", "Median merged to deployed.", 2),
    _c("failed_deployments", "int", "count", "Deployments that caused an incident or were rolled back."),
    _c("change_failure_rate", "float", "fraction 0-1", "failed_deployments / deployments.", 4),
    _c("incidents", "int", "count", "Incidents created in the period (open ones included)."),
    _c("open_incidents", "int", "count", "Of those, still open."),
    _c("recovery_time_p50_hours", "float", "hours", "Median recovery time of incidents attributed to a deployment.", 2),
    _c("mttr_p50_hours", "float", "hours", "Median recovery time of all resolved incidents.", 2),
    _c("rework_rate", "float", "fraction 0-1", "Share of deployments that were unplanned fixes.", 4),
    _c("band_deployment_frequency", "text", "band", "elite / high / medium / low."),
    _c("band_lead_time", "text", "band", "elite / high / medium / low."),
    _c("band_change_failure_rate", "text", "band", "elite / high / medium / low."),
    _c("band_recovery_time", "text", "band", "elite / high / medium / low."),
    _c("band_benchmark", "text", "year", "DORA benchmark year the bands come from (2021, 2023, 2024)."),
    _c("effective_cost", "float", "currency", "Amortized cost allocated to the scope (the default figure).", 2),
    _c("billed_cost", "float", "currency", "Cost as billed (before amortization).", 2),
    _c("cost_per_deployment", "float", "currency/deployment", "effective_cost / deployments.", 2),
    _c("cost_per_change", "float", "currency/change", "effective_cost / changes_deployed.", 2),
    _c("utilization", "float", "fraction 0-1", "Used / provisioned compute, weighted by cost.", 4),
    _c("ci_cost", "float", "USD", "CI minutes (each job rounded up to whole minutes) x the runner's per-minute "
                                  "rate; empty by service.", 2),
    _c("flaky_rate", "float", "fraction 0-1", "Of the (workflow, commit) pairs with a failed CI attempt, the share "
                                              "that later passed on the same commit; empty by service.", 4),
)

CHANGES_COLUMNS: tuple[Column, ...] = (
    _c("period", "text", "ISO week", "The exported period, e.g. 2026-W47."),
    _c("period_start", "date", "date (UTC)", "First day of the exported period."),
    _c("scope", "text", "name", 'Team, repo or service the change counts for; "all" by org; "(no team)" '
                                "when no team owns its repo or service."),
    _c("change_id", "text", "id", "Source-qualified change id."),
    _c("repo", "text", "owner/name", "Repository of the change."),
    _c("number", "int", "number", "Pull request number."),
    _c("title", "text", "text", "Pull request title (neutralised against formulas)."),
    _c("author", "text", "login", "Author login."),
    _c("labels", "text", "list", "Labels, sorted, separated by ';'."),
    _c("merged_at", "timestamp", "UTC", "When the change was merged."),
    _c("deployment_id", "text", "id", "The deployment that shipped it (empty: not yet deployed)."),
    _c("deployed_at", "timestamp", "UTC", "When that deployment finished."),
    _c("link", "text", "kind", "How the deployment was found: explicit / sha / inferred / none."),
    _c("lead_time_hours", "float", "hours", "First commit to deployed.", 2),
    _c("coding_hours", "float", "hours", "First commit to opened.", 2),
    _c("pickup_hours", "float", "hours", "Opened to first review.", 2),
    _c("review_hours", "float", "hours", "First review (or opened) to merged.", 2),
    _c("deploy_hours", "float", "hours", "Merged to deployed.", 2),
    _c("url", "text", "URL", "Link to the pull request."),
)

# The SLO file (issue 17): each declared SLO as of the end of the week (Sunday 24:00 UTC) over its own
# rolling window, per scope; the figures are those of `cadence slo` (metrics.slo, docs/metrics.md §9).
SLOS_COLUMNS: tuple[Column, ...] = (
    _c("period", "text", "ISO week", "The exported week; the figures are as of its Sunday 24:00 UTC."),
    _c("period_start", "date", "date (UTC)", "First day of the exported week."),
    _c("scope", "text", "name", 'The team owning the SLO\'s service ("(no team)": none), the service itself '
                                '(--by service or repo: SLOs belong to services), or "all" (--by org).'),
    _c("slo", "text", "name", "The SLO's name in cadence.toml."),
    _c("service", "text", "name", "The service it measures."),
    _c("objective", "float", "fraction 0-1", "The objective (99.9 % is 0.999).", 5),
    _c("window_days", "int", "days", "The SLO's rolling window."),
    _c("good", "float", "events", "Good events in the window.", 2),
    _c("total", "float", "events", "All events in the window (hours without data count as neither).", 2),
    _c("attainment", "float", "fraction 0-1", "good / total over the window; empty without events.", 6),
    _c("budget_remaining", "float", "fraction", "1 - (total - good) / ((1 - objective) x total); negative: "
                                                "overspent.", 4),
    _c("burn_rate_1h", "float", "x budget rate", "Bad share of the last hour / (1 - objective).", 2),
    _c("burn_rate_6h", "float", "x budget rate", "The same over the last 6 hours.", 2),
    _c("burn_rate_3d", "float", "x budget rate", "The same over the last 3 days.", 2),
    _c("status", "text", "status", "exhausted / fast-burn / slow-burn / ok / no-data."),
    _c("projected_exhaustion", "date", "date (UTC)", "When the budget runs out at the 3 d burn rate (empty: "
                                                     "not before the rate rises above 1)."),
    _c("budget_burned_by_change_failures", "float", "fraction of budget", "Bad events while a change failure of "
                                                                          "the service was open / the budget.", 4),
    _c("deployments_into_exhausted_budget", "int", "count", "Production deployments of the service in the "
                                                            "window while its budget was spent."),
)
SLOS_SPEC: dict[str, Column] = {c.name: c for c in SLOS_COLUMNS}
SLO_NAMES = [c.name for c in SLOS_COLUMNS]

METRIC_NAMES = [c.name for c in METRICS_COLUMNS]
CHANGE_NAMES = [c.name for c in CHANGES_COLUMNS]
_SPEC: dict[str, Column] = {c.name: c for c in (*METRICS_COLUMNS, *CHANGES_COLUMNS)}

_DORA_COLUMNS = [n for n in METRIC_NAMES[3:] if n != "band_benchmark"
                 and n not in ("effective_cost", "billed_cost", "cost_per_deployment",
                               "cost_per_change", "utilization", "ci_cost", "flaky_rate")]
_COST_COLUMNS = ["effective_cost", "billed_cost", "cost_per_deployment", "cost_per_change", "utilization"]
_COUNT_COLUMNS = ["deployments", "deployment_days", "changes_deployed", "failed_deployments",
                  "incidents", "open_incidents"]


# -- weeks ----------------------------------------------------------------------------------------

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def iso_weeks_in_year(year: int) -> int:
    """52 or 53: 28 December always lies in the last ISO week of its year."""
    return date(year, 12, 28).isocalendar().week


def parse_iso_week(text: str) -> tuple[date, date]:
    """``2026-W47`` → (Monday, Sunday) of that ISO week; ExportError for a malformed or absent week."""
    m = _WEEK_RE.match(text.strip())
    if not m:
        raise ExportError(f'Week "{text}" is not an ISO week; write it as YYYY-Www, e.g. 2026-W47.')
    year, week = int(m.group(1)), int(m.group(2))
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise ExportError(f'Week "{text}" is outside the dates Cadence computes with: weeks of '
                          f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}; pick one of those or use --last-week.")
    last = iso_weeks_in_year(year)
    if not 1 <= week <= last:
        raise ExportError(f'Week "{text}" does not exist: ISO year {year} has weeks W01 to W{last:02d}; '
                          f"pick one of those or use --last-week.")
    monday = date.fromisocalendar(year, week, 1)
    return monday, monday + timedelta(days=6)


def week_label(day: date) -> str:
    """The ISO week a date falls in, as ``YYYY-Www`` (the ISO year, which can differ at year ends)."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def last_complete_week(today: date | None = None) -> str:
    """The last ISO week that has fully ended in UTC: on any day of week N that is week N-1."""
    if today is None:
        today = utcnow().date()   # CADENCE_NOW pins it
    return week_label(today - timedelta(days=today.isoweekday()))


def period_label(start: date, end: date | None = None, period: str = "week") -> str:
    """Label of a period row: ISO week, ``YYYY-MM`` for a month, ``start/end`` for a whole range."""
    if period == "week":
        return week_label(start)
    if period == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if end is not None and start.isoweekday() == 1 and end == start + timedelta(days=6):
        return week_label(start)
    return f"{start.isoformat()}/{(end or start).isoformat()}"


def export_file_names(label: str) -> dict[str, str]:
    """The files of an export, named after the period (e.g. ``cadence-metrics-2026-W47.csv``); the
    SLO file is written only where SLOs are declared."""
    return {"metrics": f"cadence-metrics-{label}.csv", "changes": f"cadence-changes-{label}.csv",
            "slos": f"cadence-slos-{label}.csv"}


# -- tables ---------------------------------------------------------------------------------------

def _as_date(value) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def _check_by(by: str) -> None:
    if by not in BY_CHOICES:
        raise ExportError(f'Cannot export by "{by}"; choose one of {", ".join(BY_CHOICES)}.')


COST_BY = ("org", "team")   # cost is allocated to teams (metrics.costs), not to repos or services


def _cost_table(con, config: Config, start: date, end: date, by: str, period: str) -> pd.DataFrame:
    """Cost per scope and period; empty (cost columns left blank) when ``by`` is repo or service."""
    if by not in COST_BY:
        return pd.DataFrame(columns=["scope", "period_start", *_COST_COLUMNS])
    from metrics.costs import cost_summary

    df = cost_summary(con, config, start, end, by=by, period=period).copy()
    df["period_start"] = df["period_start"].map(_as_date)
    return df[["scope", "period_start", *[c for c in _COST_COLUMNS if c in df.columns]]]


PIPELINE_BY = ("org", "team", "repo")   # CI runs belong to repos (metrics.pipelines), not to services


def _with_pipelines(con, config: Config, merged: pd.DataFrame, start: date, end: date, by: str, period: str,
                    scope: str | None) -> pd.DataFrame:
    """CI cost and flaky rate (metrics.pipelines) of each exported scope and period; blank by service."""
    if by not in PIPELINE_BY:
        return merged.assign(ci_cost=None, flaky_rate=None)
    from metrics.pipelines import pipeline_summary

    ci = pipeline_summary(con, config, start, end, by=by, period=period, scope=scope)
    ci = ci[["scope", "period_start", "ci_cost", "flaky_rate"]].copy()
    ci["period_start"] = ci["period_start"].map(_as_date)
    return merged.merge(ci, on=["scope", "period_start"], how="outer", sort=False)


def export_metrics_table(con, config: Config, start: date, end: date, by: str = "team",
                         period: str = "week", benchmark: str | None = None,
                         scope: str | None = None) -> pd.DataFrame:
    """One row per scope and period: every DORA metric with its band, then cost, cost per
    deployment and utilization. Columns are exactly ``METRIC_NAMES``; rows sorted by
    period_start, then scope.

    A scope with cost or CI runs but no delivery activity still gets a row (counts 0, rates empty),
    so the export shows where money went even in a quiet week.
    """
    from metrics import dora_metrics

    _check_by(by)
    year = str(benchmark or config.benchmark)
    dora = dora_metrics(con, config, start, end, by=by, period=period, benchmark=year, scope=scope)
    dora = dora.copy()
    dora["period_start"] = dora["period_start"].map(_as_date)
    cost = _cost_table(con, config, start, end, by, period)
    if scope is not None:
        cost = cost[cost["scope"] == scope]
    cost = cost.drop(columns=[c for c in ("deployments", "changes_deployed") if c in cost.columns])
    merged = dora.merge(cost, on=["scope", "period_start"], how="outer", sort=False)
    merged = _with_pipelines(con, config, merged, start, end, by, period, scope)
    # Scopes present only in the cost or CI tables had no delivery activity: their counts are zero.
    for col in _COUNT_COLUMNS:
        merged[col] = merged[col].fillna(0).astype("Int64")
    merged["deploys_per_week"] = merged["deploys_per_week"].fillna(0.0)
    for col in _COST_COLUMNS:
        if col not in merged.columns:
            merged[col] = None
    merged["band_benchmark"] = year
    merged["period"] = [period_label(p, end, period) for p in merged["period_start"]]
    merged = merged.sort_values(["period_start", "scope"], kind="mergesort").reset_index(drop=True)
    return merged[METRIC_NAMES]


def _rows_with_ids(con, sql: str, rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """Run ``sql`` with the distinct ids of ``rows[column]`` registered as the view ``export_ids(id)``
    (a join: the ids are data, never spliced into the SQL; an Arrow string column scans fast and
    keeps its type when empty). A list parameter (``list_contains(?, id)``) took seconds for the
    hundreds of thousands of ids of a 12-week range on a large warehouse."""
    import pyarrow as pa

    from metrics._sql import run_with_views

    ids = rows[column].dropna().astype(str).unique() if len(rows) else []
    return run_with_views(con, sql, {}, {"export_ids": pa.table({"id": pa.array(ids, type=pa.string())})})


def export_changes_table(con, config: Config, start: date, end: date, by: str = "team",
                         scope: str | None = None) -> pd.DataFrame:
    """The changes behind the metrics of ``start``..``end`` (deployed in the range, or merged in it
    and not yet deployed), with title, author, labels and times. Columns are exactly
    ``CHANGE_NAMES``; rows sorted by scope, deployed_at (not deployed last), merged_at, change_id.
    """
    from metrics import drilldown

    _check_by(by)
    rows = drilldown(con, config, "changes", start, end, by=by, scope=scope)
    details = _rows_with_ids(
        con, "SELECT id AS change_id, number, title, author, labels, merged_at, url "
             "FROM changes WHERE id IN (SELECT id FROM export_ids)", rows, "change_id")
    deployed = _rows_with_ids(
        con, "SELECT id AS deployment_id, finished_at AS deployed_at FROM deployments "
             "WHERE id IN (SELECT id FROM export_ids)", rows, "deployment_id")
    table = rows.drop(columns=[c for c in ("number", "title", "author", "labels", "merged_at", "url",
                                           "deployed_at") if c in rows.columns])
    table = table.merge(details, on="change_id", how="left").merge(deployed, on="deployment_id",
                                                                   how="left")
    table["number"] = table["number"].astype("Int64")
    table["period"] = period_label(start, end, "total")
    table["period_start"] = start
    table = table.sort_values(["scope", "deployed_at", "merged_at", "change_id"],
                              kind="mergesort", na_position="last").reset_index(drop=True)
    return table[CHANGE_NAMES]


def export_slos_table(con, config: Config, start: date, end: date, by: str = "team") -> pd.DataFrame:
    """Every declared SLO as of ``end`` 24:00 UTC (``metrics.slo.slo_status``), one row per scope it
    belongs to: the teams owning its service (``(no team)`` when none does) by team, its service by
    service or repo, ``all`` by org. Columns are exactly ``SLO_NAMES``; rows sorted by scope, slo."""
    from metrics.slo import slo_status

    _check_by(by)
    status = slo_status(con, config, end)
    rows = []
    for row in status.to_dict("records"):
        if by == "org":
            scopes = ["all"]
        elif by == "team":
            scopes = list(config.teams_of("service", row["service"])) or [NO_TEAM]
        else:
            scopes = [row["service"]]
        rows += [{**row, "scope": scope} for scope in scopes]
    table = pd.DataFrame(rows, columns=[*status.columns, "scope"])
    table["period"] = period_label(start, end, "total")
    table["period_start"] = start
    table = table.sort_values(["scope", "slo"], kind="mergesort").reset_index(drop=True)
    return table[SLO_NAMES]


# -- CSV ------------------------------------------------------------------------------------------

def neutralise(text: str) -> str:
    """Prefix ``'`` to a text cell a spreadsheet would read as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _is_null(v) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _redact(text: str, scrub: Iterable[str]) -> str:
    for s in scrub:
        if s in text:
            log.warning("export: redacted a token value found in a text cell")
            text = text.replace(s, REDACTED)
    return text


def _decimals_for(name: str) -> int:
    """Decimals for a numeric column not in the export spec (dashboard tables), from its name."""
    if name.endswith(("_hours", "_days", "_cost", "_costs")) or "cost" in name:
        return 2
    return 4


def _infer_kind(name: str, series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    sample = next((v for v in series
                   if isinstance(v, (list, tuple, np.ndarray)) or not _is_null(v)), None)
    if isinstance(sample, (bool, np.bool_)):
        return "bool"
    if isinstance(sample, (int, np.integer)):
        return "int"
    if isinstance(sample, (float, np.floating)):
        return "float"
    if isinstance(sample, (datetime, pd.Timestamp)):
        return "timestamp"
    if isinstance(sample, date):
        return "date"
    return "text"


def _timestamp_cells(series: pd.Series) -> list[str]:
    ts = pd.to_datetime(series)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    text = np.datetime_as_string(ts.to_numpy(dtype="datetime64[s]"), unit="s")
    return ["" if t == "NaT" else t.replace("T", " ") for t in text.tolist()]


def _text_cells(values: np.ndarray, scrub: list[str]) -> list[str]:
    out = []
    for v in values:
        if isinstance(v, str):
            text = v
        elif isinstance(v, (list, tuple, np.ndarray)):
            text = ";".join(sorted(str(x) for x in v if not _is_null(x)))
        elif _is_null(v):
            out.append("")
            continue
        else:
            text = str(v)
        if scrub:
            text = _redact(text, scrub)
        if text.startswith(FORMULA_TRIGGERS):
            text = "'" + text
        out.append(_quote(text))
    return out


def _column_cells(series: pd.Series, col: Column, scrub: list[str]) -> list[str]:
    """Every cell of one column as its CSV field (quoted where needed); "" for no value."""
    kind = col.kind
    if kind == "float":
        arr = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        spec = f".{col.decimals}f"
        negative_zero = "-" + format(0.0, spec)
        cells = [format(x, spec) if math.isfinite(x) else "" for x in arr.tolist()]
        return [c[1:] if c == negative_zero else c for c in cells]   # never "-0.00"
    if kind == "timestamp":
        return _timestamp_cells(series)
    values = series.to_numpy(dtype=object)
    if kind == "text":
        return _text_cells(values, scrub)
    null = pd.isna(series).to_numpy()
    if kind == "int":
        if not all(n or float(v).is_integer() for v, n in zip(values, null, strict=True)):
            # a count column holding fractions (e.g. a forecast) is never truncated
            return _column_cells(series, Column(col.name, "float", col.unit, col.meaning, 2), scrub)
        return ["" if n else str(int(v)) for v, n in zip(values, null, strict=True)]
    if kind == "date":
        return ["" if n else _as_date(v).isoformat() for v, n in zip(values, null, strict=True)]
    return ["" if n else ("true" if bool(v) else "false") for v, n in zip(values, null, strict=True)]


def _quote(field: str) -> str:
    if "," in field or '"' in field or "\n" in field or "\r" in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def to_csv_bytes(df: pd.DataFrame, columns: Mapping[str, Column] | None = None) -> bytes:
    """The CSV of a table in Cadence's fixed export format (see the module docstring).

    Columns named in the export spec (or in ``columns``) are written as documented; any other
    column is typed from its values, so a dashboard table downloads the same way. Formatting runs
    column by column (see benchmarks/bench_export.py for its speed).
    """
    spec = dict(_SPEC)
    if columns:
        spec.update(columns)
    scrub = secret_values()
    cells = []
    for i, name in enumerate(df.columns):
        col = spec.get(name)
        if col is None:
            kind = _infer_kind(name, df.iloc[:, i])
            col = Column(name, kind, "", "", _decimals_for(name) if kind == "float" else 0)
        cells.append(_column_cells(df.iloc[:, i], col, scrub))
    lines = [",".join(_quote(neutralise(str(name))) for name in df.columns)]
    lines.extend(",".join(row) for row in zip(*cells, strict=True))
    if len(df.columns) == 1:  # an empty single field would be a blank line, which readers skip
        lines = [line or '""' for line in lines]
    return ("\n".join(lines) + "\n").encode("utf-8")


# -- writing --------------------------------------------------------------------------------------

def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a directory; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_files_atomically(out_dir: str | os.PathLike, files: Mapping[str, bytes]) -> list[Path]:
    """Write each file as a temp file in ``out_dir``, fsync it, then rename it over the target.

    A reader sees the old file or the whole new one, never a part. All temp files are written
    before the first rename, so a failure while writing (disk full) leaves every target as it was;
    on any failure the temp files are removed.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f'Output "{out}" is a file, not a directory; pass a directory to --out '
                          f"(or - for standard output).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f'Cannot create output directory "{out}": {exc.strerror}; '
                          f"check the path and its permissions.") from exc
    temps: list[tuple[Path, Path]] = []
    done: list[Path] = []
    try:
        for name, data in files.items():
            target = out / name
            tmp = out / f".{name}.{_secrets.token_hex(6)}.tmp"
            # os.open with 0o666 lets the umask decide the mode, as for any new file.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            temps.append((tmp, target))
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, target in temps:
            os.replace(tmp, target)
            done.append(target)
    except OSError as exc:
        for tmp, _ in temps:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        if done:   # some renames went through: say which files are new and which are not
            kept = [t.name for _, t in temps if t not in done]
            state = (f"{', '.join(p.name for p in done)} {'was' if len(done) == 1 else 'were'} replaced; "
                     f"{', '.join(kept)} {'was not (it keeps its' if len(kept) == 1 else 'were not (they keep their'} "
                     f"previous content). Check free space and permissions, then run the export again")
        else:
            state = "the previous files are unchanged. Check free space and permissions"
        raise ExportError(f'Cannot write the export to "{out}": {exc.strerror or exc}; {state}.') from exc
    _fsync_dir(out)
    return done


@dataclass
class ExportResult:
    label: str
    start: date
    end: date
    tables: dict[str, pd.DataFrame]
    payloads: dict[str, bytes]

    def file_names(self) -> dict[str, str]:
        return export_file_names(self.label)


def no_team_note(result: ExportResult, config: Config) -> str | None:
    """What of a by-team export's week belongs to no team ("(no team)" rows), in one line, or None.

    Tells "it happened outside your teams" apart from "nothing happened" (header-only files)."""
    table = result.tables.get("metrics")
    if table is None or table.empty:
        return None
    rows = table[table["scope"] == NO_TEAM]
    if rows.empty:
        return None
    counts = [(int(rows[col].sum()), noun) for col, noun in (("deployments", "deployment"),
                                                             ("changes_deployed", "change"),
                                                             ("incidents", "incident"))]
    parts = [f"{n} {noun}{'s' if n != 1 else ''}" + (" deployed" if noun == "change" else "") for n, noun in counts]
    what = ", ".join(parts[:-1]) + " and " + parts[-1]
    if not config.teams:
        return (f"No teams are configured, so all activity of {result.label} ({what}) is reported as "
                f'"{NO_TEAM}"; define [teams.NAME] with repos and services in cadence.toml '
                f"(docs/configuration.md).")
    return (f"{what} in {result.label} belong to repos and services no team owns, reported as "
            f'"{NO_TEAM}"; add them to a [teams.NAME] in cadence.toml.')


def build_export(con, config: Config, week: str, by: str = "team",
                 tables: Iterable[str] = ("metrics", "changes")) -> ExportResult:
    """Compute the tables of one ISO week and their CSV bytes; writes nothing."""
    _check_by(by)
    start, end = parse_iso_week(week)
    label = week_label(start)
    built: dict[str, pd.DataFrame] = {}
    wanted = list(tables)
    if "metrics" in wanted:
        built["metrics"] = export_metrics_table(con, config, start, end, by=by, period="week")
    if "changes" in wanted:
        built["changes"] = export_changes_table(con, config, start, end, by=by)
    if "slos" in wanted:
        built["slos"] = export_slos_table(con, config, start, end, by=by)
    payloads = {k: to_csv_bytes(v, SLOS_SPEC if k == "slos" else None) for k, v in built.items()}
    return ExportResult(label, start, end, built, payloads)
