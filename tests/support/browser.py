"""Headless Chromium (Debian's, through Playwright; nothing is downloaded) for the browser tests."""

from __future__ import annotations

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
# once drawn. On the first load the chart component's code is still downloading: Streamlit shows a
# skeleton in its place (no chart container yet), so "drawn" also means no skeleton is left.
PLOTS_DRAWN = """() => !document.querySelector('[data-testid="stSkeleton"]')
                      && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
                           .every(chart => chart.querySelector('canvas, svg.marks'))"""


def settle(page: Any, title: str, timeout_ms: int = 90_000) -> None:
    """Wait until the page's title shows, the script run has finished and every chart is drawn
    (``timeout_ms``: a deadline for a busy machine, not an expected time)."""
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)
    page.wait_for_function(PLOTS_DRAWN, timeout=timeout_ms)
