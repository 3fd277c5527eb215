"""The real dashboard in a real browser: `streamlit run app.py` on a free 127.0.0.1 port against the
demo warehouse, driven by headless Chromium (Debian's, through Playwright; nothing is downloaded).

It walks every page, changes a filter, opens a drill-down, reloads to check the view survives in
the URL, checks the visible numbers against ``metrics.dora_metrics``, and takes a screenshot of
each page (into docs/screenshots/ under `make screenshots`). Without Chromium it skips locally; with CI=true
a missing Chromium fails, because a CI run that skips this test has not tested the dashboard.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from cadence import ui
from cadence.config import effective_config, load_config
from tests.apptest_support import DEMO_TODAY, REPO_ROOT
from warehouse import read_connection

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

# `make screenshots` points this at docs/screenshots (README shows them); a plain test run still takes
# every screenshot, into a scratch folder, so it never changes tracked files.
SCREENSHOTS = Path(os.environ.get("CADENCE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "cadence-screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# url path of each page (st.navigation derives it from the file name) -> its title. Delivery comes
# first on purpose: the first request to a fresh server is then a deep link (see ui._ensure_app_ran).
PAGES = {"delivery": "Delivery", "": "Overview", "stability": "Stability", "reliability": "Reliability",
         "teams": "Teams", "costs": "Costs",
         "capacity": "Capacity", "data_health": "Data health"}
# Demo data ends on Sunday 2026-11-15 (the Sunday before DEMO_TODAY); "Last 12 weeks" starts on the
# Monday 11 weeks before that week's Monday 2026-11-09, i.e. 2026-08-24.
DEFAULT_START, DEFAULT_END = date(2026, 8, 24), date(2026, 11, 15)


def _chromium() -> str | None:
    for candidate in (os.environ.get("CADENCE_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _require_browser() -> str:
    path = _chromium()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        message = "Chromium or Playwright for Python is missing (apt-get install chromium; pip install playwright)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: in CI the browser test must run, not skip.")
        pytest.skip(message)
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from cadence.demo import build_demo

    chromium = _require_browser()
    db = tmp_path_factory.mktemp("browser") / "demo.duckdb"
    build_demo(db, seed=42, today=DEMO_TODAY)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CADENCE_CONFIG",)}
    env.update(CADENCE_DB=str(db), CADENCE_TODAY=DEMO_TODAY.isoformat())
    log = (tmp_path_factory.getbasetemp() / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start; see {log.name}")
        time.sleep(0.3)
    yield {"base": base, "db": db, "chromium": chromium}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=server["chromium"], args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _settle(page, title: str) -> None:
    """Wait until the page's title shows and the script run has finished."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=30_000)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000)
    page.wait_for_timeout(600)  # Plotly draws after the script run ends


def _tiles(page) -> dict[str, str]:
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def _expected(db, start, end, **kw):
    from metrics import dora_metrics

    cfg = effective_config(load_config(None), db)
    with read_connection(db) as con:
        return dora_metrics(con, cfg, start, end, period="total", benchmark="2024", **kw).iloc[0]


def _assert_tiles(page, row) -> None:
    tiles = _tiles(page)
    assert tiles["Deployment frequency"] == ui.fmt_per_week(row["deploys_per_week"])
    assert tiles["Lead time for changes"] == ui.fmt_hours(row["lead_time_p50_hours"])
    assert tiles["Change failure rate"] == ui.fmt_pct(row["change_failure_rate"])
    assert tiles["Failed deployment recovery"] == ui.fmt_hours(row["recovery_time_p50_hours"])
    assert tiles["Rework rate"] == ui.fmt_pct(row["rework_rate"])


def _screenshot(page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it."""
    height, last = 0, -1
    for _ in range(20):  # until the layout stops growing (charts draw after the script run)
        height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        if height == last:
            break
        last = height
        page.wait_for_timeout(300)
    page.set_viewport_size({"width": 1440, "height": min(max(900, height + 140), 4200)})
    page.wait_for_timeout(700)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1440, "height": 900})


def test_every_page_in_a_real_browser(server, browser):
    started = time.monotonic()
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
    _assert_tiles(page, _expected(server["db"], DEFAULT_START, DEFAULT_END, by="org"))

    # Change a filter: pick a team in the sidebar; the URL carries it and the tiles follow.
    teams = sorted(effective_config(load_config(None), server["db"]).teams)
    team = teams[1]
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Team").click()
    page.get_by_role("option", name=team, exact=True).click()
    page.wait_for_url(f"**team={team}**", timeout=15_000)
    _settle(page, "Overview")
    page.get_by_text(f"team {team}").first.wait_for(timeout=15_000)
    row = _expected(server["db"], DEFAULT_START, DEFAULT_END, by="team", scope=team)
    _assert_tiles(page, row)

    # Open a drill-down: the rows behind the deployment count.
    page.get_by_text("Open the deployments behind these numbers").click()
    page.get_by_text(f"{int(row['deployments']):,} deployments").first.wait_for(timeout=30_000)
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)

    # Reload: the view survives, because it lives in the URL.
    page.reload()
    _settle(page, "Overview")
    page.get_by_text(f"team {team}").first.wait_for(timeout=15_000)
    _assert_tiles(page, row)

    # The filter follows to another page through the top navigation.
    page.get_by_role("link", name="Delivery").first.click()
    _settle(page, "Delivery")
    assert f"team {team}" in page.inner_text("body")

    # Dark theme stays legible: same numbers, screenshot for the README.
    page.emulate_media(color_scheme="dark")
    page.goto(base)
    _settle(page, "Overview")
    _assert_tiles(page, _expected(server["db"], DEFAULT_START, DEFAULT_END, by="org"))
    _screenshot(page, "overview-dark")

    assert not errors, errors
    assert time.monotonic() - started < 120
