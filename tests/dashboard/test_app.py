"""The dashboard under Streamlit's AppTest: every page on the demo warehouse and on an empty one,
the shared filters (URL-bound), the numbers against metrics/, drill-downs and cache invalidation.

The demo warehouse is built once per session with a fixed ``today``; CADENCE_NOW pins the
dashboard's "today" too, so nothing depends on the current date.
"""

from __future__ import annotations

import json
import tomllib
from datetime import date, datetime

import pyarrow as pa
import pytest

from cadence.dashboard import ui
from warehouse.meta import effective_config
from cadence.core.config import load_config
from tests.support.apptest_support import PAGES, REPO_ROOT, dashboard_env, open_app, texts
from warehouse import connect, read_connection, upsert_rows, write_connection

pytestmark = pytest.mark.xdist_group("dashboard")

TITLES = {"overview": "Overview", "delivery": "Delivery", "stability": "Stability", "reliability": "Reliability",
          "teams": "Teams", "costs": "Costs", "capacity": "Capacity", "data_health": "Data health",
          "pipelines": "Pipelines"}


@pytest.fixture
def empty(tmp_path):
    path = tmp_path / "empty.duckdb"
    connect(path).close()
    with dashboard_env(path):
        yield path


def _metrics(db, f: ui.Filters, **override):
    from metrics import dora_metrics

    cfg = effective_config(load_config(None), db)
    args = {**f.dora_args(period="total", benchmark=f.benchmark), **override}
    with read_connection(db) as con:
        return dora_metrics(con, cfg, **args)


