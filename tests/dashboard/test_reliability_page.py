"""pages/reliability.py under AppTest: on the demo warehouse as `cadence demo` builds it (the SLOs
and SLIs of collectors/demo/slo.py, no cadence.toml), and on a warehouse without any; the Overview's
SLO tile on the same demo."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest

from cadence.core.config import parse_config
from collectors.demo import demo_config, demo_tables
from collectors.demo.slo import demo_slos
from metrics.slo import slo_status
from tests.support.apptest_support import DEMO_TODAY, dashboard_env, open_app, texts
from tests.support.demo import shared_demo
from warehouse import connect, read_connection

pytestmark = pytest.mark.xdist_group("dashboard")


def slo_toml() -> str:
    blocks = [f'[[slos]]\nname = "{s["name"]}"\nservice = "{s["service"]}"\nobjective = {s["objective"]}\n'
              f'window_days = {s["window_days"]}\n' for s in demo_slos()]
    return "\n".join(blocks)


@contextmanager
def config_env(path):
    """CADENCE_CONFIG set to ``path`` (unset for None) for the duration."""
    with pytest.MonkeyPatch.context() as mp:
        if path is None:
            mp.delenv("CADENCE_CONFIG", raising=False)
        else:
            mp.setenv("CADENCE_CONFIG", str(path))
        yield


@pytest.fixture(scope="module")
def reliability_db(tmp_path_factory):
    """The demo as `cadence demo` builds it: its SLOs in its stored config, its SLIs in sli_hours.
    No cadence.toml: the page must find both on its own."""
    db = shared_demo(tmp_path_factory)
    _, cal = demo_tables(42, DEMO_TODAY)
    return db, None, cal.start + timedelta(days=cal.days - 1)


def test_reliability_page_on_the_demo(reliability_db):
    db, cfg, end = reliability_db
    with dashboard_env(db), config_env(cfg):
        at = open_app("reliability")
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Reliability"
    with read_connection(db) as con:
        expected = slo_status(con, parse_config({**demo_config(), "slos": demo_slos()}), end)
    tiles = {m.label: m.value for m in at.metric}
    within = int((expected["budget_remaining"] > 0).sum())
    assert tiles["SLOs within budget"] == f"{within} / 8"
    assert tiles["exhausted"] == str(int((expected["status"] == "exhausted").sum()))
    assert tiles["fast-burn"] == "1"                                      # search burns fast at the end
    status_table = at.dataframe[0].value
    assert len(status_table) == 8 and "orders-availability" in set(status_table["slo"])
    assert len(at.get("vega_lite_chart")) >= 1                              # the burn-down
    assert "Incident-based availability per service" in texts(at)


def test_team_filter_narrows_the_slos(reliability_db):
    db, cfg, _ = reliability_db
    with dashboard_env(db), config_env(cfg):
        at = open_app("reliability", query={"team": "fulfilment"})
    assert not at.exception, at.exception
    assert set(at.dataframe[0].value["slo"]) == {"orders-availability", "shipping-labels-success"}


def test_reliability_page_without_slos_says_what_to_do(tmp_path):
    db = tmp_path / "empty.duckdb"
    connect(db).close()
    with dashboard_env(db):
        at = open_app("reliability")
    assert not at.exception, at.exception
    assert "declare them under `[[slos]]`" in texts(at)


def test_overview_slo_tile_counts_the_slos_met_and_links_to_reliability(reliability_db):
    db, cfg, end = reliability_db
    with dashboard_env(db), config_env(cfg):
        at = open_app()
        team = open_app(query={"team": "fulfilment"})
    assert not at.exception, at.exception
    with read_connection(db) as con:
        config = parse_config({**demo_config(), "slos": demo_slos()})
        expected = slo_status(con, config, end)
        fulfilment = slo_status(con, config, end, team="fulfilment")
    # met = budget left > 0 (attainment above the objective), over the 8 demo SLOs as of the view's end
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["SLOs met"] == f"{int((expected['budget_remaining'] > 0).sum())} / 8"
    assert int(tiles["SLOs met"].split(" / ")[0]) < 8       # the story: some budget is overspent
    assert [p.proto.page for p in at.get("page_link")] == ["reliability"]   # the Reliability page's url path
    # the team filter applies: fulfilment owns orders (overspent) and shipping
    assert {m.label: m.value for m in team.metric}["SLOs met"] == \
        f"{int((fulfilment['budget_remaining'] > 0).sum())} / 2"
