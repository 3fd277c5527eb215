"""The dashboard on real synced data: `cadence sync github` against the fake GitHub and
`cadence sync pagerduty` against the fake PagerDuty (both real HTTP on 127.0.0.1), then every page
under AppTest on that warehouse, with the config that maps repos and services to teams.

Complements tests/dashboard/test_app.py (demo data) and the collectors' own tests: here the rows took the
collectors' path, not the demo generator's.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cadence.dashboard import ui
from cadence.cli import main
from warehouse.meta import effective_config
from cadence.core.config import load_config
from tests.support.apptest_support import PAGES, dashboard_env, open_app, texts
from tests.support.clock import NOW_ENV, now_text
from tests.support.fake_github import FakeGitHub
from tests.support.fake_github.scenarios import busy_repo
from tests.support.fake_pagerduty import running
from warehouse import read_connection

pytestmark = pytest.mark.xdist_group("dashboard")

# Pinned "today" of the dashboard: the synced history runs 2026-01-05 .. 2026-01-29.
TODAY = date(2026, 2, 2)


@pytest.fixture(scope="module")
def synced_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synced")
    db, cfg = tmp / "synced.duckdb", tmp / "cadence.toml"
    mp = pytest.MonkeyPatch()
    try:
        with FakeGitHub() as gh, running() as pd:
            # shop/api: 80 PRs, one every 6 h from 2026-01-05 09:00 (→ 2026-01-25 03:00), a
            # production deployment after every 4th merge (20); shop/web: 40 PRs, 10 deployments.
            # Both have a "ci" Actions run per merge, every 10th failing then passing on a re-run.
            busy_repo(gh, "shop/api", pulls=80, deployments=20, start="2026-01-05T09:00:00Z", seed=1, actions=True)
            busy_repo(gh, "shop/web", pulls=40, deployments=10, start="2026-01-06T10:00:00Z", seed=2, actions=True)
            pd.add("PDAPI1", "2026-01-12T11:00:00Z", service="PAPI", status="resolved",
                   resolved_at="2026-01-12T13:30:00Z")
            pd.add("PDAPI2", "2026-01-20T08:00:00Z", service="PAPI")            # still open
            cfg.write_text(
                "[teams.payments]\nrepos = [\"shop/api\"]\nservices = [\"api\"]\n"
                "[teams.storefront]\nrepos = [\"shop/web\"]\nservices = [\"web\"]\n"
                f"[sources.github]\nbase_url = \"{gh.base_url}\"\nrepos = [\"shop/api\", \"shop/web\"]\n"
                "min_request_interval = 0\nsince = \"2026-01-01\"\n"
                f"[sources.pagerduty]\nbase_url = \"{pd.url}\"\nservice_ids = [\"PAPI\"]\n"
                "[sources.pagerduty.services]\nPAPI = \"api\"\n", encoding="utf-8")
            mp.setenv("GITHUB_TOKEN", "test-token")
            mp.setenv("PAGERDUTY_TOKEN", pd.token)
            mp.setenv(NOW_ENV, now_text(datetime(2026, 2, 1, 12, 0)))   # the syncs' "now"
            base = ["--db", str(db), "--config", str(cfg), "sync"]
            assert main([*base, "github"]) == 0
            assert main([*base, "pagerduty", "--since", "2026-01-01"]) == 0
            assert not gh.invalid_queries
    finally:
        mp.undo()
    return db, cfg


@pytest.fixture
def synced(synced_files, monkeypatch):
    """The synced warehouse and its config, as the dashboard finds them (conftest clears both per test)."""
    db, cfg = synced_files
    monkeypatch.setenv("CADENCE_CONFIG", str(cfg))
    with dashboard_env(db, today=TODAY):
        yield db


def _metrics(db, f: ui.Filters):
    from metrics import dora_metrics

    cfg = effective_config(load_config(None), db)
    with read_connection(db) as con:
        return dora_metrics(con, cfg, **f.dora_args(period="total", benchmark=f.benchmark))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_synced_data(synced, page):
    at = open_app(page, query={ui.KEY_RANGE: "Last 4 weeks"})
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Demo data" not in texts(at)
    if page == "costs":
        # No cost source was synced here: the page says which command fills it, and shows no $0.
        assert "cadence sync aws-costs" in texts(at) or "cadence ingest costs" in texts(at)
        assert not at.metric
    else:
        assert len(at.get("vega_lite_chart")) + len(at.dataframe) + len(at.metric) > 0


def test_overview_shows_the_synced_numbers(synced):
    at = open_app(query={ui.KEY_RANGE: "Last 4 weeks"})
    f = at.session_state[ui.KEY_FILTERS]
    # The last day with data is shop/api's last deployment: its 80th merge (i = 79) at
    # 2026-01-05 09:00 + 79 × 6 h = 2026-01-25 03:00, deployed 30 min later → 2026-01-25 (a Sunday).
    # "Last 4 weeks" = that week's Monday 2026-01-19 − 3 weeks = 2025-12-29 .. 2026-01-25.
    assert (f.start, f.end) == (date(2025, 12, 29), date(2026, 1, 25))
    row = _metrics(synced, f).iloc[0]
    # Every deployment synced lies inside the last 4 weeks: 20 (shop/api) + 10 (shop/web).
    assert row["deployments"] == 30
    assert row["incidents"] == 2 and row["open_incidents"] == 1
    # The resolved PagerDuty incident took 2.5 h (11:00 → 13:30); it is the only one resolved.
    assert row["mttr_p50_hours"] == pytest.approx(2.5)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Deployment frequency"] == ui.fmt_per_week(row["deploys_per_week"])
    assert tiles["Lead time for changes"] == ui.fmt_hours(row["lead_time_p50_hours"])


def test_teams_page_lists_the_configured_teams_with_their_deployments(synced):
    at = open_app("teams", query={ui.KEY_RANGE: "Last 4 weeks"})
    assert not at.exception
    table = next(df.value for df in at.dataframe if "team" in df.value.columns)
    by_team = dict(zip(table["team"], table["deployments"], strict=True))
    assert by_team["payments"] == 20 and by_team["storefront"] == 10


def test_data_health_shows_both_sources_synced(synced):
    at = open_app("data_health", query={ui.KEY_RANGE: "Last 4 weeks"})
    assert not at.exception
    shown = "\n".join(df.value.to_csv() for df in at.dataframe)
    assert "github" in shown and "pagerduty" in shown
    assert "shop/api" in shown and "shop/web" in shown
