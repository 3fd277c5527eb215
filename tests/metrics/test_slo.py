"""SLO metrics (metrics/slo.py) on hand-written rows in a real DuckDB file, with the arithmetic beside
each assertion. All figures as of 2026-03-03 00:00 UTC (``at=2026-03-02``: that date 24:00)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from cadence.core.config import parse_config
from metrics.slo import (
    SLO_STATUS_COLUMNS,
    SLOError,
    as_of,
    incident_availability,
    incident_availability_incidents,
    slo_burndown,
    slo_drilldown,
    slo_status,
)
from tests.support.metrics_rows import dep, inc, load
from warehouse import upsert_rows

AT = date(2026, 3, 2)                 # as of 2026-03-03 00:00
END = datetime(2026, 3, 3)

CONFIG = parse_config({
    "teams": {"core": {"services": ["api", "batch"]}, "web": {"services": ["web", "search"]}},
    "slos": [
        {"name": "api-availability", "service": "api", "objective": 99.0, "window_days": 1},
        {"name": "web-availability", "service": "web", "objective": 99.0, "window_days": 7},
        {"name": "search-latency", "service": "search", "objective": 99.9, "window_days": 28},
        {"name": "batch-success", "service": "batch", "objective": 95.0, "window_days": 1},
        {"name": "new-service", "service": "new", "objective": 99.5, "window_days": 7},
    ],
})


def hour_rows(slo, first, count, total, bad=lambda h: 0, skip=()):
    rows = []
    for i in range(count):
        h = first + timedelta(hours=i)
        if h not in skip:
            rows.append({"slo": slo, "hour": h, "good": total - bad(h), "total": total})
    return rows


@pytest.fixture
def filled(con):
    day = datetime(2026, 3, 2)
    rows = []
    # api: 24 hours of 2026-03-02, 1000 events each; bad 8 at 03:00, 30 at 05:00, 10 at 22:00,
    # 20 at 23:00. Two hours before the window: 2026-02-28 12:00 (1000, 100 bad: inside the 3-day
    # look-back, which starts 2026-02-28 00:00) and 2026-02-27 23:00 (1000, 500 bad: outside it).
    api_bad = {day.replace(hour=3): 8, day.replace(hour=5): 30, day.replace(hour=22): 10, day.replace(hour=23): 20}
    rows += hour_rows("api-availability", day, 24, 1000, lambda h: api_bad.get(h, 0))
    rows += [{"slo": "api-availability", "hour": datetime(2026, 2, 28, 12), "good": 900, "total": 1000},
             {"slo": "api-availability", "hour": datetime(2026, 2, 27, 23), "good": 500, "total": 1000}]
    # web: the 168 hours from 2026-02-24 00:00, 100 events each, but a gap at 2026-02-25 10:00;
    # 2 bad every hour of the last 72 (from 2026-02-28 00:00).
    rows += hour_rows("web-availability", datetime(2026, 2, 24), 168, 100,
                      lambda h: 2 if h >= datetime(2026, 2, 28) else 0, skip={datetime(2026, 2, 25, 10)})
    # search: the 672 hours of its 28-day window, 1000 events each; bad 5 in each of 18:00-22:00 and
    # 20 at 23:00 on 2026-03-02.
    rows += hour_rows("search-latency", END - timedelta(days=28), 672, 1000,
                      lambda h: 0 if h < day.replace(hour=18) else (20 if h.hour == 23 else 5))
    # batch: the 48 hours of 2026-03-01 and 03-02, 10 events each; 1 bad per hour on 03-02 only.
    rows += hour_rows("batch-success", datetime(2026, 3, 1), 48, 10, lambda h: 1 if h >= day else 0)
    upsert_rows(con, "sli_hours", rows)
    load(con, deployments=[
        dep("d1", "2026-03-02T04:50", service="api"),
        dep("d-web", "2026-03-02T20:00", repo="shop/web", service="web"),
        dep("b6", "2026-03-01T20:00", repo="shop/batch", service="batch"),     # before batch's window
        dep("b1", "2026-03-02T01:30", repo="shop/batch", service="batch"),
        dep("b7", "2026-03-02T12:00", repo="shop/batch", service="batch"),     # exactly on the hour
        dep("b2", "2026-03-02T13:00", repo="shop/batch", service="batch"),
        dep("b3", "2026-03-02T23:59", repo="shop/batch", service="batch"),
        dep("b4", "2026-03-02T20:00", repo="shop/batch", service="batch", env="staging"),
        dep("b5", "2026-03-02T21:00", repo="shop/batch", service="batch", status="failure"),
    ], incidents=[
        inc("i1", "2026-03-02T05:10", resolved="2026-03-02T06:20"),            # → d1 by service
        inc("i4", "2026-03-02T05:50", resolved="2026-03-02T06:50"),            # → d1, overlaps i1
        inc("i2", "2026-03-02T22:10", resolved="2026-03-02T22:40", caused_by="d-web"),  # explicit: web
        inc("i3", "2026-03-02T03:00", resolved="2026-03-02T03:30"),            # no api deploy before it
        inc("i5", "2026-03-02T18:00", service="web", repo="shop/web"),          # open
        inc("i6", "2026-03-01T23:00", service="payments-db", repo="shop/db", resolved="2026-03-02T01:00"),
    ])
    return con


def by_slo(df):
    return {row["slo"]: row for row in df.to_dict("records")}


def test_status_has_exactly_the_cli_keys_and_each_definition(filled):
    df = slo_status(filled, CONFIG, AT)
    assert list(df.columns) == list(SLO_STATUS_COLUMNS)
    assert list(df["slo"]) == sorted(s.name for s in CONFIG.slos)
    rows = by_slo(df)

    api = rows["api-availability"]
    # window = the 24 hours of 2026-03-02: total 24,000, bad 8 + 30 + 10 + 20 = 68, good 23,932
    assert (api["objective"], api["window_days"], api["good"], api["total"]) == (0.99, 1, 23_932, 24_000)
    assert api["attainment"] == pytest.approx(23_932 / 24_000)           # 0.99717
    # budget = 1 % of 24,000 = 240; remaining = 1 - 68 / 240 = 0.71667
    assert api["budget_remaining"] == pytest.approx(1 - 68 / 240)
    assert api["burn_rate_1h"] == pytest.approx((20 / 1000) / 0.01)      # 2.0
    assert api["burn_rate_6h"] == pytest.approx((30 / 6000) / 0.01)      # 18:00-23:00: 0.5
    # 3 days from 2026-02-28 00:00: the window plus 2026-02-28 12:00 (100 bad of 1000); the
    # 2026-02-27 23:00 hour is outside: (168 / 25,000) / 0.01 = 0.672
    assert api["burn_rate_3d"] == pytest.approx((168 / 25_000) / 0.01)
    assert api["status"] == "ok" and api["projected_exhaustion"] is None
    # change failures of api: i1 and i4 (both attributed to d1) were open in hours 05 and 06, whose
    # bad events are 30 + 0 = 30; i3 is attributed to nothing (no api deployment before 03:00), i2
    # explicitly to a web deployment: 30 / 240 = 0.125
    assert api["budget_burned_by_change_failures"] == pytest.approx(30 / 240)
    # d1 deployed at 04:50 with the window of hours before 04:00 (00-03: 4,000 events, 8 bad):
    # remaining 1 - 8 / 40 = 0.8, not exhausted
    assert api["deployments_into_exhausted_budget"] == 0

    web = rows["web-availability"]
    # 168 hours minus the gap = 167 x 100 = 16,700 events; bad 2 x 72 = 144; budget 167
    assert (web["good"], web["total"]) == (16_556, 16_700)
    assert web["budget_remaining"] == pytest.approx(1 - 144 / 167)      # 23/167 = 0.1377
    assert web["burn_rate_1h"] == pytest.approx(2.0) and web["burn_rate_6h"] == pytest.approx(2.0)
    assert web["burn_rate_3d"] == pytest.approx(2.0)                    # (144 / 7,200) / 0.01
    assert web["status"] == "slow-burn"                                 # 3 d > 1, 1 h not > 14.4
    # 23/167 of the budget left at twice the sustainable rate: (23/167) x 168 h / 2 = 11.6 h after
    # 2026-03-03 00:00, still 2026-03-03
    assert web["projected_exhaustion"] == date(2026, 3, 3)
    # i2 (explicitly caused by the web deployment) was open in 22:00, which had 2 bad: 2 / 167
    assert web["budget_burned_by_change_failures"] == pytest.approx(2 / 167)

    search = rows["search-latency"]
    # 672 x 1000 events; bad 5 x 5 + 20 = 45; budget 0.1 % = 672; remaining 1 - 45/672
    assert search["budget_remaining"] == pytest.approx(1 - 45 / 672)
    assert search["burn_rate_1h"] == pytest.approx((20 / 1000) / 0.001)  # 20 > 14.4
    assert search["burn_rate_6h"] == pytest.approx((45 / 6000) / 0.001)  # 7.5 > 6
    assert search["burn_rate_3d"] == pytest.approx((45 / 72_000) / 0.001)  # 0.625
    assert search["status"] == "fast-burn" and search["projected_exhaustion"] is None

    batch = rows["batch-success"]
    # 24 x 10 events, 24 bad; budget 5 % = 12; remaining 1 - 24/12 = -1 (overspent)
    assert batch["budget_remaining"] == pytest.approx(-1.0)
    assert batch["status"] == "exhausted" and batch["projected_exhaustion"] is None
    # burn 3 d: 48 hours, 24 bad of 480 = 5 % = exactly the budget rate: 1.0, not above
    assert batch["burn_rate_3d"] == pytest.approx(1.0)
    # deployments into an exhausted budget, each over the 24 hours before its hour:
    #   b1 01:30: hours 03-01 01:00..03-02 00:00: 1 bad of 240 → 1 - 1/12 > 0
    #   b7 12:00: hours 03-01 12:00..03-02 11:00: 12 bad → 1 - 12/12 = 0  → exhausted (<= 0)
    #   b2 13:00: 13 bad → -1/12 → exhausted;  b3 23:59: 23 bad → exhausted
    #   b4 (staging), b5 (failed) and b6 (before the window) do not count: 3
    assert batch["deployments_into_exhausted_budget"] == 3

    new = rows["new-service"]
    assert new["status"] == "no-data" and (new["good"], new["total"]) == (0, 0)
    assert all(new[k] is None or (isinstance(new[k], float) and math.isnan(new[k]))
               for k in ("attainment", "budget_remaining", "burn_rate_1h", "budget_burned_by_change_failures"))


def test_deployment_drilldown_shows_the_budget_each_deployed_into(filled):
    dd = slo_drilldown(filled, CONFIG, "deployments", AT, slo="batch-success")
    got = {r["deployment_id"]: (r["total"], r["budget_remaining"], r["exhausted"]) for r in dd.to_dict("records")}
    assert set(got) == {"b1", "b7", "b2", "b3"}
    assert got["b1"][0] == 240 and got["b1"][1] == pytest.approx(1 - 1 / 12) and not got["b1"][2]
    assert got["b7"][1] == pytest.approx(0.0) and got["b7"][2]
    assert got["b2"][1] == pytest.approx(1 - 13 / 12) and got["b3"][1] == pytest.approx(1 - 23 / 12)


def test_incident_drilldown_lists_the_change_failures_in_the_burn(filled):
    dd = slo_drilldown(filled, CONFIG, "incidents", AT)
    got = {(r["slo"], r["incident_id"]): (r["deployment_id"], r["bad_events"]) for r in dd.to_dict("records")}
    # i1 and i4 were each open in 05:00 (30 bad) and 06:00 (0); i2 in web's 22:00 (2 bad)
    assert got == {("api-availability", "i1"): ("d1", 30), ("api-availability", "i4"): ("d1", 30),
                   ("web-availability", "i2"): ("d-web", 2)}


def test_burndown_runs_from_the_window_start_to_the_status_figure(filled):
    bd = slo_burndown(filled, CONFIG, "web-availability", AT)
    assert len(bd) == 168 and bd["hour"].iloc[0] == datetime(2026, 2, 24)
    gap = bd[bd["hour"] == datetime(2026, 2, 25, 10)].iloc[0]
    assert math.isnan(gap["total"])                                     # the gap, shown as such
    # nothing bad before 2026-02-28: still the whole budget there
    assert bd[bd["hour"] == datetime(2026, 2, 27, 23)]["budget_remaining"].iloc[0] == pytest.approx(1.0)
    # after the first bad hour: 1 - 2/167
    assert bd[bd["hour"] == datetime(2026, 2, 28)]["budget_remaining"].iloc[0] == pytest.approx(1 - 2 / 167)
    assert bd["budget_remaining"].iloc[-1] == pytest.approx(1 - 144 / 167)
    flagged = bd[bd["change_failure"]]
    assert list(flagged["hour"]) == [datetime(2026, 3, 2, 22)] and list(flagged["incident_ids"].iloc[0]) == ["i2"]


def test_as_of_rules():
    assert as_of(date(2026, 3, 2)) == datetime(2026, 3, 3)                       # DATE 24:00
    assert as_of(None, now=datetime(2026, 3, 2, 14, 59, 59)) == datetime(2026, 3, 2, 14)
    assert as_of(datetime(2026, 3, 2, 14, 30)) == datetime(2026, 3, 2, 14)


def test_an_earlier_at_sees_an_earlier_window(filled):
    rows = by_slo(slo_status(filled, CONFIG, date(2026, 3, 1)))     # as of 2026-03-02 00:00
    # batch over 2026-03-01: 240 events, none bad
    assert (rows["batch-success"]["good"], rows["batch-success"]["total"]) == (240, 240)
    assert rows["batch-success"]["status"] == "ok"
    assert rows["api-availability"]["status"] == "no-data"            # api's rows start 03-02


def test_team_filter_and_unknown_names(filled):
    assert list(slo_status(filled, CONFIG, AT, team="core")["slo"]) == ["api-availability", "batch-success"]
    with pytest.raises(SLOError, match='Unknown SLO "nope"; declared SLOs: api-availability'):
        slo_burndown(filled, CONFIG, "nope", AT)
    empty = slo_status(filled, parse_config({}), AT)
    assert list(empty.columns) == list(SLO_STATUS_COLUMNS) and len(empty) == 0


def test_incident_based_availability(filled):
    df = incident_availability(filled, CONFIG, date(2026, 3, 2), date(2026, 3, 2))
    rows = {r["service"]: r for r in df.to_dict("records")}
    # api over the 24 hours of 2026-03-02: i3 03:00-03:30, i1 05:10-06:20 and i4 05:50-06:50
    # (merged: 05:10-06:50, 100 min), i2 22:10-22:40: 30 + 100 + 30 = 160 min
    assert rows["api"]["incident_hours"] == pytest.approx(160 / 60)
    assert rows["api"]["availability"] == pytest.approx(1 - (160 / 60) / 24)
    assert rows["api"]["incidents"] == 4 and rows["api"]["has_slo"]
    # web: i5 open since 18:00, open to the period's end: 6 h
    assert rows["web"]["availability"] == pytest.approx(1 - 6 / 24)
    # payments-db: i6 from 03-01 23:00, clipped to 00:00-01:00; no SLO
    assert rows["payments-db"]["availability"] == pytest.approx(1 - 1 / 24) and not rows["payments-db"]["has_slo"]
    # batch has deployments, search a team, no incident: 1.0
    assert rows["batch"]["availability"] == 1.0 and rows["search"]["availability"] == 1.0
    assert rows["api"]["period_hours"] == 24
    only_web = incident_availability(filled, CONFIG, date(2026, 3, 2), date(2026, 3, 2), team="web")
    assert list(only_web["service"]) == ["search", "web"]
    listed = incident_availability_incidents(filled, CONFIG, date(2026, 3, 2), date(2026, 3, 2), service="api")
    assert list(listed["incident_id"]) == ["i3", "i1", "i4", "i2"]
    assert list(listed["open_hours_in_period"]) == pytest.approx([0.5, 70 / 60, 1.0, 0.5])


def test_docs_define_every_figure():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    section = text[text.index("## 9. SLOs and error budgets"):text.index("## Compared with")]
    assert [k for k in SLO_STATUS_COLUMNS[6:] if f"`{k}`" not in section] == []
    assert all(f"`{s}`" in section for s in ("exhausted", "fast-burn", "slow-burn", "ok", "no-data"))
    assert section.count("*Worked example.*") >= 9
