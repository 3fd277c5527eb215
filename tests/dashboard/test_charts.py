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
    fig = charts.incident_timeline(incidents, title="t")
    drawn = {y for trace in fig.data for y in trace.y}
    assert drawn == {f"svc-{i:02d}" for i in range(25)}
    assert sum(len(trace.y) for trace in fig.data) == 450


def test_busiest_services_breaks_ties_by_name_and_keeps_few_services_whole():
    # b and a both have 2 incidents, c 1: a before b (name), then c; three services fit under the cap
    incidents = _incidents({"b": 2, "c": 1, "a": 2})
    assert charts.busiest_services(incidents, 2) == ["a", "b"]
    fig = charts.incident_timeline(incidents, title="t")
    assert {y for trace in fig.data for y in trace.y} == {"a", "b", "c"}
