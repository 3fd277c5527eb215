"""The demo's SLIs (collectors/demo/slo.py) tell the story they promise, through the real metrics."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from cadence.core.config import parse_config
from collectors.demo import demo_config, demo_tables
from collectors.demo.slo import demo_slos, sli_rows
from metrics.slo import SLO_STATUS_COLUMNS, slo_status
from warehouse import upsert_rows

TODAY = date(2026, 11, 20)     # the demo ends on Sunday 2026-11-15


@pytest.fixture(scope="module")
def demo():
    tables, cal = demo_tables(42, TODAY)
    return tables, cal, sli_rows(tables["incidents"], cal.start, cal.days, 42)


def test_rows_are_whole_hours_valid_and_deterministic(demo):
    tables, cal, rows = demo
    # 8 SLOs x 364 days x 24 hours
    assert len(rows) == 8 * 364 * 24
    assert (rows["good"] <= rows["total"]).all() and (rows["good"] >= 0).all()
    assert (rows["hour"].dt.minute == 0).all()
    assert rows["hour"].min() == pd.Timestamp(cal.start) and rows["hour"].max() == pd.Timestamp("2026-11-15 23:00")
    again = sli_rows(tables["incidents"], cal.start, cal.days, 42)
    assert again.equals(rows)
    assert not sli_rows(tables["incidents"], cal.start, cal.days, 7).equals(rows)


def test_the_story_struggling_team_overspends_and_search_burns_fast(demo, con):
    tables, cal, rows = demo
    upsert_rows(con, "deployments", tables["deployments"])
    upsert_rows(con, "incidents", tables["incidents"])
    upsert_rows(con, "sli_hours", rows)
    config = parse_config({**demo_config(), "slos": demo_slos()})
    end = cal.start + timedelta(days=cal.days - 1)
    df = slo_status(con, config, end)
    assert list(df.columns) == list(SLO_STATUS_COLUMNS) and len(df) == 8
    status = dict(zip(df["slo"], df["status"]))
    row = {r["slo"]: r for r in df.to_dict("records")}
    # fulfilment's orders: over budget, and its release train kept deploying into it
    assert status["orders-availability"] == "exhausted"
    assert row["orders-availability"]["deployments_into_exhausted_budget"] >= 1
    # catalog's search degrades in the last hours: 1 h and 6 h rates above 14.4 and 6
    assert status["search-availability"] == "fast-burn"
    # the elite platform team stays comfortably inside its budgets
    assert status["edge-gateway-availability"] == "ok" and row["edge-gateway-availability"]["budget_remaining"] > 0.5
    # across the year the struggling team deploys into an exhausted budget again and again
    total = 0
    for weeks_back in range(0, 48, 4):
        at = end - timedelta(weeks=weeks_back)
        total += int(slo_status(con, config, at, team="fulfilment")
                     .set_index("slo").loc["orders-availability", "deployments_into_exhausted_budget"])
    assert total >= 5