def _tiles(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _assert_tiles_match(at, row) -> None:
    tiles = _tiles(at)
    assert tiles["Deployment frequency"] == ui.fmt_per_week(row["deploys_per_week"])
    assert tiles["Lead time for changes"] == ui.fmt_hours(row["lead_time_p50_hours"])
    assert tiles["Change failure rate"] == ui.fmt_pct(row["change_failure_rate"])
    assert tiles["Failed deployment recovery"] == ui.fmt_hours(row["recovery_time_p50_hours"])
    assert tiles["Rework rate"] == ui.fmt_pct(row["rework_rate"])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_demo_data(demo, page):
    at = open_app(page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == TITLES[page]
    assert "Demo data" in texts(at)
    # Every page shows figures or tables of its own.
    assert len(at.get("vega_lite_chart")) + len(at.dataframe) + len(at.metric) > 0


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_warehouse(empty, page):
    at = open_app(page)
    assert not at.exception, at.exception
    assert at.title[0].value == TITLES[page]
    assert "Demo data" not in texts(at)
    # An empty page says what to run to fill it.
    assert "cadence sync" in texts(at) or "cadence ingest" in texts(at)


def test_overview_numbers_are_the_metrics_of_the_default_view(demo):
    at = open_app()
    f = at.session_state[ui.KEY_FILTERS]
    # Demo data ends on the Sunday before its today (Fri 2026-11-20) = 2026-11-15; "Last 12 weeks"
    # starts on the Monday 11 weeks before that week's Monday 2026-11-09: 2026-11-09 - 77 d = 2026-08-24.
    assert (f.as_of, f.start, f.end, f.preset) == (date(2026, 11, 15), date(2026, 8, 24), date(2026, 11, 15), "12w")
    row = _metrics(demo, f).iloc[0]
    assert row["deployments"] > 100
    _assert_tiles_match(at, row)
    # Each band sits beside its tile as a badge naming the benchmark year.
    for column in ("band_deployment_frequency", "band_lead_time", "band_change_failure_rate", "band_recovery_time"):
        assert f"-badge[{row[column].capitalize()} · DORA 2024]" in texts(at)
    # Each tile's sparkline is an image of its trend, titled with the first and last week: the 12
    # weeks 24 Aug .. 09 Nov of the same view (five keys and the cost tile).
    sparks = [h.proto.body for h in at.get("html") if "data:image/svg+xml" in h.proto.body]
    assert len(sparks) == 6
    trend = _metrics(demo, f, period="week")
    first, last = trend.iloc[0], trend.iloc[-1]
    assert (f'title="{first["period_start"]:%d %b} {ui.fmt_per_week(first["deploys_per_week"])} to '
            f'{last["period_start"]:%d %b} {ui.fmt_per_week(last["deploys_per_week"])}"') in sparks[0]
    assert first["period_start"].strftime("%d %b") == "24 Aug" and last["period_start"].strftime("%d %b") == "09 Nov"


def test_team_filter_changes_the_numbers_to_that_team(demo):
    at = open_app()
    before = _tiles(at)
    team = at.selectbox(key=ui.KEY_TEAM).options[1]
    at.selectbox(key=ui.KEY_TEAM).set_value(team).run()
    assert not at.exception
    f = at.session_state[ui.KEY_FILTERS]
    assert f.team == team and f.by == "team"
    row = _metrics(demo, f).iloc[0]
    assert row["scope"] == team
    _assert_tiles_match(at, row)
    assert _tiles(at) != before


def test_range_preset_and_period_change_the_view(demo):
    at = open_app()
    at.selectbox(key=ui.KEY_RANGE).set_value(ui.PRESETS["26w"]).run()
    f = at.session_state[ui.KEY_FILTERS]
    # 26 weeks: Monday 2026-11-09 minus 25 weeks (175 days) = 2026-05-18.
    assert (f.start, f.end) == (date(2026, 5, 18), date(2026, 11, 15))
    _assert_tiles_match(at, _metrics(demo, f).iloc[0])
    at.button_group(key=ui.KEY_PERIOD).set_value("Monthly").run()
    assert not at.exception
    assert at.session_state[ui.KEY_FILTERS].period == "month"
    assert "Monthly trends" in texts(at)


def test_a_shared_link_restores_the_view(demo):
    at = open_app()
    team = at.selectbox(key=ui.KEY_TEAM).options[2]
    linked = open_app("delivery", query={ui.KEY_TEAM: team, ui.KEY_RANGE: "Last quarter", ui.KEY_PERIOD: "Monthly"})
    f = linked.session_state[ui.KEY_FILTERS]
    # "Last quarter" from 2026-11-15 is Q3: 2026-07-01 .. 2026-09-30.
    assert (f.team, f.start, f.end, f.period) == (team, date(2026, 7, 1), date(2026, 9, 30), "month")
    assert linked.title[0].value == "Delivery"
    assert f"team {team}" in texts(linked)


def test_custom_dates_drive_the_range(demo):
    at = open_app(query={ui.KEY_RANGE: "Custom dates", ui.KEY_DATES: ["2026-03-02", "2026-03-29"]})
    f = at.session_state[ui.KEY_FILTERS]
    assert (f.start, f.end, f.days) == (date(2026, 3, 2), date(2026, 3, 29), 28)
    _assert_tiles_match(at, _metrics(demo, f).iloc[0])


def test_repo_filter_narrows_to_that_repo(demo):
    at = open_app()
    box = at.selectbox(key=ui.KEY_SCOPE)
    shown = next(o for o in box.options if o.endswith(" (repo)"))  # labels read "NAME (repo)"
    repo = shown.removesuffix(" (repo)")
    box.set_value(f"repo:{repo}").run()
    f = at.session_state[ui.KEY_FILTERS]
    assert (f.by, f.repo, f.scope) == ("repo", repo, repo)
    rows = _metrics(demo, f)
    assert list(rows["scope"]) == [repo]
    _assert_tiles_match(at, rows.iloc[0])
    assert f"repo {repo}" in texts(at)


def test_picking_a_team_on_the_teams_page_filters_every_page(demo):
    at = open_app("teams")
    pills = at.button_group(key="teams-pick")
    team = pills.options[0].content if hasattr(pills.options[0], "content") else pills.options[0]
    pills.set_value(team).run()
    assert not at.exception
    assert at.session_state[ui.KEY_TEAM] == team
    at.switch_page("pages/overview.py").run()
    f = at.session_state[ui.KEY_FILTERS]
    assert f.team == team
    _assert_tiles_match(at, _metrics(demo, f).iloc[0])


def test_drilldown_opens_to_the_rows_behind_the_numbers(demo):
    from metrics import drilldown

    at = open_app()
    assert not any(df.value.shape[0] for df in at.dataframe)  # closed expanders load nothing
    at.session_state["ov-drill-deployments"] = True
    at.run()
    f = at.session_state[ui.KEY_FILTERS]
    cfg = effective_config(load_config(None), demo)
    with read_connection(demo) as con:
        expected = drilldown(con, cfg, "deployments", **f.dora_args())
    shown = at.dataframe[0].value
    assert len(shown) == len(expected) == _metrics(demo, f).iloc[0]["deployments"]
    assert any(b.label == "Download CSV" for b in at.get("download_button"))


def test_capacity_page_shows_the_quarter_table_with_a_download(demo):
    at = open_app("capacity", query={ui.KEY_RANGE: "This year", ui.KEY_TAB: "Next quarter"})
    at.session_state["cap-table-rows"] = True   # the quarter table is behind its rows expander
    at.run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert {"team", "quarter", "effective_cost", "cost_of_idle", "is_forecast"} <= set(table.columns)
    assert table["is_forecast"].any()
    assert any(b.label == "Download CSV" for b in at.get("download_button"))


def test_a_finished_sync_shows_on_the_next_run(empty):
    at = open_app()
    assert _tiles(at).get("Deployment frequency") in (None, "—")
    # Another process (a sync) writes a week of deployments; no restart, just the next interaction.
    with write_connection(empty) as con:
        upsert_rows(con, "deployments", [
            {"id": f"d{i}", "repo": "shop/api", "service": "api", "environment": "production", "status": "success",
             "started_at": datetime(2026, 11, 9 + i, 10), "finished_at": datetime(2026, 11, 9 + i, 10, 5)}
            for i in range(5)])
    at.run()
    f = at.session_state[ui.KEY_FILTERS]
    assert f.as_of == date(2026, 11, 13)  # the last deployment's day is the new "data through"
    # 5 deployments over the 12 weeks 2026-08-24 .. 2026-11-13 (81 days): 5 / (81 / 7) = 0.43 per week.
    assert _tiles(at)["Deployment frequency"] == "0.4 / week"


def test_missing_database_says_what_to_run(tmp_path):
    with dashboard_env(tmp_path / "nothing.duckdb"):
        at = open_app()
    assert not at.exception
    assert "cadence demo" in at.error[0].value


def _contrast(one: str, other: str) -> float:
    """WCAG 2 contrast ratio of two "#rrggbb" colours (1 to 21)."""
    def luminance(colour: str) -> float:
        r, g, b = (int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4))
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# Streamlit's own backgrounds; .streamlit/config.toml sets no backgroundColor of its own.
BACKGROUND = {"light": "#ffffff", "dark": "#0e1117"}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_both_themes_render(demo, theme):
    from cadence.dashboard.charts import ANOMALY, FORECAST
    from tests.support.apptest_support import new_app_test

    at = new_app_test()
    at.context = {"theme": theme}
    at.run()
    assert not at.exception
    # The Overview on the demo draws six charts, each titled and with rows: deployments, change failure
    # rate, lead time, recovery time, rework rate and cloud cost, as three stacks of two (one Vega view
    # per column, charts.stack), each chart reading its own named dataset.
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3
    views = [view for c in charts for view in json.loads(c.proto.spec)["vconcat"]]
    assert [v["title"]["text"] for v in views] == ["Production deployments", "Change failure rate",
                                                   "Lead time for changes", "Recovery time", "Rework rate",
                                                   "Cloud cost (amortized)"]
    rows = {d.name: pa.ipc.open_stream(d.data.data).read_all().num_rows for c in charts for d in c.proto.datasets}
    assert len(rows) == 2 and all(n > 0 for n in rows.values())     # chart_0 and chart_1 of each stack
    assert all(pa.ipc.open_stream(d.data.data).read_all().num_rows > 0 for c in charts for d in c.proto.datasets)
    # Their colours come from the Streamlit theme, so they follow light and dark ...
    assert all(c.proto.theme == "streamlit" for c in charts)
    # ... and each theme has its own primary colour, readable on its own background (WCAG text
    # contrast 4.5:1; the dark theme's #7b90f5 is 2.94:1 on white, so one colour would not serve),
    # while the charts' few fixed colours keep 3:1 (WCAG non-text) on both backgrounds.
    themes = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))["theme"]
    primary = themes[theme]["primaryColor"]
    assert primary != themes["dark" if theme == "light" else "light"]["primaryColor"]
    assert _contrast(primary, BACKGROUND[theme]) >= 4.5
    assert all(_contrast(fixed, BACKGROUND[theme]) >= 3 for fixed in (ANOMALY, FORECAST))


