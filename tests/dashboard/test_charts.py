"""cadence.dashboard.charts on hand-written rows."""

from __future__ import annotations

import pandas as pd

from cadence.dashboard import charts


def _incidents(per_service: dict[str, int]) -> pd.DataFrame:
    rows, n = [], 0
    for service, count in per_service.items():
        for i in range(count):
            n += 1
            start = pd.Timestamp("2026-11-02 10:00") + pd.Timedelta(hours=n)
            rows.append({"incident_id": f"INC-{n}", "service": service, "created_at": start,
                         "resolved_at": start + pd.Timedelta(hours=1) if i else pd.NaT,
                         "attribution": "service", "deployment_id": None})
    return pd.DataFrame(rows)


def test_the_timeline_draws_the_services_with_the_most_incidents_only():
    # 30 services: svc-00 has 30 incidents, svc-01 29, ... svc-29 1 (465 incidents in all); the
    # timeline keeps the 25 busiest, svc-00..svc-24 (30+29+...+6 = 450 incidents), one bar each.
    incidents = _incidents({f"svc-{i:02d}": 30 - i for i in range(30)})
    assert charts.busiest_services(incidents) == [f"svc-{i:02d}" for i in range(25)]
    chart = charts.incident_timeline(incidents, title="t")
    assert set(chart.data["service"]) == {f"svc-{i:02d}" for i in range(25)}
    assert len(chart.data) == 450
    assert chart.spec["encoding"]["y"]["sort"] == [f"svc-{i:02d}" for i in range(25)]   # busiest on top


def test_busiest_services_breaks_ties_by_name_and_keeps_few_services_whole():
    # b and a both have 2 incidents, c 1: a before b (name), then c; three services fit under the cap
    incidents = _incidents({"b": 2, "c": 1, "a": 2})
    assert charts.busiest_services(incidents, 2) == ["a", "b"]
    chart = charts.incident_timeline(incidents, title="t")
    assert set(chart.data["service"]) == {"a", "b", "c"}


def test_weekly_bars_stack_each_week_from_zero_in_the_groups_order():
    # week 1: a 2, b 3 -> a spans 0..2, b 2..5; week 2: a 1, b 4 -> a 0..1, b 1..5. Each bar spans
    # 85 % of the 7-day step (5.95 days) from its week's start.
    weeks = pd.to_datetime(["2026-11-02", "2026-11-02", "2026-11-09", "2026-11-09"])
    df = pd.DataFrame({"period_start": weeks, "scope": ["b", "a", "a", "b"], "deployments": [3, 2, 1, 4]})
    chart = charts.bars(df, "period_start", "deployments", color="scope", title="t", unit="count")
    rows = chart.data.sort_values(["period_start", "group"]).reset_index(drop=True)
    assert rows[["group", "value_start", "value_end"]].values.tolist() == [
        ["a", 0, 2], ["b", 2, 5], ["a", 0, 1], ["b", 1, 5]]
    assert (rows["x_end"] - rows["period_start"]).eq(pd.Timedelta(days=7) * 0.85).all()
    assert rows["when"].tolist() == ["02 Nov 2026", "02 Nov 2026", "09 Nov 2026", "09 Nov 2026"]
    assert chart.spec["encoding"]["color"]["scale"]["domain"] == ["a", "b"]


def test_lines_keep_a_missing_value_as_a_gap_and_label_each_series():
    # three weeks, p90 missing in the second: the row stays (null), and Vega-Lite breaks the line there
    df = pd.DataFrame({"period_start": pd.to_datetime(["2026-11-02", "2026-11-09", "2026-11-16"]),
                       "p50": [1.0, 2.0, 3.0], "p90": [5.0, None, 7.0]})
    chart = charts.lines(df, "period_start", {"p50": "p50", "p90": "p90"}, title="t", unit="hours", dash=["p90"])
    assert len(chart.data) == 6 and chart.data["value"].isna().sum() == 1
    assert chart.spec["mark"]["invalid"] == "break-paths-show-domains"
    assert chart.spec["encoding"]["strokeDash"]["scale"]["range"] == [[1, 0], [2, 3]]
    assert charts.lines(df, "period_start", {"p50": "p50", "p90": "p90"}, title="t", unit="hours",
                        dash=["p90"]) is chart          # built once per data
