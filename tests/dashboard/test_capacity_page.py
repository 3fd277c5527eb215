"""The Capacity page on the demo warehouse (AppTest): the review's figures match metrics/, each tab
computes and sends only its own content, the scenario lives in the URL and moves the one forecast,
and without the cost role no cost shows."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cadence.dashboard import ui
from warehouse.meta import effective_config
from cadence.core.config import load_config
from metrics.capacity_review import next_quarter_forecast
from tests.support.apptest_support import dashboard_env, open_app, texts
from warehouse import read_connection

pytestmark = pytest.mark.xdist_group("dashboard")
QUERY = {ui.KEY_RANGE: "This year"}


def _frame_with(at, column):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _weight(at):
    """The balance's "Weighted by" control (the sidebar has a segmented control of its own)."""
    return [w for w in at.get("segmented_control") if w.key == ui.KEY_WEIGHT]


def open_review(tab: str | None = None, query: dict | None = None, opened: tuple[str, ...] = ()):
    """The Capacity page on ``tab`` (the default, Investment balance, when None), with the rows
    expanders ``opened`` open."""
    at = open_app("capacity", query={**(query or QUERY), **({ui.KEY_TAB: tab} if tab else {})})
    if opened:
        for key in opened:
            at.session_state[key] = True
        at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    return at


def test_the_page_shows_the_review(demo):
    at = open_review(opened=("cap-balance-rows",))
    labels = [m.label for m in at.metric]
    assert {"Changes shipped · 2026-Q4", "Active contributors · 2026-Q4", "Unplanned share · 2026-Q4",
            "Cloud cost · 2026-Q4"} <= set(labels)
    text = texts(at)
    assert "Bot changes:" in text and "excluded" in text and "`dependabot*`" in text
    balance = _frame_with(at, "share_by_count")
    assert set(balance["category"]) == {"feature", "maintenance", "unplanned", "other"}

    at = open_review("Contributors")
    assert "never a per-person measure" in texts(at)
    people = _frame_with(at, "active_contributors")
    assert "author" not in people.columns   # counts per team, never per person

    at = open_review("Next quarter", opened=("cap-table-rows",))
    assert "Forecast cost · 2027-Q1" in [m.label for m in at.metric]
    assert "Compute, Networking" in texts(at)   # which services the scenario treats as usage-driven
    assert any(b.label == "Download report" for b in at.get("download_button"))
    # The quarter table's forecast rows are the scenario panel's figures, and the tile their sum.
    table = _frame_with(at, "is_forecast")
    forecast = _frame_with(at, "cost_forecast")
    fc = table[table["is_forecast"]].set_index("team")
    for r in forecast.itertuples():
        assert fc.at[r.team, "effective_cost"] == pytest.approx(r.cost_forecast)
        assert fc.at[r.team, "changes_deployed"] == pytest.approx(r.changes_forecast)
    tile = next(m.value for m in at.metric if m.label.startswith("Forecast cost"))
    assert tile == ui.fmt_money(forecast["cost_forecast"].sum())
    # The review quarter's cost tile is the quarter table's figure for that quarter, on every tab.
    cost = next(m.value for m in at.metric if m.label == "Cloud cost · 2026-Q4")
    assert cost == ui.fmt_money(table[table["quarter"] == "2026-Q4"]["effective_cost"].sum())

    at = open_review("Right-sizing")
    assert "saving" in _frame_with(at, "saving").columns


def test_only_the_open_tab_is_computed_and_sent(demo):
    # The default tab: the balance, and nothing of the scenario, the forecast or the right-sizing.
    at = open_review()
    assert [t.label for t in at.tabs] == ["Investment balance", "Contributors", "Next quarter", "Right-sizing"]
    assert _weight(at) and not at.number_input and not at.dataframe
    assert not any(b.label == "Download report" for b in at.get("download_button"))
    assert "Forecast" not in texts(at) and "target utilization" not in texts(at)
    # The Next quarter tab: the scenario and forecast, no balance control.
    at = open_review("Next quarter")
    assert at.number_input(key=ui.KEY_GROWTH) is not None and not _weight(at)
    assert [df.value.columns[0] for df in at.dataframe] == ["team"]   # the forecast only (the quarter table is closed)
    # Switching tabs is a rerun that draws the other tab (and the browser's URL follows the tab).
    at.session_state[ui.KEY_TAB] = at.query_params[ui.KEY_TAB] = "Contributors"
    at.run()
    assert not at.number_input and "never a per-person measure" in texts(at)


def test_the_scenario_comes_from_the_url(demo):
    at = open_review("Next quarter", query={**QUERY, ui.KEY_GROWTH: "20", f"{ui.KEY_CONTRIBUTORS}checkout": "2"})
    assert at.number_input(key=ui.KEY_GROWTH).value == 20
    shown = _frame_with(at, "cost_forecast").set_index("team")
    f = at.session_state[ui.KEY_FILTERS]
    cfg = effective_config(load_config(None), demo)
    start = date(2026, 1, 1)   # "This year": 2026-Q1 .. the review quarter 2026-Q4, four quarters
    with read_connection(demo) as con:
        expected = next_quarter_forecast(con, cfg, start, f.end, 20.0, {"checkout": 2}).set_index("team")
        base = next_quarter_forecast(con, cfg, start, f.end).set_index("team")
    for team in expected.index:
        assert shown.at[team, "cost_forecast"] == pytest.approx(expected.at[team, "cost_forecast"])
        assert shown.at[team, "changes_forecast"] == pytest.approx(expected.at[team, "changes_forecast"])
    assert shown.at["checkout", "changes_forecast"] > base.at["checkout", "changes_forecast"]
    assert shown.at["catalog", "cost_forecast"] > base.at["catalog", "cost_forecast"]


