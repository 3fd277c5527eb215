"""The Costs page on the demo warehouse (AppTest): the tiles and the split above two tabs, Over time
(charts) and Movers and anomalies (tables); only the open tab is computed and sent, and the tables
are metrics/' figures."""

from __future__ import annotations

import pytest

from cadence.core.config import load_config
from cadence.dashboard import ui
from metrics.costs import cost_anomalies, top_movers
from tests.support.apptest_support import open_app
from warehouse import read_connection
from warehouse.meta import effective_config

pytestmark = pytest.mark.xdist_group("dashboard")


def open_tab(tab: str | None = None, **query):
    at = open_app("costs", query={**({ui.KEY_TAB: tab} if tab else {}), **query} or None)
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def test_over_time_is_the_default_tab_and_sends_no_table(demo):
    at = open_tab()
    assert [t.label for t in at.tabs] == ["Over time", "Movers and anomalies"]
    assert {"Cloud cost (amortized)", "Cost per deployment"} <= {m.label for m in at.metric}
    assert len(at.get("vega_lite_chart")) == 3
    assert not at.dataframe


def test_the_movers_and_anomalies_tab_shows_metrics_figures(demo):
    at = open_tab("Movers and anomalies")
    assert not at.get("vega_lite_chart")
    f = at.session_state[ui.KEY_FILTERS]
    cfg = effective_config(load_config(None), demo)
    with read_connection(demo) as con:
        movers = top_movers(con, cfg, f.start, f.end, by="service", n=10)
        anomalies = cost_anomalies(con, cfg, f.start, f.end, by="team")
    shown = {tuple(df.value.columns): df.value for df in at.dataframe}
    shown_movers = next(df for cols, df in shown.items() if "change_pct" in cols)
    assert len(movers) == 10 and list(shown_movers["scope"]) == list(movers["scope"])
    assert list(shown_movers["change"]) == pytest.approx(list(movers["change"]))
    assert f"Anomalies ({len(anomalies)})" in [s.value for s in at.subheader]
    # The split above the tabs is the anomalies' too: per service, another set of days.
    at = open_tab("Movers and anomalies")
    at.segmented_control(key="costs-split").set_value("service").run()
    with read_connection(demo) as con:
        by_service = cost_anomalies(con, cfg, f.start, f.end, by="service")
    assert len(by_service) != len(anomalies)   # so the heading below tells the two splits apart
    assert f"Anomalies ({len(by_service)})" in [s.value for s in at.subheader]
