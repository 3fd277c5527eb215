"""pages/reliability.py under AppTest: on the demo warehouse with the demo's SLOs and SLIs
(cadence/demo_slo.py), and on a warehouse without any."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import timedelta

import pytest

from cadence.config import parse_config
from cadence.demo import demo_config, demo_tables
from cadence.demo_slo import demo_slos, sli_rows
from metrics.slo import slo_status
from tests.apptest_support import DEMO_TODAY, dashboard_env, open_app, texts
from warehouse import connect, read_connection, upsert_rows

pytestmark = pytest.mark.xdist_group("dashboard")


def slo_toml() -> str:
    blocks = [f'[[slos]]\nname = "{s["name"]}"\nservice = "{s["service"]}"\nobjective = {s["objective"]}\n'
              f'window_days = {s["window_days"]}\n' for s in demo_slos()]
    return "\n".join(blocks)


@contextmanager
def config_env(path):
    saved = os.environ.get("CADENCE_CONFIG")
    os.environ["CADENCE_CONFIG"] = str(path)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("CADENCE_CONFIG", None)
        else:
            os.environ["CADENCE_CONFIG"] = saved


@pytest.fixture(scope="module")
def reliability_db(tmp_path_factory):
    from cadence.demo import build_demo

    folder = tmp_path_factory.mktemp("reliability")
    db = folder / "demo.duckdb"
    build_demo(db, seed=42, today=DEMO_TODAY)
    tables, cal = demo_tables(42, DEMO_TODAY)
    con = connect(db)
    upsert_rows(con, "sli_hours", sli_rows(tables["incidents"], cal.start, cal.days, 42))
    con.close()
    cfg = folder / "cadence.toml"
    cfg.write_text(slo_toml(), encoding="utf-8")
    return db, cfg, cal.start + timedelta(days=cal.days - 1)


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
    assert len(at.get("plotly_chart")) >= 1                              # the burn-down
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
