"""The Pipelines page (pages/pipelines.py) in AppTest on the demo: its tiles are the figures of
metrics.pipelines for the page's view, the red spells list the demo's red day on checkout-api, cost
hides without the cost role, and the runs drill-down carries links."""

from __future__ import annotations

import pytest

from cadence.dashboard import ui
from warehouse.meta import effective_config
from cadence.core.config import load_config
from metrics.pipelines import pipeline_red_spells, pipeline_summary
from tests.support.apptest_support import dashboard_env, open_app, texts
from warehouse import read_connection


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _expected(db, f, **kw):
    config = effective_config(load_config(None), db)
    with read_connection(db) as con:
        return pipeline_summary(con, config, f.start, f.end, **kw)


def test_tiles_are_the_metrics_of_the_view(demo_warehouse):
    with dashboard_env(demo_warehouse):
        at = open_app("pipelines")
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        f = at.session_state[ui.KEY_FILTERS]
        row = _expected(demo_warehouse, f).iloc[0]
        assert at.title[0].value == "Pipelines"
        assert _metric(at, "Runs") == f"{int(row.runs):,}" and row.runs > 0
        assert _metric(at, "Success rate") == ui.fmt_pct(row.success_rate)
        assert _metric(at, "CI cost") == ui.fmt_money(row.ci_cost)
        assert _metric(at, "CI minutes") == f"{int(row.ci_minutes):,}"


def test_team_filter_changes_the_figures(demo_warehouse):
    with dashboard_env(demo_warehouse):
        at = open_app("pipelines", query={"team": "catalog"})
        assert not at.exception, at.exception
        f = at.session_state[ui.KEY_FILTERS]
        assert f.team == "catalog"
        row = _expected(demo_warehouse, f, by="team", scope="catalog").iloc[0]
        everyone = _expected(demo_warehouse, f).iloc[0]
        assert _metric(at, "Runs") == f"{int(row.runs):,}" and row.runs < everyone.runs
        assert _metric(at, "Flaky rate") == ui.fmt_pct(row.flaky_rate)


def test_red_spells_and_runs_with_links(demo_warehouse):
    with dashboard_env(demo_warehouse):
        at = open_app("pipelines", query={"range": "Last 12 weeks"})
        assert not at.exception, at.exception
        f = at.session_state[ui.KEY_FILTERS]
        assert f.preset == "12w"
        assert "Red spells on the default branch" in texts(at)
        config = effective_config(load_config(None), demo_warehouse)
        with read_connection(demo_warehouse) as con:
            spells = pipeline_red_spells(con, config, f.start, f.end)
        # the demo's red day: checkout-api main red from Tuesday 10:00 to Wednesday 15:00 = 29 h
        assert spells.iloc[0].repo == "brightcart/checkout-api" and spells.iloc[0].red_hours == pytest.approx(29)
        at.session_state["pl-runs"] = True
        at.run()
        runs = next(d.value for d in at.dataframe if "run_id" in d.value.columns)
        assert len(runs) == _expected(demo_warehouse, f).iloc[0].runs
        assert runs["url"].str.startswith("https://github.com/brightcart/").all()


def test_cost_hidden_without_the_cost_role(demo_warehouse, monkeypatch):
    from cadence.auth import gate

    class NoCost:
        def can(self, role):
            return role != "cost"

    monkeypatch.setattr(gate, "current_access", lambda: NoCost())
    with dashboard_env(demo_warehouse):
        at = open_app("pipelines")
        assert not at.exception, at.exception
        labels = [m.label for m in at.metric]
        shown = " ".join(" ".join(d.value.columns) for d in at.dataframe)
    assert "CI minutes" in labels and "CI cost" not in labels
    assert "ci_cost" not in shown and "CI minutes and cost" not in texts(at)


def test_teams_page_shows_ci_cost_and_flaky_rate(demo_warehouse):
    with dashboard_env(demo_warehouse):
        at = open_app("teams")
        assert not at.exception, at.exception
        f = at.session_state[ui.KEY_FILTERS]
        board = at.dataframe[0].value
        expected = _expected(demo_warehouse, f, by="team").set_index("scope")
    catalog = board[board["team"] == "catalog"].iloc[0]
    assert catalog["flaky_rate"] == pytest.approx(expected.loc["catalog", "flaky_rate"])
    assert catalog["ci_cost"] == pytest.approx(expected.loc["catalog", "ci_cost"]) and catalog["ci_cost"] > 0
