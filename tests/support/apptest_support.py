"""Running the dashboard under Streamlit's AppTest (used by tests/dashboard/test_app.py and
benchmarks/bench_pages.py).

AppTest quirk (Streamlit 1.67): every run resets ``PagesManager.uses_pages_directory`` and, because
a ``pages/`` folder sits beside app.py, the second and later runs take the old pages-folder path and
execute the page file *without* app.py (no sidebar, no filters). The real server never resets the
flag once ``st.navigation`` ran, so the shim below only restores, under test, what a browser gets.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "app.py"
PAGES = ("overview", "delivery", "stability", "reliability", "teams", "costs", "capacity", "data_health",
         "pipelines")
# The demo's fixed "today" in every dashboard test, benchmark and screenshot.
DEMO_TODAY = date(2026, 11, 20)


class _NavigationPagesManager(PagesManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        PagesManager.uses_pages_directory = False  # app.py uses st.navigation, as in a real session
        super().__init__(*args, **kwargs)


def install_navigation_shim() -> None:
    app_test_module.PagesManager = _NavigationPagesManager


_components: list[Any] = []


def new_app_test(timeout: float = 180) -> AppTest:
    """An AppTest of app.py. Each new AppTest scans every installed package for custom components
    (0.2-0.7 s here); a real server does that once at start, so the scan is shared between tests.
    ``timeout`` is each script run's deadline on a busy machine (a run takes seconds), not a target."""
    install_navigation_shim()
    at = AppTest.from_file(str(APP), default_timeout=timeout)
    if _components:
        at._bidi_component_manager = _components[0]
    return at


def _remember_components(at: AppTest) -> None:
    if not _components and getattr(at, "_bidi_component_manager", None) is not None:
        _components.append(at._bidi_component_manager)


@contextmanager
def dashboard_env(db: Path | str, today: date = DEMO_TODAY):
    """CADENCE_DB and CADENCE_TODAY set for the duration (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in ("CADENCE_DB", "CADENCE_TODAY")}
    os.environ["CADENCE_DB"] = str(db)
    os.environ["CADENCE_TODAY"] = today.isoformat()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def open_app(page: str | None = None, query: dict | None = None, timeout: float = 180) -> AppTest:
    """Run app.py (the Overview), then switch to ``page`` when given; the caller sets the env."""
    at = new_app_test(timeout)
    if query:
        at.query_params = dict(query)
    at.run()
    _remember_components(at)
    if page and page != "overview":
        at.switch_page(f"pages/{page}.py").run()
    return at


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning, error and success text on the page, joined."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)
