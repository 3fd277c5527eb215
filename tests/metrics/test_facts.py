"""The rollup path (metrics.facts: the DORA facts of a range computed once, then read by every query
of that range) gives the very numbers of the direct path (the fragments composed into each query),
on the demo warehouse and on hand-written rows; and the store computes each range once."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from cadence.core.config import load_config
from metrics import dora_metrics, dora_metrics_views, drilldown
from metrics.capacity_review import bot_changes
from metrics.facts import FactStore, compute_facts, facts_for, using_store
from tests.support.metrics_rows import chg, dep, inc, load
from warehouse.meta import effective_config

DEMO_END = date(2026, 11, 15)


@pytest.fixture(scope="module")
def demo(demo_warehouse):
    con = duckdb.connect(str(demo_warehouse), read_only=True)
    yield con, effective_config(load_config(None), demo_warehouse)
    con.close()


def direct(call):
    with using_store(None, ""):
        return call()


RANGES = [(DEMO_END - timedelta(weeks=12) + timedelta(days=1), DEMO_END),   # the default view
          (date(2026, 1, 1), DEMO_END),                                     # most of a year
          (date(2026, 8, 3), date(2026, 8, 9))]                             # one week


@pytest.mark.parametrize("start,end", RANGES)
@pytest.mark.parametrize("by", ["org", "team", "repo", "service"])
def test_dora_metrics_on_facts_equal_direct(demo, start, end, by):
    con, cfg = demo
    store = FactStore()
    for period in ("week", "month", "total"):
        with using_store(store, "demo"):
            rolled = dora_metrics(con, cfg, start, end, by=by, period=period)
        pd.testing.assert_frame_equal(rolled, direct(lambda: dora_metrics(con, cfg, start, end, by=by, period=period)))
    assert len(store) == 1          # three periods, one computation of the range's facts
    assert len(rolled) > 0          # (the comparison is over real rows, not two empty frames)


def test_scoped_views_and_drilldowns_on_facts_equal_direct(demo):
    con, cfg = demo
    start, end = RANGES[0]
    store = FactStore()
    team = sorted(cfg.teams)[0]
    with using_store(store, "demo"):
        for kind in ("deployments", "incidents", "changes"):
            for by, scope in (("org", None), ("team", team)):
                rolled = drilldown(con, cfg, kind, start, end, by=by, scope=scope)
                assert len(rolled) > 0
                pd.testing.assert_frame_equal(rolled, direct(lambda: drilldown(con, cfg, kind, start, end, by=by,
                                                                               scope=scope)))
        rolled_bots = bot_changes(con, cfg, start, end, by="team", scope=team)
    assert rolled_bots == direct(lambda: bot_changes(con, cfg, start, end, by="team", scope=team))
    # changes read the facts with the range's merged-but-undeployed changes (with_merged): a second set
    assert sorted(f.with_merged for _key, f in store.items()) == [False, True]


def test_covering_facts_serve_every_view_inside_them(demo):
    """The Overview's range (the period and the one before it) covers each page's period: dora_metrics
    of the period reads those facts, no new computation, and gives the direct numbers."""
    con, cfg = demo
    start, end = RANGES[0]
    before_start = start - timedelta(weeks=12)
    store = FactStore()
    views = ((start, end, "total"), (before_start, start - timedelta(days=1), "total"), (start, end, "week"))
    with using_store(store, "demo"):
        now, before, trend = dora_metrics_views(con, cfg, views, by="team")
        weekly = dora_metrics(con, cfg, start, end, by="repo", period="week")
    assert len(store) == 1
    pd.testing.assert_frame_equal(weekly, direct(lambda: dora_metrics(con, cfg, start, end, by="repo", period="week")))
    for frame, (s, e, period) in zip((now, before, trend), views, strict=True):
        pd.testing.assert_frame_equal(frame, direct(lambda: dora_metrics(con, cfg, s, e, by="team", period=period)))


def test_hand_written_rows_on_facts(con, config):
    # d1 ships c1 (lead 10:00 − 08:00 = 2 h); d2 ships c2 (lead 01-11 10:00 − 01-10 10:00 = 24 h);
    # i1 (service api, 1 h after d2) is attributed to d2: CFR 1/2 = 0.5, recovery 15:00 − 11:00 = 4 h.
    load(con, deployments=[dep("d1", "2024-01-09T10:00", sha="a1", started="2024-01-09T09:50"),
                           dep("d2", "2024-01-11T10:00", sha="a2", started="2024-01-11T09:50")],
         changes=[chg("c1", "2024-01-09T09:00", first_commit="2024-01-09T08:00", opened="2024-01-09T08:30"),
                  chg("c2", "2024-01-10T12:00", first_commit="2024-01-10T10:00", opened="2024-01-10T11:00")],
         incidents=[inc("i1", "2024-01-11T11:00", resolved="2024-01-11T15:00")])
    with using_store(FactStore(), "rows"):
        row = dora_metrics(con, config, date(2024, 1, 8), date(2024, 1, 14), period="total").iloc[0]
    assert (row["deployments"], row["changes_deployed"], row["failed_deployments"]) == (2, 2, 1)
    assert row["lead_time_p50_hours"] == 13.0          # (2 + 24) / 2
    assert row["change_failure_rate"] == 0.5 and row["recovery_time_p50_hours"] == 4.0


def test_no_store_means_the_direct_path(demo):
    con, cfg = demo
    assert facts_for(con, cfg, *RANGES[0]) is None


def test_store_computes_a_range_once_for_concurrent_callers(demo, monkeypatch):
    con, cfg = demo
    calls = []
    real = compute_facts

    def counting(*args, **kwargs):
        calls.append(args[2:4])
        return real(*args, **kwargs)

    monkeypatch.setattr("metrics.facts.compute_facts", counting)
    store = FactStore()
    results = []

    def ask():
        cur = con.cursor()
        with using_store(store, "demo"):
            results.append(facts_for(cur, cfg, *RANGES[2]))
        cur.close()

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_store_drops_the_least_recently_used(demo):
    con, cfg = demo
    store = FactStore(max_entries=2)
    with using_store(store, "demo"):
        first = facts_for(con, cfg, *RANGES[2])
        facts_for(con, cfg, date(2026, 8, 10), date(2026, 8, 16))
        assert facts_for(con, cfg, *RANGES[2]) is first          # used again: now the most recent
        facts_for(con, cfg, date(2026, 8, 17), date(2026, 8, 23))
        assert facts_for(con, cfg, *RANGES[2]) is first          # the August 10 week went instead
    assert len(store) == 2
