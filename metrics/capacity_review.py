"""The quarterly capacity review: where engineering time went (investment balance), who was there to
do it (active contributors), what next quarter costs (one scenario forecast) and where money idles
(right-sizing).

Pure functions ``(con, config, ...) -> DataFrame`` like the other metrics; the Capacity page, the
``cadence report capacity`` document and any export call these, so they show the same numbers.
Definitions are in docs/metrics.md ("Capacity review"); SQL in metrics/sql/review_*.sql.

- Bots (authors matching ``exclude_authors``) are left out of lead time (in the DORA SQL itself),
  of the investment balance and of contributor counts, and counted apart (``bot_changes``).
- The next-quarter forecast has one definition, ``next_quarter_forecast``: the linear trend of
  ``metrics.capacity.capacity_table`` scaled by the scenario (traffic growth on the usage-driven
  part of cost, the planned change in contributors on the human part of throughput). With no growth
  and no change it equals the trend forecast.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from cadence.core.settings.capacity import CATEGORIES, InvestmentSettings, author_pattern
from cadence.core.config import NO_TEAM, Config
from cadence.core.errors import CadenceError
from metrics._sql import compose, range_params, run_query
from metrics.capacity import _next_month, capacity_table, quarter_label, quarter_of

log = logging.getLogger(__name__)

CHANGE_COLUMNS = ("team", "quarter", "change_id", "repo", "number", "title", "author", "labels", "url",
                  "merged_at", "deployed_at", "is_bot", "category", "rule", "reason", "coding_hours",
                  "lead_time_hours")
BALANCE_COLUMNS = ("team", "quarter", "quarter_start", "category", "changes", "share_by_count",
                   "coding_hours", "share_by_effort")
CONTRIBUTOR_COLUMNS = ("team", "quarter", "quarter_start", "days", "active_contributors", "changes_shipped",
                       "bot_changes", "contributor_weeks", "changes_per_contributor_week")
FORECAST_COLUMNS = ("team", "quarter", "quarter_start", "trend_changes", "bot_share", "contributors",
                    "contributor_change", "changes_forecast", "trend_cost", "usage_share", "traffic_growth",
                    "cost_forecast")
RIGHT_SIZING_COLUMNS = ("team", "compute_cost", "utilization", "cost_of_idle", "target_utilization",
                        "cost_at_target", "idle_at_target", "saving", "commitment_coverage",
                        "commitment_utilization")


class ReviewError(CadenceError):
    """A capacity-review request has a bad argument (quarter, growth, contributor change)."""


# -- quarters --------------------------------------------------------------------------------------

def parse_quarter(text: str) -> date:
    """The first day of a quarter written ``YYYY-Qn`` (e.g. 2026-Q4 → 2026-10-01)."""
    raw = str(text).strip().upper()
    try:
        year, q = raw.split("-Q")
        year_no, q_no = int(year), int(q)
    except ValueError:
        raise ReviewError(f'quarter "{text}" is not YYYY-Qn; write it like 2026-Q4.') from None
    if not 1 <= q_no <= 4 or not 1970 <= year_no <= 9998:
        raise ReviewError(f'quarter "{text}" is not YYYY-Qn with n from 1 to 4; write it like 2026-Q4.')
    return date(year_no, 3 * q_no - 2, 1)


def quarter_end(q: date) -> date:
    """The last day of the quarter starting ``q``."""
    return _next_month(_next_month(_next_month(q))) - timedelta(days=1)


def previous_quarters(q: date, n: int) -> list[date]:
    """The ``n`` quarter starts ending with ``q``, oldest first."""
    out = [q]
    while len(out) < n:
        out.insert(0, quarter_of(out[0] - timedelta(days=1)))
    return out


def _quarter_days(quarters: pd.Series, start: date, end: date) -> list[int]:
    """Days of each quarter inside [start, end]."""
    return [(min(quarter_end(q), end) - max(q, start)).days + 1 for q in quarters]


# -- investment balance ---------------------------------------------------------------------------

def classify(labels, title: str | None, *, rework: bool, incident: bool,
             settings: InvestmentSettings, rework_labels=()) -> tuple[str, str, str]:
    """(category, rule, reason) of one change: rework and incident-linked changes are unplanned
    whatever their label; otherwise the first ``[investment]`` rule whose label or title prefix
    matches (labels and titles compared in lower case); otherwise the default category."""
    have = {str(x).lower() for x in (labels if labels is not None else [])}
    text = (title or "").strip().lower()
    if rework:
        hit = sorted(have & {x.lower() for x in rework_labels})
        why = f'rework label "{hit[0]}"' if hit else 'title starts with "revert"'
        return "unplanned", "rework", why
    if incident:
        return "unplanned", "incident", "shipped while an incident of its service was open"
    for number, rule in enumerate(settings.rules, start=1):
        hit = next((label for label in rule.labels if label in have), None)
        if hit is not None:
            return rule.category, f"rule {number}", f'label "{hit}"'
        prefix = next((p for p in rule.title_prefixes if text.startswith(p)), None)
        if prefix is not None:
            return rule.category, f"rule {number}", f'title starts with "{prefix}"'
    return settings.default, "default", "no rule matched"


def review_changes(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                   team: str | None = None) -> pd.DataFrame:
    """Every change shipped in [start, end] per team, with its investment category, the rule that
    matched and why (``CHANGE_COLUMNS``); bots' changes are kept, flagged ``is_bot`` and classified
    as "bot" (they count in no share). Sorted by team, deployed_at."""
    params = range_params(config, start, end, by="team", scope=team)
    df = run_query(con, config, compose("review_changes"), params)
    settings = config.review.investment
    out = []
    for row in df.itertuples(index=False):
        if row.is_bot:
            category, rule, reason = "bot", "exclude_authors", "author matches exclude_authors"
        else:
            category, rule, reason = classify(row.labels, row.title, rework=bool(row.is_rework_change),
                                              incident=bool(row.during_open_incident), settings=settings,
                                              rework_labels=config.rework_labels)
        out.append((category, rule, reason))
    df["category"] = [c for c, _, _ in out]
    df["rule"] = [r for _, r, _ in out]
    df["reason"] = [r for _, _, r in out]
    df["team"] = df["scope"].astype(object)
    df["quarter"] = [quarter_label(quarter_of(pd.Timestamp(t).date())) for t in df["deployed_at"]]
    df["labels"] = [list(x) if x is not None and not isinstance(x, float) else [] for x in df["labels"]]
    for column in ("coding_hours", "lead_time_hours"):
        df[column] = df[column].astype("float64")
    df["is_bot"] = df["is_bot"].astype(bool)
    return df.loc[:, list(CHANGE_COLUMNS)].reset_index(drop=True)


def investment_balance(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                       team: str | None = None) -> pd.DataFrame:
    """Per team, quarter and category (feature, maintenance, unplanned, other; every one present,
    zero when empty): human changes shipped, their share by count, their summed coding span (first
    commit → opened, the proxy for effort) and its share. Bots are left out."""
    changes = review_changes(con, config, start, end, team=team)
    return balance_of(changes, start, end)


def balance_of(changes: pd.DataFrame, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """The investment balance of a ``review_changes`` frame (see ``investment_balance``)."""
    human = changes[~changes["is_bot"].astype(bool)]
    if human.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in BALANCE_COLUMNS})
    grid = pd.MultiIndex.from_product([sorted(human["team"].unique()), sorted(human["quarter"].unique()),
                                       list(CATEGORIES)], names=["team", "quarter", "category"])
    agg = (human.assign(effort=human["coding_hours"].fillna(0.0))
           .groupby(["team", "quarter", "category"]).agg(changes=("change_id", "size"), coding_hours=("effort", "sum")))
    out = agg.reindex(grid, fill_value=0).reset_index()
    # A team with no change in a quarter has no row at all (not four zero rows).
    seen = human.groupby(["team", "quarter"]).size()
    out = out[[(t, q) in seen.index for t, q in zip(out["team"], out["quarter"], strict=True)]]
    totals = out.groupby(["team", "quarter"])[["changes", "coding_hours"]].transform("sum")
    out["changes"] = out["changes"].astype("int64")
    out["coding_hours"] = out["coding_hours"].astype("float64")
    out["share_by_count"] = out["changes"] / totals["changes"].where(totals["changes"] > 0)
    out["share_by_effort"] = out["coding_hours"] / totals["coding_hours"].where(totals["coding_hours"] > 0)
    out["quarter_start"] = [parse_quarter(q) for q in out["quarter"]]
    order = {c: i for i, c in enumerate(CATEGORIES)}
    out = out.sort_values(["team", "quarter_start"], kind="mergesort")
    out = out.iloc[np.lexsort((out["category"].map(order), out["quarter"], out["team"]))]
    return out.loc[:, list(BALANCE_COLUMNS)].reset_index(drop=True)


# -- contributors and bots ------------------------------------------------------------------------

def contributor_rows(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> pd.DataFrame:
    """The changes merged in [start, end] per team (by repo owner) with author and is_bot."""
    params = range_params(config, start, end)
    sql = compose("review_contributors", ("valid_rows",))
    return run_query(con, config, sql, params)


def contributors(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                 team: str | None = None) -> pd.DataFrame:
    """Per team and quarter: active contributors (distinct human authors with at least one change
    merged in the quarter), human changes shipped, bot changes shipped (counted apart), and human
    changes shipped per contributor-week (weeks = the quarter's days inside the range ÷ 7).

    A capacity denominator for the team, never a per-person figure: no function here returns one.
    """
    return contributors_of(contributor_rows(con, config, start, end), review_changes(con, config, start, end, team=team),
                           start, end, team)


def contributors_of(merged: pd.DataFrame, shipped: pd.DataFrame, start: date, end: date,
                    team: str | None = None) -> pd.DataFrame:
    """``contributors`` from ``contributor_rows`` and ``review_changes`` frames already read."""
    if team is not None:
        merged = merged[merged["team"] == team]
    merged = merged.assign(quarter=[quarter_label(quarter_of(pd.Timestamp(t).date())) for t in merged["merged_at"]])
    people = (merged[~merged["is_bot"].astype(bool)].groupby(["team", "quarter"])["author"]
              .nunique().rename("active_contributors"))
    human = shipped[~shipped["is_bot"]].groupby(["team", "quarter"]).size().rename("changes_shipped")
    bots = shipped[shipped["is_bot"]].groupby(["team", "quarter"]).size().rename("bot_changes")
    out = pd.concat([people, human, bots], axis=1).fillna(0).reset_index()
    if out.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in CONTRIBUTOR_COLUMNS})
    out = out.rename(columns={"level_0": "team", "level_1": "quarter"})
    for column in ("active_contributors", "changes_shipped", "bot_changes"):
        out[column] = out[column].astype("int64")
    out["quarter_start"] = [parse_quarter(q) for q in out["quarter"]]
    out["days"] = _quarter_days(out["quarter_start"], start, end)
    out["contributor_weeks"] = out["active_contributors"] * out["days"] / 7.0
    out["changes_per_contributor_week"] = out["changes_shipped"] / out["contributor_weeks"].where(
        out["contributor_weeks"] > 0)
    out = out.sort_values(["team", "quarter_start"], kind="mergesort")
    return out.loc[:, list(CONTRIBUTOR_COLUMNS)].reset_index(drop=True)


def bot_changes(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                by: str = "org", scope: str | None = None) -> int:
    """How many changes shipped in [start, end] are bots' (left out of lead time): the count a page
    shows as "bot changes: N, excluded" so nothing disappears silently."""
    from metrics.facts import facts_for, run_on_facts

    params = range_params(config, start, end, by=by, scope=scope)
    facts = facts_for(con, config, start, end)
    df = (run_on_facts(con, config, facts, "bot_changes", params) if facts is not None
          else run_query(con, config, compose("bot_changes"), params))
    return int(df["bot_changes"].iloc[0])


def review_overview(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                    team: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(investment balance, contributors, review changes) of [start, end] from one read of the
    changes shipped: what the Capacity page shows, at the cost of one query instead of three."""
    changes = review_changes(con, config, start, end, team=team)
    people = contributors_of(contributor_rows(con, config, start, end), changes, start, end, team)
    return balance_of(changes), people, changes


# -- next quarter: one forecast, scaled by the scenario ----------------------------------------------

@dataclass(frozen=True)
class Scenario:
    """Next quarter's assumptions: traffic growth in percent, and the planned change in active
    contributors per team (missing teams: no change)."""

    traffic_growth: float = 0.0
    contributor_change: Mapping[str, int] | None = None

    def change_for(self, team: str) -> int:
        return int((self.contributor_change or {}).get(team, 0))

    def key(self) -> tuple:
        return (float(self.traffic_growth), tuple(sorted((self.contributor_change or {}).items())))


def default_scenario(config: Config) -> Scenario:
    return Scenario(traffic_growth=config.review.capacity.traffic_growth)


def check_scenario(traffic_growth: float, contributor_change: Mapping[str, int] | None) -> None:
    if not -100 <= float(traffic_growth) <= 1000:
        raise ReviewError(f"traffic growth {traffic_growth} % is outside -100 % .. 1000 %; give a percentage "
                          "such as 15.")
    for team, n in (contributor_change or {}).items():
        if int(n) != n or not -1000 <= n <= 1000:
            raise ReviewError(f'contributor change for team "{team}" must be a whole number of people, got {n!r}.')


def usage_shares(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date) -> pd.DataFrame:
    """Per allocated team: effective cost in [start, end], its usage-driven part and share
    (``[capacity] usage_driven_categories`` / ``usage_driven_services``)."""
    from metrics.costs import COST_FRAGMENTS, _params, _run

    settings = config.review.capacity
    params = _params(config, start, end, usage_categories=list(settings.usage_driven_categories),
                     usage_services=list(settings.usage_driven_services))
    df = _run(con, config, compose("review_usage_cost", COST_FRAGMENTS), params)
    df["usage_cost"] = df["usage_cost"].astype("float64").fillna(0.0)
    df["usage_share"] = df["usage_cost"] / df["effective_cost"].where(df["effective_cost"] > 0)
    df["scope"] = df["scope"].astype(object)
    return df


def scenario_arithmetic(trend_changes: float, bot_share: float, contributors_now: int, contributor_change: int,
                        trend_cost: float, usage_share: float, traffic_growth_pct: float) -> tuple[float, float]:
    """(changes_forecast, cost_forecast) of one team.

    changes = trend × (human share × (contributors + change) ÷ contributors + bot share): human
    throughput scales with the people there to do it, bots' does not; with no contributors today
    only a zero change keeps the trend (otherwise unknown, NaN).
    cost = trend × (1 + usage share × growth): only the usage-driven part follows traffic.
    """
    bot_share = 0.0 if pd.isna(bot_share) else float(bot_share)
    if contributor_change == 0:
        factor = 1.0
    elif contributors_now > 0:
        factor = (1 - bot_share) * max(contributors_now + contributor_change, 0) / contributors_now + bot_share
    else:
        factor = float("nan")
    usage = 0.0 if pd.isna(usage_share) else float(usage_share)
    cost = trend_cost * (1 + usage * traffic_growth_pct / 100.0)
    return trend_changes * factor, cost


def next_quarter_forecast(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                          traffic_growth: float = 0.0, contributor_change: Mapping[str, int] | None = None,
                          table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per team: the quarter after the one holding ``end``, under a scenario (``FORECAST_COLUMNS``).

    trend_* are the forecast rows of ``capacity_table`` over [start, end] (pass ``table`` to reuse
    one already computed); bot_share and contributors are of the quarter holding ``end``, usage_share
    of cost over that same quarter (to ``end``). The only next-quarter forecast Cadence shows.
    """
    check_scenario(traffic_growth, contributor_change)
    table = capacity_table(con, config, start, end) if table is None else table
    base = table[table["is_forecast"].astype(bool)]
    if base.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in FORECAST_COLUMNS})
    q_now = quarter_of(end)
    people = contributors(con, config, q_now, end).set_index("team")
    usage = usage_shares(con, config, q_now, end).set_index("scope")
    rows = []
    for r in base.itertuples(index=False):
        contributors_now = int(people["active_contributors"].get(r.team, 0)) if len(people) else 0
        human = int(people["changes_shipped"].get(r.team, 0)) if len(people) else 0
        bots = int(people["bot_changes"].get(r.team, 0)) if len(people) else 0
        bot_share = bots / (human + bots) if human + bots else 0.0
        share = float(usage["usage_share"].get(r.team, np.nan)) if len(usage) else np.nan
        change = int((contributor_change or {}).get(r.team, 0))
        changes, cost = scenario_arithmetic(float(r.changes_deployed), bot_share, contributors_now, change,
                                            float(r.effective_cost), share, float(traffic_growth))
        rows.append({"team": r.team, "quarter": r.quarter, "quarter_start": r.quarter_start,
                     "trend_changes": float(r.changes_deployed), "bot_share": bot_share,
                     "contributors": contributors_now, "contributor_change": change, "changes_forecast": changes,
                     "trend_cost": float(r.effective_cost), "usage_share": share,
                     "traffic_growth": float(traffic_growth), "cost_forecast": cost})
    return pd.DataFrame(rows, columns=list(FORECAST_COLUMNS))


def capacity_with_scenario(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                           traffic_growth: float = 0.0,
                           contributor_change: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(quarter table, forecast): ``capacity_table`` whose forecast rows carry the scenario's
    figures (changes_deployed, effective_cost), so the table, the chart and the forecast panel of a
    page can never disagree; and the ``next_quarter_forecast`` behind them."""
    table = capacity_table(con, config, start, end)
    forecast = next_quarter_forecast(con, config, start, end, traffic_growth, contributor_change, table=table)
    if len(forecast):
        by_team = forecast.set_index("team")
        is_fc = table["is_forecast"].astype(bool)
        table = table.copy()
        table.loc[is_fc, "changes_deployed"] = [by_team.at[t, "changes_forecast"] for t in table.loc[is_fc, "team"]]
        table.loc[is_fc, "effective_cost"] = [by_team.at[t, "cost_forecast"] for t in table.loc[is_fc, "team"]]
        table.loc[is_fc, "deployments"] = np.nan   # the scenario says nothing about deployments
    return table, forecast


# -- right-sizing ---------------------------------------------------------------------------------

def right_sizing_arithmetic(compute_cost: float, utilization: float, target: float) -> tuple[float, float, float]:
    """(cost_at_target, idle_at_target, saving) of compute that costs ``compute_cost`` at
    ``utilization``: provisioned down to what the used capacity needs at ``target`` utilization,
    it would cost compute_cost × utilization ÷ target (never more than today), idle there would be
    that × (1 − target), and the saving is the difference to today's cost."""
    if pd.isna(compute_cost) or pd.isna(utilization):
        return np.nan, np.nan, np.nan
    at_target = compute_cost * min(utilization / target, 1.0)
    idle = at_target * (1 - target) if utilization < target else compute_cost * (1 - utilization)
    return at_target, idle, compute_cost - at_target


def right_sizing(con: duckdb.DuckDBPyConnection, config: Config, start: date, end: date,
                 target: float | None = None) -> pd.DataFrame:
    """Per team over [start, end]: compute cost, cost-weighted utilization, cost of idle today, the
    cost and idle at the target utilization (``[capacity] target_utilization``, default 60 %) and
    the saving on the table; the organisation's commitment coverage and utilization beside it (mean
    of the daily fractions over kinds; commitments are bought for the organisation, not a team)."""
    from metrics.costs import commitment_summary, utilization_summary

    target = float(config.review.capacity.target_utilization if target is None else target)
    if not 0 < target <= 1:
        raise ReviewError(f"target utilization {target} must be a fraction above 0 and at most 1 (0.6 = 60 %).")
    util = utilization_summary(con, config, start, end, by="team", period="total")
    commit = commitment_summary(con, config, start, end, period="total")
    coverage = float(commit["coverage"].mean()) if len(commit) else np.nan
    commit_util = float(commit["utilization"].mean()) if len(commit) else np.nan
    rows = []
    for r in util.itertuples(index=False):
        cost, u = float(r.compute_cost), float(r.utilization)
        at_target, idle_target, saving = right_sizing_arithmetic(cost, u, target)
        rows.append({"team": r.scope, "compute_cost": cost, "utilization": u,
                     "cost_of_idle": cost * (1 - u) if not pd.isna(cost) else np.nan,
                     "target_utilization": target, "cost_at_target": at_target, "idle_at_target": idle_target,
                     "saving": saving, "commitment_coverage": coverage, "commitment_utilization": commit_util})
    out = pd.DataFrame(rows, columns=list(RIGHT_SIZING_COLUMNS))
    return out.sort_values("team", kind="mergesort").reset_index(drop=True)


def bot_pattern(config: Config) -> str | None:
    """The exclude_authors globs as the one regular expression the SQL matches with."""
    return author_pattern(config.review.exclude_authors)


__all__ = ["BALANCE_COLUMNS", "CHANGE_COLUMNS", "CONTRIBUTOR_COLUMNS", "FORECAST_COLUMNS", "NO_TEAM",
           "RIGHT_SIZING_COLUMNS", "ReviewError", "Scenario", "balance_of", "bot_changes",
           "capacity_with_scenario", "classify", "contributors", "default_scenario", "investment_balance",
           "next_quarter_forecast", "parse_quarter", "previous_quarters", "quarter_end", "review_changes",
           "right_sizing", "right_sizing_arithmetic", "scenario_arithmetic", "usage_shares"]
