"""The cost metrics that moved into SQL (cost_daily.sql, cost_shared_split.sql) and into metrics
(unit_cost, delivery_cost, team_board, sync_status), over a few hand-written rows; every expected
number has its arithmetic beside it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from cadence.core.config import parse_config
from metrics.costs import cost_summary, daily_cost, delivery_cost, unit_cost
from metrics.health import STALE_AFTER_DAYS, sync_status
from metrics.teams import BOARD_COLUMNS, team_board
from warehouse import upsert_rows

D1, D2 = date(2026, 10, 5), date(2026, 10, 6)
EC2, S3 = "Amazon Elastic Compute Cloud", "Amazon Simple Storage Service"


def line(day, effective, *, tag="", account="111", list_cost=None, service=S3, category=None):
    return {"charge_date": day, "source": "ingest", "provider": "AWS", "billing_account_id": "",
            "sub_account_id": account, "service_name": service, "region": "", "resource_id": "",
            "allocation_tag": tag, "service_category": category, "team": "unallocated",
            "billed_cost": effective, "effective_cost": effective, "list_cost": list_cost}


def split_config(split: str):
    return parse_config({
        "teams": {name: {"cost_tags": [name]} for name in ("payments", "search", "storefront")},
        "cost_allocation": {"shared_split": split, "accounts": {"555": "shared"}}})


@pytest.fixture
def shared_days(con):
    """D1: payments 30 (list 40), storefront 10 (no list price), search -5 (a credit), shared 20
    (list 24, untagged), unallocated 5. D2: only shared 12, no direct cost at all."""
    upsert_rows(con, "costs", [
        line(D1, 30, tag="payments", list_cost=40), line(D1, 10, tag="storefront"),
        line(D1, -5, tag="search"), line(D1, 20, account="555", list_cost=24), line(D1, 5, account="999"),
        line(D2, 12, account="555", list_cost=12),
    ])
    return con


def by_scope(df, day, column="effective_cost"):
    rows = df[df["charge_date"] == day]
    return dict(zip(rows["scope"], rows[column], strict=True))


def test_proportional_split_by_the_days_direct_cost(shared_days):
    df = daily_cost(shared_days, split_config("proportional"), D1, D2, by="team")
    # D1 direct cost, a credit counted as 0: payments 30, storefront 10, search 0 -> 40.
    # Weights 30/40 = 0.75, 10/40 = 0.25, 0. Shared 20: payments 30 + 15 = 45, storefront 10 + 5 = 15,
    # search -5 + 0 = -5; unallocated 5 stays. Total 45 + 15 - 5 + 5 = 60 = 30 + 10 - 5 + 20 + 5.
    assert by_scope(df, D1) == pytest.approx({"payments": 45, "storefront": 15, "search": -5, "unallocated": 5})
    # list cost: payments 40 + 24 x 0.75 = 58; storefront (none) + 24 x 0.25 = 6; search none + 24 x 0 = 0.
    assert by_scope(df, D1, "list_cost") == pytest.approx({"payments": 58, "storefront": 6, "search": 0,
                                                           "unallocated": float("nan")}, nan_ok=True)
    # The shared line is untagged: its part is untagged too (20 x 0.75 = 15, 20 x 0.25 = 5).
    assert by_scope(df, D1, "untagged_cost") == pytest.approx({"payments": 15, "storefront": 5, "search": 0,
                                                               "unallocated": 5})
    assert by_scope(df, D1, "unallocated_cost") == pytest.approx({"payments": 0, "storefront": 0, "search": 0,
                                                                  "unallocated": 5})
    # D2 has no direct cost: 12 split evenly, 12 / 3 = 4 each; "shared" is gone from every day.
    assert by_scope(df, D2) == pytest.approx({"payments": 4, "search": 4, "storefront": 4})
    assert "shared" not in set(df["scope"])
    assert df[["scope", "charge_date"]].values.tolist() == sorted(df[["scope", "charge_date"]].values.tolist())


def test_even_split_and_no_split(shared_days):
    even = daily_cost(shared_days, split_config("even"), D1, D1, by="team")
    # 20 / 3 teams each: payments 30 + 6.67, storefront 10 + 6.67, search -5 + 6.67.
    assert by_scope(even, D1) == pytest.approx({"payments": 30 + 20 / 3, "storefront": 10 + 20 / 3,
                                                "search": -5 + 20 / 3, "unallocated": 5})
    kept = daily_cost(shared_days, split_config("none"), D1, D1, by="team")
    assert by_scope(kept, D1) == {"payments": 30, "storefront": 10, "search": -5, "shared": 20, "unallocated": 5}
    # By anything but team the split does not apply: by account 555 keeps its 20.
    accounts = daily_cost(shared_days, split_config("even"), D1, D1, by="account")
    assert by_scope(accounts, D1) == {"111": 35, "555": 20, "999": 5}       # 111: 30 + 10 - 5


def test_category_keeps_one_service_category(con):
    upsert_rows(con, "costs", [line(D1, 70, tag="payments", service=EC2, category="Compute"),
                               line(D1, 30, tag="payments", category="Storage")])
    config = split_config("none")
    assert by_scope(daily_cost(con, config, D1, D1, category="Compute"), D1) == {"payments": 70}
    assert by_scope(daily_cost(con, config, D1, D1), D1) == {"payments": 100}     # 70 + 30


def test_unit_cost_scalars_and_series():
    assert unit_cost(100.0, 4) == 25.0                   # 100 / 4
    assert unit_cost(100.0, 0) is None and unit_cost(None, 3) is None and unit_cost(50.0, None) is None
    per = unit_cost(pd.Series([90.0, 30.0, 10.0]), pd.Series([3, 0, float("nan")]))
    assert per.tolist()[0] == 30.0 and per.isna().tolist() == [False, True, True]   # 90 / 3; nothing to divide


def test_delivery_cost_adds_up_then_divides():
    summary = pd.DataFrame({"scope": ["a", "b", "a"], "period_start": [D1, D1, D2],
                            "effective_cost": [100.0, 50.0, 30.0], "deployments": [2, 3, 0],
                            "changes_deployed": [4, 1, 0]})
    total = delivery_cost(summary).iloc[0]
    # 180 / (2 + 3) = 36 per deployment; 180 / (4 + 1) = 36 per change
    assert (total["effective_cost"], total["cost_per_deployment"], total["cost_per_change"]) == (180, 36, 36)
    per = delivery_cost(summary, per="period_start")
    # D1: 150 / 5 = 30 per deployment, 150 / 5 = 30 per change; D2: 30 with nothing shipped
    assert per["cost_per_deployment"].tolist()[0] == 30 and pd.isna(per["cost_per_deployment"].tolist()[1])
    assert delivery_cost(summary.iloc[0:0]).iloc[0]["effective_cost"] == 0


@pytest.fixture
def delivered(con):
    """payments (shop/api): 2 deployments, cost 100; storefront (shop/web): 1 deployment, cost 30;
    20 unallocated."""
    upsert_rows(con, "costs", [line(D1, 100, tag="payments"), line(D1, 30, tag="storefront"),
                               line(D2, 20, account="999")])
    deps = [("d1", "shop/api", datetime(2026, 10, 5, 10)), ("d2", "shop/api", datetime(2026, 10, 6, 10)),
            ("d3", "shop/web", datetime(2026, 10, 6, 11))]
    upsert_rows(con, "deployments", [{"id": i, "repo": r, "service": r.split("/")[1], "environment": "production",
                                      "status": "success", "started_at": t - timedelta(minutes=5),
                                      "finished_at": t} for i, r, t in deps])
    return con


def test_team_board_and_cost_summary_share_the_cost_per_deployment(delivered, config):
    board = team_board(delivered, config, D1, D2)
    assert list(board.columns) == list(BOARD_COLUMNS)
    per = dict(zip(board["team"], board["cost_per_deployment"], strict=True))
    # payments 100 / 2 = 50; storefront 30 / 1 = 30; unallocated: no deployments, no figure
    assert per["payments"] == 50 and per["storefront"] == 30 and pd.isna(per["unallocated"])
    summary = cost_summary(delivered, config, D1, D2, by="team", period="total")
    assert dict(zip(summary["scope"], summary["cost_per_deployment"], strict=True))["payments"] == 50
    # Sorted by deploys per week: payments (2 in 2 days) before storefront (1); unallocated last.
    assert board["team"].tolist() == ["payments", "storefront", "unallocated"]
    hidden = team_board(delivered, config, D1, D2, include_costs=False)
    assert not {"effective_cost", "cost_per_deployment", "ci_cost"} & set(hidden.columns)
    assert hidden["team"].tolist() == ["payments", "storefront"]        # no cost: no cost-only row


def test_sync_status_in_order_of_urgency():
    now = pd.Timestamp("2026-10-10")
    states = pd.DataFrame({
        "source": ["github", "aws-costs", "pagerduty", "aws-exports:athena", "webhook"],
        "scope": ["shop/api", "all", "all", "cur", "all"],
        "last_error": ["401 Unauthorized", None, None, None, None],
        "skipped": [None, "no CloudWatch access", None, None, None],
        "last_success_at": [pd.Timestamp("2026-10-09"), pd.NaT, pd.NaT,
                            now - pd.Timedelta(days=STALE_AFTER_DAYS + 1), now - pd.Timedelta(days=STALE_AFTER_DAYS)]})
    out = sync_status(states, now, lambda source: f"cadence sync {source.split(':')[0]}")
    # error beats a recent success; skipped beats never succeeded; 3 whole days > 2 is stale, 2 is not
    assert [s.split(" —")[0] for s in out["status"]] == ["Failing", "Skipped", "Never succeeded", "Stale", "OK"]
    assert "`cadence sync github`" in out["status"][0] and "`cadence sync pagerduty`" in out["status"][2]
    assert "`cadence sync aws-exports`" in out["status"][3]
