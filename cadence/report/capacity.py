"""The quarterly capacity review as one self-contained HTML document (``cadence report capacity``
and the Capacity page's "Download report" button write the same bytes).

One file, charts inline as SVG, styles inline, no script and no external URL, so it opens offline
and prints on A4 with a page per team: the organisation summary, then per team throughput and
contributors, investment balance (and its trend over four quarters), the DORA keys with their
bands, cost, cost per change, idle and the saving at the target utilization, next quarter's
forecast under the default scenario, and the changes behind the unplanned share (named by
repository and number, not linked: the document holds no URL at all). Everything comes
from metrics.capacity_review and the other metrics, so the document and the page agree. The same
data gives the same bytes (no generation time; SVG ids are salted with a constant).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date
from importlib import resources
from typing import Any

import duckdb
import jinja2
import pandas as pd

from cadence.core.config import Config

log = logging.getLogger(__name__)

TREND_QUARTERS = 4
CATEGORY_ORDER = ("feature", "maintenance", "unplanned", "other")


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and v != v) or pd.isna(v) else float(v)


def fmt_money(v: Any) -> str:
    v = _num(v)
    return "—" if v is None else f"${v:,.0f}"


def fmt_pct(v: Any) -> str:
    v = _num(v)
    return "—" if v is None else f"{v * 100:.0f} %"


def fmt_num(v: Any, digits: int = 0) -> str:
    v = _num(v)
    return "—" if v is None else f"{v:,.{digits}f}"


def fmt_hours(v: Any) -> str:
    v = _num(v)
    if v is None:
        return "—"
    return f"{v * 60:.0f} min" if v < 1 else (f"{v:.1f} h" if v < 48 else f"{v / 24:.1f} days")


def review_data(con: duckdb.DuckDBPyConnection, config: Config, quarter: date, as_of: date | None = None, *,
                traffic_growth: float | None = None, contributor_change: Mapping[str, int] | None = None,
                include_costs: bool = True) -> dict[str, Any]:
    """Every figure the document shows, for the quarter starting ``quarter`` (up to ``as_of`` when
    it is still running) and the three before it (the trend)."""
    from metrics import dora_metrics
    from metrics.capacity_review import (balance_of, contributor_rows, contributors_of, default_scenario, forecast_of,
                                         previous_quarters, quarter_contributors, quarter_end, review_changes,
                                         right_sizing, scenario_base, with_scenario)
    from metrics.capacity import quarter_label

    end = quarter_end(quarter) if as_of is None else min(quarter_end(quarter), as_of)
    if end < quarter:
        end = quarter
    first = previous_quarters(quarter, TREND_QUARTERS)[0]
    label = quarter_label(quarter)
    scenario = default_scenario(config)
    growth = scenario.traffic_growth if traffic_growth is None else float(traffic_growth)
    # One read of the changes shipped and merged serves the balance, the contributors and the
    # forecast's contributors (capacity_with_scenario's figures, without reading the quarter again).
    changes = review_changes(con, config, first, end)
    balance = balance_of(changes)
    merged = contributor_rows(con, config, first, end)
    people = contributors_of(merged, changes, first, end)
    table, usage = scenario_base(con, config, first, end)
    forecast = forecast_of(table, quarter_contributors(merged, changes, first, end), usage, growth,
                           contributor_change)
    table = with_scenario(table, forecast)
    dora = dora_metrics(con, config, quarter, end, by="team", period="total")
    sizing = right_sizing(con, config, quarter, end) if include_costs else pd.DataFrame()
    teams = sorted(set(changes["team"]) | set(table["team"]) | set(people["team"]))
    quarters = [quarter_label(q) for q in previous_quarters(quarter, TREND_QUARTERS)]

    def row(df: pd.DataFrame, team: str, **match) -> dict:
        sel = df[df["team"] == team] if "team" in df else df.iloc[0:0]
        for k, v in match.items():
            sel = sel[sel[k] == v]
        return sel.iloc[0].to_dict() if len(sel) else {}

    team_sections, summary = [], []
    for team in teams:
        cost_only = team not in config.teams and team not in set(changes["team"]) | set(people["team"])
        cap = row(table[~table["is_forecast"].astype(bool)], team, quarter=label)
        fc = row(forecast, team)
        ppl = row(people, team, quarter=label)
        keys = row(dora.rename(columns={"scope": "team"}), team)
        rs = row(sizing, team) if include_costs else {}
        bal = balance[(balance["team"] == team) & (balance["quarter"] == label)].set_index("category")
        shares = {c: (_num(bal["share_by_count"].get(c)) if len(bal) else None) for c in CATEGORY_ORDER}
        effort = {c: (_num(bal["share_by_effort"].get(c)) if len(bal) else None) for c in CATEGORY_ORDER}
        counts = {c: (int(bal["changes"].get(c, 0)) if len(bal) else 0) for c in CATEGORY_ORDER}
        trend = balance[balance["team"] == team]
        trend_shares = {c: [_num(trend[(trend["quarter"] == q) & (trend["category"] == c)]["share_by_count"].sum())
                            if ((trend["quarter"] == q)).any() else None for q in quarters] for c in CATEGORY_ORDER}
        unplanned = changes[(changes["team"] == team) & (changes["quarter"] == label)
                            & (changes["category"] == "unplanned")]
        section = {
            "team": team,
            "changes_shipped": int(ppl.get("changes_shipped", 0) or 0),
            "bot_changes": int(ppl.get("bot_changes", 0) or 0),
            "contributors": int(ppl.get("active_contributors", 0) or 0),
            "per_contributor_week": ppl.get("changes_per_contributor_week"),
            "deployments": cap.get("deployments"),
            "counts": counts, "shares": shares, "effort": effort,
            "trend_svg": _trend_svg(team, quarters, trend_shares, f"t{len(team_sections) + 1}"),
            "dora": keys,
            "cost": cap.get("effective_cost"), "cost_per_change": cap.get("cost_per_change"),
            "sizing": rs,
            "forecast": fc,
            "unplanned": [{"title": r.title or r.change_id, "repo": r.repo, "number": r.number,
                           "deployed": f"{pd.Timestamp(r.deployed_at):%Y-%m-%d}", "rule": r.rule, "reason": r.reason}
                          for r in unplanned.itertuples(index=False)],
        }
        if not cost_only:   # "unallocated" / "shared" cost: a summary row, not a team page
            team_sections.append(section)
        summary.append({"team": team, "changes": section["changes_shipped"], "bots": section["bot_changes"],
                        "contributors": section["contributors"], "unplanned": shares["unplanned"],
                        "cost": section["cost"], "cost_per_change": section["cost_per_change"],
                        "idle": rs.get("cost_of_idle"), "saving": rs.get("saving"),
                        "forecast_changes": fc.get("changes_forecast"), "forecast_cost": fc.get("cost_forecast")})
    org_svg = _org_svg([s for s in team_sections if s["changes_shipped"]]) if team_sections else ""
    next_q = forecast["quarter"].iloc[0] if len(forecast) else None
    return {"quarter": label, "start": quarter, "end": end, "teams": team_sections, "summary": summary,
            "org_svg": org_svg, "next_quarter": next_q, "traffic_growth": growth,
            "contributor_change": dict(contributor_change or {}), "include_costs": include_costs,
            "benchmark": config.benchmark, "bot_total": sum(s["bots"] for s in summary),
            "target": config.review.capacity.target_utilization,
            "usage_categories": ", ".join(config.review.capacity.usage_driven_categories
                                          + config.review.capacity.usage_driven_services),
            "commitment_coverage": (sizing["commitment_coverage"].iloc[0] if include_costs and len(sizing) else None)}


def _trend_svg(team: str, quarters: list[str], shares: dict[str, list], prefix: str) -> str:
    from cadence.report.svg import stacked_shares

    if not any(v is not None for values in shares.values() for v in values):
        return ""
    return stacked_shares(quarters, {c: [v if v is not None else float("nan") for v in shares[c]]
                                     for c in CATEGORY_ORDER},
                          title=f"{team}: investment balance by quarter (share of changes)", prefix=prefix)


def _org_svg(sections: list[dict]) -> str:
    from cadence.report.svg import stacked_shares

    return stacked_shares([s["team"] for s in sections],
                          {c: [s["shares"][c] if s["shares"][c] is not None else float("nan") for s in sections]
                           for c in CATEGORY_ORDER},
                          title="Investment balance per team (share of changes shipped)", prefix="org")


def render(data: dict[str, Any]) -> str:
    """The HTML text of a ``review_data`` bundle."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(money=fmt_money, pct=fmt_pct, num=fmt_num, hours=fmt_hours)
    template = env.from_string(resources.files("cadence.report").joinpath("capacity.html.j2")
                               .read_text(encoding="utf-8"))
    return template.render(**data)


def capacity_report_html(con: duckdb.DuckDBPyConnection, config: Config, quarter: str, as_of: date | None = None,
                         traffic_growth: float | None = None,
                         contributor_change: tuple[tuple[str, int], ...] = (),
                         include_costs: bool = True) -> bytes:
    """The capacity review document of ``quarter`` ("2026-Q4") as UTF-8 bytes. Arguments are plain
    and hashable so the dashboard can cache the result (``cadence.dashboard.ui.load``)."""
    from metrics.capacity_review import parse_quarter

    data = review_data(con, config, parse_quarter(quarter), as_of, traffic_growth=traffic_growth,
                       contributor_change=dict(contributor_change), include_costs=include_costs)
    html = render(data)
    log.info("capacity report %s: %d teams, %d bytes", quarter, len(data["teams"]), len(html))
    return html.encode("utf-8")
