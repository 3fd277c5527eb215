"""Headless Chromium (Debian's, through Playwright; nothing is downloaded) for the browser tests."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@contextmanager
def chromium(executable: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def find_chromium() -> str | None:
    """``CADENCE_CHROMIUM``, else Debian's chromium on PATH or in /usr/bin."""
    for candidate in (os.environ.get("CADENCE_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium",
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def require_browser() -> str:
    """The Chromium to drive; without one (or without Playwright) the test fails in CI and is skipped
    elsewhere, saying what to install."""
    path = find_chromium()
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


# Charts draw after the script run ends: each Vega-Lite chart's container holds its canvas (or SVG)
# once drawn, and so does a tile's own sparkline (``st.metric(chart_data=...)``, a Vega view too,
# its container there as soon as the tile is). On the first load the chart component's code is still
# downloading: Streamlit shows a skeleton in its place (no chart container yet), so "drawn" also
# means no skeleton is left. The Overview's tile sparklines are images (charts.sparkline): loaded.
PLOTS_DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]')
                      && [...document.querySelectorAll('[data-testid="stVegaLiteChart"], [data-testid="stMetricChart"]')]
                           .every(chart => chart.querySelector('canvas, svg.marks'))
                      && [...document.querySelectorAll('[data-testid="stHtml"] img')].every(img => img.complete)"""


def settle(page: Any, title: str, timeout_ms: int = 90_000) -> None:
    """Wait until the page's title shows, the script run has finished and every chart is drawn
    (``timeout_ms``: a deadline for a busy machine, not an expected time)."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)
    page.wait_for_function(PLOTS_DRAWN, timeout=timeout_ms)


# -- the in-page stopwatch (benchmarks/bench_browser.py) -------------------------------------------
# What a person sees, timed inside the page: from the click (the event's own timestamp) to the first
# animation frame at which ``settle``'s conditions all hold — the page's title shows, the script run
# has finished and every chart is drawn. Playwright's own work (resolving a locator, its actionability
# checks before a click, each wait's round trip) falls outside the interval; a check per frame is a
# few querySelector calls. ``DRAWN_JS`` is ``settle``'s conditions as one function of the title.
DRAWN_JS = """(title) => [...document.querySelectorAll('h1 [data-heading-text]')]
                         .some(h => h.textContent.trim() === title)
                    && !!document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]')
                    && !document.querySelector('[data-testid="stStatusWidget"]')
                    && (%s)()""" % PLOTS_DRAWN

STOPWATCH_JS = """([title, extra]) => {
  const drawn = %s;
  const more = extra ? new Function('return (' + extra + ')')() : () => true;
  const watch = window.__cadenceStopwatch = {start: null, end: null};
  document.addEventListener('click', e => { watch.start = e.timeStamp; }, {capture: true, once: true});
  const tick = () => {
    if (watch.start !== null && drawn(title) && more()) { watch.end = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}""" % DRAWN_JS

# For the first load: armed before the page's own scripts run; the clock starts at the navigation
# (performance.now() counts from it).
FIRST_LOAD_JS = """(() => {
  if (window !== window.top) return;
  const drawn = %s;
  const watch = window.__cadenceStopwatch = {start: 0, end: null};
  const tick = () => {
    if (document.readyState !== 'loading' && drawn(%%s)) { watch.end = performance.now(); return; }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})()""" % DRAWN_JS


def arm_stopwatch(page: Any, title: str, extra: str | None = None) -> None:
    """Start watching for the next click to lead to ``title`` drawn (and ``extra``, a JavaScript
    function of no arguments, holding)."""
    page.evaluate(STOPWATCH_JS, [title, extra])


def arm_first_load(page: Any, title: str) -> None:
    """Before ``page.goto``: time the navigation until ``title`` is drawn (``read_stopwatch``)."""
    page.add_init_script(FIRST_LOAD_JS % json.dumps(title))


def read_stopwatch(page: Any, timeout_ms: int = 90_000) -> float:
    """Seconds from the armed click (or the navigation) to the page drawn, measured in the page."""
    page.wait_for_function("() => window.__cadenceStopwatch && window.__cadenceStopwatch.end !== null",
                           timeout=timeout_ms, polling=50)
    watch = page.evaluate("() => window.__cadenceStopwatch")
    return (watch["end"] - watch["start"]) / 1000
