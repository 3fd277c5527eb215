"""The Delivery page on the demo warehouse (AppTest): a tab each for the trends, the stages per team
and the changes; only the open tab is computed and sent, and each tab's figures are metrics/'."""

from __future__ import annotations

import json

import pytest

from cadence.dashboard import ui
from cadence.core.config import load_config
from metrics.export import export_changes_table
from tests.support.apptest_support import open_app, texts
from warehouse import read_connection
from warehouse.meta import effective_config

pytestmark = pytest.mark.xdist_group("dashboard")


def open_tab(tab: str | None = None):
    at = open_app("delivery", query={ui.KEY_TAB: tab} if tab else None)
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def chart_titles(at) -> list[str]:
    titles = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        titles += [v["title"]["text"] for v in spec.get("vconcat", [spec])]
    return titles


def test_the_trends_tab_is_the_default_and_draws_only_the_trends(demo):
    at = open_tab()
    assert [t.label for t in at.tabs] == ["Trends", "Per team", "Changes"]
    assert chart_titles(at) == ["Production deployments per week, by repo", "Lead time for changes (first commit → "
                                "production)", "Days with at least one deployment, per week",
                                "Where a change waits: p50 of each stage per week"]
    assert "Bot changes:" in texts(at)
    assert not at.dataframe   # the slowest changes are on the Changes tab, the rows behind expanders


def test_the_per_team_tab_draws_the_stage_breakdown_only(demo):
    at = open_tab("Per team")
    assert chart_titles(at) == ["Stage breakdown per team (p50 hours)"]
    assert not any(w.key == "delivery-split" for w in at.get("segmented_control"))


def test_the_changes_tab_shows_the_distribution_and_the_25_slowest(demo):
    at = open_tab("Changes")
    [title] = chart_titles(at)
    assert title.startswith("Lead-time distribution of changes")
    f = at.session_state[ui.KEY_FILTERS]
    cfg = effective_config(load_config(None), demo)
    with read_connection(demo) as con:
        changes = export_changes_table(con, cfg, f.start, f.end, by=f.by, scope=f.scope)
    # The 25 longest lead times of the range's changes, longest first, as the table shows them.
    expected = changes.dropna(subset=["lead_time_hours"]).nlargest(25, "lead_time_hours")
    shown = at.dataframe[0].value
    assert len(shown) == 25 < len(changes)
    assert list(shown["lead_time_hours"]) == list(expected["lead_time_hours"])
    assert set(shown["change_id"]) <= set(changes["change_id"])
    assert f"{len(changes):,} changes deployed or merged in the range" in texts(at)
    # Switching tabs is a rerun that draws the other tab.
    at.session_state[ui.KEY_TAB] = at.query_params[ui.KEY_TAB] = "Trends"
    at.run()
    assert not any(t.startswith("Lead-time distribution") for t in chart_titles(at)) and not at.dataframe
