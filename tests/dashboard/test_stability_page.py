"""The Stability page on the demo warehouse (AppTest): the open incidents above three tabs (Trends,
Incidents, Failed deployments); only the open tab is computed and sent, and the tables are
metrics.drilldown's rows."""

from __future__ import annotations

import json

import pytest

from cadence.core.config import load_config
from cadence.dashboard import ui
from metrics import drilldown
from tests.support.apptest_support import open_app, texts
from warehouse import read_connection
from warehouse.meta import effective_config

pytestmark = pytest.mark.xdist_group("dashboard")


def open_tab(tab: str | None = None):
    at = open_app("stability", query={ui.KEY_TAB: tab} if tab else None)
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def rows(demo, at, kind):
    f = at.session_state[ui.KEY_FILTERS]
    with read_connection(demo) as con:
        return drilldown(con, effective_config(load_config(None), demo), kind, **f.dora_args())


def chart_titles(at) -> list[str]:
    return [json.loads(c.proto.spec)["title"]["text"] for c in at.get("vega_lite_chart")]


def test_the_open_incidents_are_above_the_tabs_on_every_tab(demo):
    for tab in (None, "Incidents", "Failed deployments"):
        at = open_tab(tab)
        incidents = rows(demo, at, "incidents")
        open_now = incidents[incidents["resolved_at"].isna()]
        assert f"Open incidents ({len(open_now)})" in [s.value for s in at.subheader], tab
    assert [t.label for t in at.tabs] == ["Trends", "Incidents", "Failed deployments"]


def test_trends_is_the_default_tab_and_draws_the_two_trends_only(demo):
    at = open_tab()
    assert chart_titles(at) == ["Change failure and rework rate per week", "Recovery time per week"]
    assert "Attribution:" not in texts(at) and "rolled back" not in texts(at)


def test_the_incidents_tab_draws_the_timeline_and_the_attribution(demo):
    at = open_tab("Incidents")
    [title] = chart_titles(at)
    assert title.startswith("Incident timeline by service")
    incidents = rows(demo, at, "incidents")
    counts = incidents["attribution"].value_counts()
    assert "Attribution: " + " · ".join(f"{k} {v}" for k, v in counts.items()) in texts(at)


def test_the_failed_deployments_tab_lists_each_failed_deployment(demo):
    at = open_tab("Failed deployments")
    assert not at.get("vega_lite_chart")
    deployments = rows(demo, at, "deployments")
    failed = deployments[deployments["failed"].astype(bool)]
    shown = next(df.value for df in at.dataframe if "failed" in df.value.columns)
    assert len(failed) > 0 and sorted(shown["deployment_id"]) == sorted(failed["deployment_id"])
    assert f"{len(failed):,} of {len(deployments):,} production deployments" in texts(at)
