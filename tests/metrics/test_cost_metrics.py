"""Cost metrics over a few hand-written rows; every expected number has its arithmetic beside it."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from cadence.core.config import parse_config
from metrics.costs import (
    commitment_summary,
    cost_anomalies,
    cost_by,
    cost_forecast,
    cost_summary,
    top_movers,
    untagged_share,
    utilization_summary,
)
from warehouse import upsert_rows
from tests.support.demo import shared_demo

W1, W2 = date(2026, 10, 5), date(2026, 10, 12)     # two ISO weeks (Mondays)
EC2, S3, CDN = "Amazon Elastic Compute Cloud", "Amazon Simple Storage Service", "Amazon CloudFront"


def cost(day, service, effective, *, billed=None, tag="", account="111", source="ingest", resource="",
         category=None, provider="AWS"):
    return {"charge_date": day, "source": source, "provider": provider, "billing_account_id": "",
            "sub_account_id": account, "service_name": service, "region": "", "resource_id": resource,
            "allocation_tag": tag, "service_category": category, "team": "unallocated",
            "billed_cost": effective if billed is None else billed, "effective_cost": effective}


@pytest.fixture
def delivery(con, config):
    """Week 1: payments (tag) 100 effective / 110 billed, storefront 50, untagged 20; week 2: payments 40.
    payments ships 3 changes in 2 deployments, storefront 1 in 1."""
    upsert_rows(con, "costs", [
        cost(date(2026, 10, 5), EC2, 70, billed=80, tag="payments"),
        cost(date(2026, 10, 6), S3, 30, tag="payments"),
        cost(date(2026, 10, 7), CDN, 50, tag="storefront"),
        cost(date(2026, 10, 8), S3, 20, account="999"),
        cost(date(2026, 10, 12), EC2, 40, tag="payments"),
    ])
    deps = [("d1", "shop/api", datetime(2026, 10, 6, 10)), ("d2", "shop/api", datetime(2026, 10, 8, 10)),
            ("d3", "shop/web", datetime(2026, 10, 7, 10))]
    upsert_rows(con, "deployments", [{"id": i, "repo": r, "service": r.split("/")[1], "environment": "production",
                                      "status": "success", "started_at": t - timedelta(minutes=5),
                                      "finished_at": t} for i, r, t in deps])
    links = [("c1", "shop/api", "d1"), ("c2", "shop/api", "d1"), ("c3", "shop/api", "d2"), ("c4", "shop/web", "d3")]
    upsert_rows(con, "changes", [{"id": c, "repo": r, "number": n, "opened_at": datetime(2026, 10, 1),
                                  "merged_at": datetime(2026, 10, 2)} for n, (c, r, _) in enumerate(links)])
    upsert_rows(con, "deployment_changes", [{"deployment_id": d, "change_id": c} for c, _, d in links])
    # payments' compute on 5 Oct: 2 vCPU at 50 % and 6 vCPU at 10 %, no resource-level cost.
    upsert_rows(con, "utilization", [
        {"date": date(2026, 10, 5), "provider": "AWS", "resource": "i-1", "team": "payments", "metric": "cpu",
         "avg": 0.5, "p95": 0.9, "capacity": 2.0},
        {"date": date(2026, 10, 5), "provider": "AWS", "resource": "i-2", "team": "payments", "metric": "cpu",
         "avg": 0.1, "p95": 0.2, "capacity": 6.0}])
    return con


def test_cost_summary_per_team_week(delivery, config):
    df = cost_summary(delivery, config, W1, date(2026, 10, 18), by="team", period="week")
    assert list(df.columns) == ["scope", "period_start", "effective_cost", "billed_cost", "deployments",
                                "changes_deployed", "cost_per_deployment", "cost_per_change", "utilization"]
    rows = {(r.scope, r.period_start): r for r in df.itertuples()}
    p1 = rows[("payments", W1)]
    # 70 + 30 = 100 effective, 80 + 30 = 110 billed; 2 deployments, 3 changes → 50 and 33.33 each
    assert (p1.effective_cost, p1.billed_cost, p1.deployments, p1.changes_deployed) == (100, 110, 2, 3)
    assert p1.cost_per_deployment == 50 and p1.cost_per_change == pytest.approx(100 / 3)
    # capacity-weighted: (0.5 × 2 + 0.1 × 6) / (2 + 6) = 1.6 / 8 = 0.2
    assert p1.utilization == pytest.approx(0.2)
    p2 = rows[("payments", W2)]
    assert (p2.effective_cost, p2.deployments) == (40, 0) and math.isnan(p2.cost_per_deployment)
    s1 = rows[("storefront", W1)]
    assert (s1.effective_cost, s1.deployments, s1.cost_per_change) == (50, 1, 50)
    # untagged account 999 has no rule: "unallocated", shown, never dropped
    u = rows[("unallocated", W1)]
    assert (u.effective_cost, u.deployments) == (20, 0) and math.isnan(u.utilization)
    assert len(df) == 4

    org = cost_summary(delivery, config, W1, date(2026, 10, 18), by="org", period="total")
    # 100 + 50 + 20 + 40 = 210 over 3 deployments = 70; 4 changes = 52.5
    assert org.to_dict("records")[0] | {"utilization": None} == {
        "scope": "all", "period_start": W1, "effective_cost": 210.0, "billed_cost": 220.0, "deployments": 3,
        "changes_deployed": 4, "cost_per_deployment": 70.0, "cost_per_change": 52.5, "utilization": None}
    with pytest.raises(ValueError, match="allocated to teams"):
        cost_summary(delivery, config, W1, W2, by="repo")


def test_cost_by_untagged_share_and_top_movers(delivery, config):
    by_service = cost_by(delivery, config, W1, date(2026, 10, 18), by="service", period="total")
    got = {r.scope: (r.effective_cost, round(r.share, 4)) for r in by_service.itertuples()}
    # EC2 70 + 40 = 110, S3 30 + 20 = 50, CloudFront 50; total 210
    assert got == {EC2: (110, round(110 / 210, 4)), S3: (50, round(50 / 210, 4)), CDN: (50, round(50 / 210, 4))}

    weekly = cost_by(delivery, config, W1, date(2026, 10, 18), by="team", period="week", scope="payments")
    # payments: 100 then 40: change −60, −60 %
    assert weekly["effective_cost"].tolist() == [100, 40]
    assert weekly["change"].iloc[1] == -60 and weekly["change_pct"].iloc[1] == pytest.approx(-0.6)

    share = untagged_share(delivery, config, W1, date(2026, 10, 18), period="week")
    first = share.iloc[0]
    # week 1: 100 + 50 + 20 = 170, of which 20 untagged (and unallocated): 20 / 170
    assert (first.total_cost, first.untagged_cost, first.unallocated_cost) == (170, 20, 20)
    assert first.untagged_share == pytest.approx(20 / 170)
    assert share.iloc[1].untagged_share == 0          # week 2: all 40 tagged

    movers = top_movers(delivery, config, W2, date(2026, 10, 18), by="team")
    # previous week → this week: payments 100 → 40 (−60), storefront 50 → 0, unallocated 20 → 0
    assert movers[["scope", "previous_cost", "current_cost", "change"]].values.tolist() == [
        ["payments", 100, 40, -60], ["storefront", 50, 0, -50], ["unallocated", 20, 0, -20]]


@pytest.mark.parametrize("split, expected", [
    # direct cost 30 (payments) and 10 (storefront); 20 shared; 5 unallocated
    ("proportional", {"payments": 30 + 20 * 30 / 40, "storefront": 10 + 20 * 10 / 40, "unallocated": 5}),
    ("even", {"payments": 30 + 10, "storefront": 10 + 10, "unallocated": 5}),
    ("none", {"payments": 30, "storefront": 10, "shared": 20, "unallocated": 5}),
])
def test_shared_cost_split(con, split, expected):
    config = parse_config({
        "teams": {"payments": {"cost_tags": ["payments"]}, "storefront": {"cost_tags": ["storefront"]}},
        "cost_allocation": {"shared_split": split, "accounts": {"555": "shared"}}})
    upsert_rows(con, "costs", [
        cost(W1, EC2, 30, tag="payments", account="555"),     # the tag beats the shared account rule
        cost(W1, CDN, 10, tag="storefront"),
        cost(W1, S3, 20, account="555"),
        cost(W1, S3, 5, account="999"),
    ])
    df = cost_by(con, config, W1, W1, by="team", period="day")
    assert dict(zip(df["scope"], df["effective_cost"], strict=True)) == pytest.approx(expected)
    assert df["effective_cost"].sum() == pytest.approx(65)     # splitting never changes the total


def test_export_beats_cost_explorer_for_the_same_day(con, config):
    upsert_rows(con, "costs", [
        cost(W1, EC2, 100, source="aws-cost-explorer"),
        cost(W1, EC2, 98, source="focus", resource="i-9"),
        cost(date(2026, 10, 6), EC2, 50, source="aws-cost-explorer"),
        cost(W1, "Virtual Machines", 7, source="ingest", provider="Microsoft"),
    ])
    df = cost_by(con, config, W1, date(2026, 10, 6), by="provider", period="total")
    # 5 Oct: the FOCUS export's 98 replaces Cost Explorer's 100; 6 Oct: only Cost Explorer (50)
    assert dict(zip(df["scope"], df["effective_cost"], strict=True)) == {"AWS": 148, "Microsoft": 7}


def test_forecast_recovers_trend_and_weekly_season(con, config):
    start = date(2026, 9, 7)                               # a Monday; 28 days of history
    rows = []
    for d in range(28):
        day = start + timedelta(days=d)
        rows.append(cost(day, EC2, 100 + 2 * d + (10 if day.weekday() == 5 else 0)))
    upsert_rows(con, "costs", rows)
    end = start + timedelta(days=27)                       # Sunday 4 Oct
    df = cost_forecast(con, config, start, end, horizon_days=30)
    future = df[df["forecast"].notna()].set_index("date")
    assert len(future) == 30 and df["actual"].notna().sum() == 28
    # Monday 5 Oct is day 28: 100 + 2 × 28 = 156; Saturday 10 Oct is day 33: 100 + 66 + 10 = 176
    assert future.loc[date(2026, 10, 5), "forecast"] == pytest.approx(156)
    assert future.loc[date(2026, 10, 10), "forecast"] == pytest.approx(176)
    # an exact fit leaves no residual: the interval closes on the forecast
    assert future.loc[date(2026, 10, 10), "upper"] == pytest.approx(176, abs=1e-6)
    assert len(cost_forecast(con, config, start, end, horizon_days=90).dropna(subset=["forecast"])) == 90


def test_forecast_interval_widens_with_noise(con, config):
    start = date(2026, 9, 7)
    upsert_rows(con, "costs", [cost(start + timedelta(days=d), EC2, 100 + (5 if d % 2 else -5))
                               for d in range(28)])
    df = cost_forecast(con, config, start, start + timedelta(days=27), horizon_days=30).dropna(subset=["forecast"])
    # ±5 alternating noise: σ ≈ 5, so the 95 % interval spans roughly ±10 around ≈100
    first = df.iloc[0]
    assert 85 < first.lower < first.forecast < first.upper < 115


def test_anomalies_flag_a_day_far_outside_its_recent_range(con, config):
    rows = [cost(date(2026, 9, 15) + timedelta(days=d), EC2, 10.0) for d in range(20)]      # 15 Sep – 4 Oct
    rows += [cost(date(2026, 10, 5), EC2, 50.0), cost(date(2026, 10, 6), EC2, 11.0)]
    rows += [cost(date(2026, 9, 15) + timedelta(days=d), S3, 3.0) for d in range(22)]
    upsert_rows(con, "costs", rows)
    df = cost_anomalies(con, config, date(2026, 10, 5), date(2026, 10, 6), by="service")
    # history: twenty days at 10 → expected 10, MAD 0 → spread max(0, 5 % × 10) = 0.5, band 10 ± 1.5.
    # 5 Oct (50) is out by 40; 6 Oct (11) is out by only 1 < 1.5; S3 never moves.
    assert df.to_dict("records") == [{"scope": EC2, "charge_date": date(2026, 10, 5), "actual": 50.0,
                                      "expected": 10.0, "lower": 8.5, "upper": 11.5, "deviation": 40.0,
                                      "direction": "up"}]


def test_utilization_weighted_by_resource_cost_and_cost_of_idle(con, config):
    upsert_rows(con, "costs", [cost(W1, EC2, 30, tag="payments", resource="i-1", category="Compute"),
                               cost(W1, EC2, 10, tag="payments", resource="i-2", category="Compute")])
    upsert_rows(con, "utilization", [
        {"date": W1, "provider": "AWS", "resource": "i-1", "team": "payments", "metric": "cpu", "avg": 0.5,
         "p95": 0.8, "capacity": 2.0},
        {"date": W1, "provider": "AWS", "resource": "i-2", "team": "payments", "metric": "cpu", "avg": 0.1,
         "p95": 0.4, "capacity": 8.0}])
    row = utilization_summary(con, config, W1, W1, by="team").iloc[0]
    # cost-weighted: (0.5 × 30 + 0.1 × 10) / 40 = 16 / 40 = 0.4; p95 (0.8 × 30 + 0.4 × 10) / 40 = 0.7
    # idle: 40 × (1 − 0.4) = 24
    assert (row.scope, row.weighting, row.resources) == ("payments", "cost", 2)
    assert (row.utilization, row.p95, row.compute_cost, row.idle_cost) == pytest.approx((0.4, 0.7, 40, 24))


def test_commitment_summary(con, config):
    upsert_rows(con, "commitments", [
        {"date": W1, "provider": "AWS", "kind": "savings_plan", "utilization": 0.8, "coverage": 0.6},
        {"date": date(2026, 10, 6), "provider": "AWS", "kind": "savings_plan", "utilization": 0.9, "coverage": 0.7},
        {"date": W2, "provider": "AWS", "kind": "reservation", "utilization": 1.0, "coverage": 0.25}])
    df = commitment_summary(con, config, W1, date(2026, 10, 18), period="week")
    # savings plan week 1: (0.8 + 0.9) / 2 = 0.85 utilization, (0.6 + 0.7) / 2 = 0.65 coverage
    assert df[["kind", "period_start", "days"]].values.tolist() == [["reservation", W2, 1], ["savings_plan", W1, 2]]
    assert df["utilization"].tolist() == pytest.approx([1.0, 0.85])
    assert df["coverage"].tolist() == pytest.approx([0.25, 0.65])


@pytest.mark.slow
def test_cost_metrics_answer_on_the_demo_database(tmp_path_factory):
    """Integration: every cost metric on the demo warehouse, with invariants that must hold there."""
    from cadence.core.config import Config
    from warehouse.meta import effective_config
    from warehouse import connect as open_db

    db = shared_demo(tmp_path_factory, today=date(2026, 11, 25))   # the demo ending Sunday 2026-11-22
    config = effective_config(Config(), db)
    con = open_db(db, read_only=True)
    try:
        end = date(2026, 11, 22)
        start = end - timedelta(days=83)                   # twelve ISO weeks
        summary = cost_summary(con, config, start, end, by="team", period="week")
        org = cost_by(con, config, start, end, by="org", period="total")
        # allocation (and any split) moves cost between teams but never creates or loses it
        assert summary["effective_cost"].sum() == pytest.approx(org["effective_cost"].iloc[0])
        assert {"unallocated"} < set(summary["scope"]) and summary["deployments"].sum() > 0
        assert summary["cost_per_deployment"].notna().any() and summary["utilization"].between(0, 1).any()
        share = untagged_share(con, config, start, end, period="total").iloc[0]
        assert 0 < share.untagged_share < 1
        sp = commitment_summary(con, config, start, end, period="total").set_index("kind")
        assert 0.8 <= sp.loc["savings_plan", "utilization"] <= 0.95
        assert len(cost_anomalies(con, config, start, end, by="service")) >= 1
        assert len(cost_forecast(con, config, start, end, horizon_days=90).dropna(subset=["forecast"])) == 90
        idle = utilization_summary(con, config, start, end, by="team")
        assert (idle["idle_cost"] > 0).all() and len(top_movers(con, config, start, end)) == 10
    finally:
        con.close()