def test_data_health_names_a_failing_source_and_what_to_run(empty):
    from warehouse import record_sync_error, write_cursor

    with write_connection(empty) as con:
        write_cursor(con, "pagerduty", "all", "2026-11-10T00:00:00Z", rows_written=12, now=datetime(2026, 11, 1, 6))
        record_sync_error(con, "github", "shop/api", 'Repository "shop/api" not found; check GITHUB_TOKEN.',
                          now=datetime(2026, 11, 12, 6))
    at = open_app("data_health")
    assert not at.exception
    warnings = "\n".join(w.value for w in at.warning)
    # github failed: the error and the command to re-run; pagerduty last succeeded on 1 Nov, more
    # than 2 days before "today" (CADENCE_NOW 2026-11-20 12:00 with no data: as of = today): stale.
    assert "github · shop/api" in warnings and "not found; check GITHUB_TOKEN" in warnings
    assert "`cadence sync github`" in warnings
    assert "pagerduty · all" in warnings and "Stale" in warnings and "`cadence sync pagerduty`" in warnings


def test_data_health_shows_a_skipped_part_apart_from_failures(empty):
    from warehouse import record_sync_skipped, write_cursor

    with write_connection(empty) as con:
        write_cursor(con, "aws-cost-explorer", "costs", "2026-11-19", rows_written=40, now=datetime(2026, 11, 19, 6))
        record_sync_skipped(con, "aws-cost-explorer", "commitments",
                            "the endpoint at http://127.0.0.1:5000 does not implement GetSavingsPlansUtilization",
                            now=datetime(2026, 11, 19, 6))
    at = open_app("data_health")
    assert not at.exception
    infos = "\n".join(i.value for i in at.info)
    assert "aws-cost-explorer · commitments" in infos and "Skipped" in infos
    assert "does not implement GetSavingsPlansUtilization" in infos
    assert not any("commitments" in w.value for w in at.warning)    # not shown as failing



def test_data_health_flags_a_key_written_twice_around_cadence(empty):
    with write_connection(empty) as con:
        upsert_rows(con, "changes", [{"id": "c1", "repo": "shop/api"}])
    assert not [e for e in open_app("data_health").error if "changes" in e.value]   # one row per key: quiet
    with write_connection(empty) as con:   # a manual INSERT, not an upsert
        con.execute("INSERT INTO changes (id, repo) VALUES ('c1', 'shop/api')")
    at = open_app("data_health")
    assert not at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "**changes**: 1 key(s) held by more than one row (1 extra rows)" in errors
    assert "docs/operations.md" in errors