def test_a_contributor_input_only_for_the_teams_picked(demo):
    # No change in the link: the scenario panel has the growth input and the team picker, no team input.
    at = open_review("Next quarter")
    picker = at.multiselect(key=ui.KEY_SCENARIO_TEAMS)
    # every team with contributors ("unallocated" cost has none to change)
    assert picker.value == [] and set(picker.options) == set(_frame_with(at, "cost_forecast")["team"]) - {"unallocated"}
    assert [n.key for n in at.number_input] == [ui.KEY_GROWTH]
    base = _frame_with(at, "cost_forecast").set_index("team")
    # Picking two teams gives each an input; a change typed into one moves that team's forecast only.
    picker.set_value(["fulfilment", "checkout"]).run()
    keys = [n.key for n in at.number_input]
    assert keys == [ui.KEY_GROWTH, f"{ui.KEY_CONTRIBUTORS}checkout", f"{ui.KEY_CONTRIBUTORS}fulfilment"]
    at.number_input(key=f"{ui.KEY_CONTRIBUTORS}checkout").set_value(3).run()
    moved = _frame_with(at, "cost_forecast").set_index("team")
    assert moved.at["checkout", "changes_forecast"] > base.at["checkout", "changes_forecast"]
    assert moved.at["fulfilment", "changes_forecast"] == pytest.approx(base.at["fulfilment", "changes_forecast"])
    # Unpicked again, the team's change no longer counts (its input is gone with it).
    at.multiselect(key=ui.KEY_SCENARIO_TEAMS).set_value(["fulfilment"]).run()
    assert [n.key for n in at.number_input] == [ui.KEY_GROWTH, f"{ui.KEY_CONTRIBUTORS}fulfilment"]
    again = _frame_with(at, "cost_forecast").set_index("team")
    assert again.at["checkout", "changes_forecast"] == pytest.approx(base.at["checkout", "changes_forecast"])
    # A link naming a team's change (dc-checkout=2) picks that team; a zero, a word or "inf" picks none.
    at = open_review("Next quarter", query={**QUERY, f"{ui.KEY_CONTRIBUTORS}checkout": "2",
                                            f"{ui.KEY_CONTRIBUTORS}catalog": "0", f"{ui.KEY_CONTRIBUTORS}growth": "x",
                                            f"{ui.KEY_CONTRIBUTORS}data": "inf"})
    assert at.multiselect(key=ui.KEY_SCENARIO_TEAMS).value == ["checkout"]
    assert at.number_input(key=f"{ui.KEY_CONTRIBUTORS}checkout").value == 2


def test_without_the_cost_role_the_page_shows_nothing(demo, monkeypatch):
    # Issue 15: only the cost role sees Costs and Capacity; reached anyway (a shared link), the page
    # stops before any figure, money or not, is sent.
    monkeypatch.setattr(ui, "can_see_costs", lambda: False)
    at = open_app("capacity", query=QUERY)
    assert not at.exception and not at.error
    assert at.title[0].value == "Not available"
    assert not at.metric and not at.dataframe
    assert "Right-sizing" not in texts(at)


def test_a_team_filter_keeps_only_that_team(demo):
    query = {**QUERY, ui.KEY_TEAM: "fulfilment"}
    for tab, opened, columns in ((None, ("cap-balance-rows",), ("share_by_count",)),
                                 ("Contributors", (), ("active_contributors",)),
                                 ("Next quarter", ("cap-table-rows",), ("cost_forecast", "is_forecast")),
                                 ("Right-sizing", (), ("saving",))):
        at = open_review(tab, query=query, opened=opened)
        for column in columns:
            assert set(_frame_with(at, column)["team"]) == {"fulfilment"}, column


@pytest.mark.parametrize("kind", ["empty", "costs only", "merged, never deployed"])
def test_thin_warehouses_do_not_break_the_page(tmp_path, kind):
    from warehouse import connect, upsert_rows, write_connection

    db = tmp_path / "thin.duckdb"
    connect(db).close()
    with write_connection(db) as con:
        if kind == "costs only":
            upsert_rows(con, "costs", [{"charge_date": date(2026, 11, d), "source": "test", "provider": "AWS",
                                        "billing_account_id": "1", "sub_account_id": "1", "service_name": "EC2",
                                        "region": "us-east-1", "resource_id": "", "allocation_tag": "", "team": "",
                                        "service_category": "Compute", "billed_cost": 5.0, "effective_cost": 5.0}
                                       for d in range(1, 10)])
        if kind == "merged, never deployed":
            upsert_rows(con, "changes", [{"id": f"c{i}", "repo": "shop/api", "number": i, "title": "feat: x",
                                          "author": "ana", "labels": [], "merged_at": datetime(2026, 11, 3 + i, 9)}
                                         for i in range(3)])
    with dashboard_env(db):
        at = open_review(opened=("cap-balance-rows", "cap-drill"))
        assert at.title[0].value == "Capacity"
        assert "No changes in this view yet" in texts(at)
        for tab in ("Contributors", "Next quarter", "Right-sizing"):
            at = open_review(tab, opened=("cap-table-rows",) if tab == "Next quarter" else ())
            assert at.title[0].value == "Capacity", tab
