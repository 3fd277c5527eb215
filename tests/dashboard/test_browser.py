"""The real dashboard in a real browser: `streamlit run app.py` on a free 127.0.0.1 port against the
demo warehouse, driven by headless Chromium (Debian's, through Playwright; nothing is downloaded).

It walks every page, changes a filter, opens a drill-down, reloads to check the view survives in
the URL, checks the visible numbers against ``metrics.dora_metrics``, and takes a screenshot of
each page (into docs/screenshots/ under `make screenshots`). Without Chromium it skips locally; with CI=true
a missing Chromium fails, because a CI run that skips this test has not tested the dashboard.
"""

from __future__ import annotations

import os
import tempfile
import sys
from pathlib import Path

import pytest

from cadence.dashboard import ui
from warehouse.meta import effective_config
from cadence.core.config import load_config
from tests.support.apptest_support import DEMO_TODAY, REPO_ROOT
from tests.support.browser import PLOTS_DRAWN, chromium, require_browser, settle
from tests.support.clock import now_text
from tests.support.demo import DEFAULT_END, DEFAULT_START, expected_dora, shared_demo
from tests.support.net import dashboard_server, free_port
from warehouse import read_connection

# A deadline, not an expected time: a real browser through every page on a busy 2-core machine.
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser"), pytest.mark.timeout(900)]

