"""metrics.capacity: quarter arithmetic and the next-quarter forecast, computed by hand."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from metrics.capacity import _months, quarter_label, quarter_of, trend_forecast


def test_quarters_and_months_in_range():
    assert quarter_of(date(2026, 11, 15)) == date(2026, 10, 1)
    assert quarter_label(date(2026, 10, 1)) == "2026-Q4"
    # 2026-01-15 .. 2026-03-10: January 17 days (15..31), February 28, March 10.
    assert _months(date(2026, 1, 15), date(2026, 3, 10)) == [
        (date(2026, 1, 1), 17), (date(2026, 2, 1), 28), (date(2026, 3, 1), 10)]


def test_forecast_extends_the_linear_trend_of_daily_rates():
    # Rates 30/30 = 1, 60/30 = 2, 90/30 = 3 per day: slope 1, intercept 1 at month 0.
    # Next months 3, 4, 5 -> 4, 5, 6 per day over 31, 28, 31 days = 124 + 140 + 186 = 450.
    assert trend_forecast([30, 60, 90], [30, 30, 30], [31, 28, 31]) == pytest.approx(450)


def test_forecast_counts_a_partial_month_by_its_days():
    # 15 in 15 days, 60 in 30, 90 in 30: rates 1, 2, 3 again, so the same 4, 5, 6 per day;
    # over three 30-day months: 120 + 150 + 180 = 450.
    assert trend_forecast([15, 60, 90], [15, 30, 30], [30, 30, 30]) == pytest.approx(450)


def test_forecast_never_goes_below_zero():
    # Rates 3, 2, 1: slope -1, intercept 3 -> months 3, 4, 5 give 0, -1, -2 per day, clipped to 0.
    assert trend_forecast([90, 60, 30], [30, 30, 30], [30, 31, 30]) == 0


def test_forecast_with_little_history_extends_the_average_rate():
    # Two months: (10 + 20) / (10 + 30) = 0.75 per day over 90 days = 67.5.
    assert trend_forecast([10, 20], [10, 30], [30, 30, 30]) == pytest.approx(67.5)
    assert math.isnan(trend_forecast([], [], [30, 30, 30]))


def test_forecast_skips_the_months_before_the_next_quarter():
    # Rates 1, 2, 3 per day (slope 1, intercept 1); two months pass before the forecast quarter, so
    # its months are indices 5, 6, 7: 6, 7, 8 per day over 31, 31, 30 days = 186 + 217 + 240 = 643.
    assert trend_forecast([30, 60, 90], [30, 30, 30], [31, 31, 30], gap=2) == pytest.approx(643)


def _small_warehouse(path):
    """payments (shop/api): 1, 2, 3 deployments a day in Feb, Mar, Apr 2026, each shipping one
    change; 10, 20, 30 USD a day of tagged cost; a Savings Plan at 80 %, 90 %, 100 % by month."""
    from datetime import datetime, timedelta

    from warehouse import upsert_rows, write_connection

    deployments, changes, links, costs, commitments = [], [], [], [], []
    day = date(2026, 2, 1)
    while day <= date(2026, 4, 30):
        per_day = {2: 1, 3: 2, 4: 3}[day.month]
        for k in range(per_day):
            i = f"{day:%m%d}-{k}"
            finished = datetime(day.year, day.month, day.day, 10 + k)
            deployments.append({"id": f"d{i}", "repo": "shop/api", "service": "api", "environment": "production",
                                "sha": f"s{i}", "status": "success", "started_at": finished - timedelta(minutes=5),
                                "finished_at": finished})
            changes.append({"id": f"c{i}", "repo": "shop/api", "number": len(changes) + 1,
                            "first_commit_at": finished - timedelta(hours=5),
                            "opened_at": finished - timedelta(hours=4),
                            "merged_at": finished - timedelta(hours=1), "merge_sha": f"m{i}"})
            links.append({"deployment_id": f"d{i}", "change_id": f"c{i}"})
        costs.append({"charge_date": day, "source": "test", "provider": "AWS", "billing_account_id": "1",
                      "sub_account_id": "1", "service_name": "Amazon EC2", "region": "us-east-1", "resource_id": "",
                      "allocation_tag": "payments", "team": "payments", "service_category": "Compute",
                      "billed_cost": 10.0 * (day.month - 1), "effective_cost": 10.0 * (day.month - 1)})
        commitments.append({"date": day, "provider": "AWS", "kind": "savings_plan",
                            "utilization": {2: 0.8, 3: 0.9, 4: 1.0}[day.month], "coverage": 0.5})
        day += timedelta(days=1)
    with write_connection(path) as con:
        for table, rows in (("deployments", deployments), ("changes", changes), ("deployment_changes", links),
                            ("costs", costs), ("commitments", commitments)):
            upsert_rows(con, table, rows)


def test_capacity_table_by_quarter_with_forecast(tmp_path):
    from cadence.core.config import parse_config
    from metrics.capacity import capacity_table
    from warehouse import read_connection

    db = tmp_path / "cap.duckdb"
    _small_warehouse(db)
    config = parse_config({"teams": {"payments": {"repos": ["shop/api"], "services": ["api"],
                                                  "cost_tags": ["payments"]}}})
    with read_connection(db) as con:
        table = capacity_table(con, config, date(2026, 2, 1), date(2026, 4, 30))
    rows = {r.quarter: r for r in table.itertuples()}
    assert list(table["team"]) == ["payments"] * 3
    q1, q2, q3 = rows["2026-Q1"], rows["2026-Q2"], rows["2026-Q3"]
    # Q1 = February (28 days x 1) + March (31 x 2): 28 + 62 = 90 deployments and changes;
    # cost 28 x 10 + 31 x 20 = 280 + 620 = 900 USD; 900 / 90 = 10 USD per change; 59 days.
    assert (q1.days, q1.deployments, q1.changes_deployed) == (59, 90, 90)
    assert (q1.effective_cost, q1.cost_per_change) == (pytest.approx(900), pytest.approx(10))
    # Savings Plan: (0.8 x 28 + 0.9 x 31) / 59 = 50.3 / 59.
    assert q1.commitment_utilization == pytest.approx(50.3 / 59)
    # Q2 so far = April: 30 x 3 = 90 deployments; 30 x 30 = 900 USD; commitment 100 %.
    assert (q2.days, q2.deployments, q2.effective_cost, q2.commitment_utilization) == (
        30, 90, pytest.approx(900), pytest.approx(1.0))
    assert not q1.is_forecast and not q2.is_forecast and q3.is_forecast
    # No utilization samples: utilization and cost of idle are unknown, not zero.
    assert pd.isna(q1.utilization) and pd.isna(q1.cost_of_idle)
    # Forecast Q3 (Jul 31, Aug 31, Sep 30 days), May and June in between (gap 2): deployments per
    # day 1, 2, 3 -> 6, 7, 8 -> 186 + 217 + 240 = 643; cost per day 10, 20, 30 -> 60, 70, 80 ->
    # 1860 + 2170 + 2400 = 6430 USD.
    assert q3.deployments == pytest.approx(643)
    assert q3.changes_deployed == pytest.approx(643)
    assert q3.effective_cost == pytest.approx(6430)
    assert q3.days == 92