# `make screenshots` points this at docs/screenshots (README shows them); a plain test run still takes
# every screenshot, into a scratch folder, so it never changes tracked files.
SCREENSHOTS = Path(os.environ.get("CADENCE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "cadence-screenshots")
# url path of each page (st.navigation derives it from the file name) -> its title. Delivery comes
# first on purpose: the first request to a fresh server is then a deep link (see ui._ensure_app_ran).
PAGES = {"delivery": "Delivery", "": "Overview", "stability": "Stability", "reliability": "Reliability",
         "teams": "Teams", "costs": "Costs",
         "capacity": "Capacity", "data_health": "Data health", "pipelines": "Pipelines"}
@pytest.fixture(scope="module")
def server(tmp_path_factory):
    chromium = require_browser()
    db = shared_demo(tmp_path_factory)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CADENCE_CONFIG",)}
    env.update(CADENCE_DB=str(db), CADENCE_NOW=now_text(DEMO_TODAY))
    command = [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
               "--server.fileWatcherType", "none"]
    with dashboard_server(command, port=port, env=env, log_path=tmp_path_factory.getbasetemp() / "streamlit.log",
                          cwd=REPO_ROOT) as (base, _log):
        yield {"base": base, "db": db, "chromium": chromium}


@pytest.fixture(scope="module")
def browser(server):
    with chromium(server["chromium"]) as b:
        yield b


# Every wait below is for a condition; the timeouts are deadlines for a busy machine.
DEADLINE_MS = 90_000
NEXT_FRAMES = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def _settle(page, title: str) -> None:
    settle(page, title, DEADLINE_MS)


def _tiles(page) -> dict[str, str]:
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def _assert_tiles(page, row) -> None:
    """Each tile shows its expected value: retried until it does (a run may still be drawing the
    tiles, e.g. after a filter's rerun) or the deadline passes, then compared as a whole."""
    from playwright.sync_api import expect

    want = {"Deployment frequency": ui.fmt_per_week(row["deploys_per_week"]),
            "Lead time for changes": ui.fmt_hours(row["lead_time_p50_hours"]),
            "Change failure rate": ui.fmt_pct(row["change_failure_rate"]),
            "Failed deployment recovery": ui.fmt_hours(row["recovery_time_p50_hours"]),
            "Rework rate": ui.fmt_pct(row["rework_rate"])}
    for label, value in want.items():
        tile = page.locator('[data-testid="stMetric"]').filter(
            has=page.locator('[data-testid="stMetricLabel"]', has_text=label))
        expect(tile.locator('[data-testid="stMetricValue"]').first).to_have_text(value, timeout=DEADLINE_MS)
    tiles = _tiles(page)
    assert {label: tiles.get(label) for label in want} == want


def _screenshot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    page.wait_for_function(PLOTS_DRAWN, timeout=DEADLINE_MS)
    page.evaluate(NEXT_FRAMES)   # the layout after the charts' last draw
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(max(900, height + 140), 4200)})
    page.evaluate(NEXT_FRAMES)   # charts re-layout to the new size
    page.wait_for_function(PLOTS_DRAWN, timeout=DEADLINE_MS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.mark.timeout(600)   # nine pages now (Pipelines added); a busy 2-core machine needs the room
def test_every_page_in_a_real_browser(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = server["base"]

    # Every page renders with the default view; screenshot each.
    for path, title in PAGES.items():
        page.goto(f"{base}/{path}")
        _settle(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0, f"{title}: exception on the page"
        assert page.locator('[data-testid="stSidebar"]').get_by_text("Filters").count() == 1  # app.py ran
        assert "Demo data" in page.inner_text("body")
        _screenshot(page, path or "overview")

    # The Overview's tiles are metrics.dora_metrics of the default view.
    page.goto(base)
    _settle(page, "Overview")
    _assert_tiles(page, expected_dora(server["db"], DEFAULT_START, DEFAULT_END, by="org"))

    # Change a filter: pick a team in the sidebar; the URL carries it and the tiles follow.
    teams = sorted(effective_config(load_config(None), server["db"]).teams)
    team = teams[1]
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Team").click()
    page.get_by_role("option", name=team, exact=True).click()
    page.wait_for_url(f"**team={team}**", timeout=DEADLINE_MS)
    # The team's caption comes from the new run; only then can "finished" mean that run finished.
    page.get_by_text(f"team {team}").first.wait_for(timeout=DEADLINE_MS)
    _settle(page, "Overview")
    row = expected_dora(server["db"], DEFAULT_START, DEFAULT_END, by="team", scope=team)
    _assert_tiles(page, row)

    # Open a drill-down: the rows behind the deployment count.
    page.get_by_text("Open the deployments behind these numbers").click()
    page.get_by_text(f"{int(row['deployments']):,} deployments").first.wait_for(timeout=DEADLINE_MS)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=DEADLINE_MS)

    # The grid's own toolbar offers no "Download as CSV" (it would write formula cells raw); the
    # "Download CSV" button under each table (neutralised, as `cadence export`) is the download.
    page.locator('[data-testid="stDataFrame"]').first.hover()
    page.locator('[data-testid="stElementToolbar"] button[aria-label="Search"]').first.wait_for(timeout=DEADLINE_MS)
    assert page.locator('[data-testid="stElementToolbar"] button[aria-label="Download as CSV"]').count() == 0
    page.get_by_role("button", name="Download CSV").first.wait_for(timeout=DEADLINE_MS)

    # Reload: the view survives, because it lives in the URL.
    page.reload()
    page.get_by_text(f"team {team}").first.wait_for(timeout=DEADLINE_MS)
    _settle(page, "Overview")
    _assert_tiles(page, row)

    # The filter follows to another page through the top navigation.
    page.get_by_role("link", name="Delivery").first.click()
    _settle(page, "Delivery")
    assert f"team {team}" in page.inner_text("body")

    # Dark theme stays legible: same numbers, screenshot for the README.
    page.emulate_media(color_scheme="dark")
    page.goto(base)
    _settle(page, "Overview")
    _assert_tiles(page, expected_dora(server["db"], DEFAULT_START, DEFAULT_END, by="org"))
    _screenshot(page, "overview-dark")

    assert not errors, errors


def test_the_capacity_page_downloads_the_review_that_opens_offline(server, browser, tmp_path):
    from cadence.report.capacity import capacity_report_html

    context = browser.new_context(accept_downloads=True, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server['base']}/capacity")
    _settle(page, "Capacity")
    assert "Bot changes:" in page.inner_text("body")
    # The report is on the Next quarter tab (it carries the scenario); a tab is a rerun and a URL.
    page.get_by_role("tab", name="Next quarter").click()
    page.get_by_role("button", name="Download report").wait_for(timeout=DEADLINE_MS)
    _settle(page, "Capacity")
    assert "tab=Next+quarter" in page.url
    with page.expect_download(timeout=DEADLINE_MS) as info:
        page.get_by_role("button", name="Download report").click()
    download = info.value
    assert download.suggested_filename == "capacity-review-2026-Q4.html"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    # The same bytes as `cadence report capacity --quarter 2026-Q4` on that day (default scenario).
    cfg = effective_config(load_config(None), server["db"])
    with read_connection(server["db"]) as con:
        expected = capacity_report_html(con, cfg, "2026-Q4", as_of=DEMO_TODAY)
    assert saved.read_bytes() == expected
    # It opens with the network cut off, every team's page included.
    context.set_offline(True)
    doc = context.new_page()
    requests: list[str] = []
    doc.on("request", lambda r: requests.append(r.url))
    doc.goto(saved.as_uri())
    doc.get_by_role("heading", name="Capacity review 2026-Q4").wait_for(timeout=DEADLINE_MS)
    assert doc.locator("section.team").count() == len(cfg.teams)
    assert doc.locator("svg").count() >= len(cfg.teams) + 1
    assert requests == [saved.as_uri()]   # nothing but the file itself was requested
    context.close()
    assert not errors, errors


def test_pipelines_page_in_a_real_browser(server, browser):
    """The Pipelines page (issue 18): its tiles are metrics.pipelines of the view, a team in the URL
    narrows them, and the runs behind the numbers open in a table."""
    from playwright.sync_api import expect

    from metrics.pipelines import pipeline_summary

    cfg = effective_config(load_config(None), server["db"])

    def expected(**kw):
        with read_connection(server["db"]) as con:
            return pipeline_summary(con, cfg, DEFAULT_START, DEFAULT_END, **kw).iloc[0]

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for query, row in (("", expected()), ("?team=catalog", expected(by="team", scope="catalog"))):
        page.goto(f"{server['base']}/pipelines{query}")
        _settle(page, "Pipelines")
        want = {"Runs": f"{int(row.runs):,}", "Success rate": ui.fmt_pct(row.success_rate),
                "Flaky rate": ui.fmt_pct(row.flaky_rate), "CI cost": ui.fmt_money(row.ci_cost)}
        for label, value in want.items():
            tile = page.locator('[data-testid="stMetric"]').filter(
                has=page.locator('[data-testid="stMetricLabel"]', has_text=label))
            expect(tile.locator('[data-testid="stMetricValue"]').first).to_have_text(value, timeout=DEADLINE_MS)
        assert page.get_by_text("Red spells on the default branch").count() == 1
    page.get_by_text("Open the runs behind these numbers").click()
    page.get_by_role("button", name="Download CSV").last.wait_for(timeout=DEADLINE_MS)
    expect(page.locator('[data-testid="stExpander"] [data-testid="stDataFrame"]').first).to_be_visible(
        timeout=DEADLINE_MS)
    assert not errors, errors


def test_reliability_with_the_demo_slos_in_a_real_browser(server, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    base = server["base"]
    page.goto(base)
    _settle(page, "Overview")
    # The demo's SLOs: the Overview's tile counts those met and links to Reliability, which shows them
    # with their budgets (metrics.slo.slo_status as of the view's end, on the demo's own SLIs).
    from metrics.slo import slo_status

    with read_connection(server["db"]) as con:
        slos = slo_status(con, effective_config(load_config(None), server["db"]), DEFAULT_END)
    assert len(slos) == 8
    met = f"{int((slos['budget_remaining'] > 0).sum())} / {len(slos)}"
    # Wait for the tile itself (a condition), not only for the script to settle: on a busy machine the
    # settled state can be read between the heading and the rest of the run.
    page.locator('[data-testid="stMetricLabel"]', has_text="SLOs met").first.wait_for(timeout=DEADLINE_MS)
    assert _tiles(page)["SLOs met"] == met
    page.get_by_role("link", name="Open Reliability").click()
    page.wait_for_url(f"{base}/reliability**", timeout=DEADLINE_MS)
    _settle(page, "Reliability")
    page.locator('[data-testid="stMetricLabel"]', has_text="SLOs within budget").first.wait_for(timeout=DEADLINE_MS)
    tiles = _tiles(page)
    assert tiles["SLOs within budget"] == met
    assert tiles["fast-burn"] == str(int((slos["status"] == "fast-burn").sum())) != "0"
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 1         # the budget burn-down
    assert page.locator('[data-testid="stVegaLiteChart"] .role-title-text',
                        has_text="Error budget burn-down of").count() == 1
    # the SLOs and the availability tables: waited for, like the tiles (they can draw after the charts)
    page.locator('[data-testid="stDataFrame"]').nth(1).wait_for(timeout=DEADLINE_MS)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 2
    assert page.locator('[data-testid="stException"]').count() == 0
    assert not errors, errors
    page.close()
