"""Running the dashboard under Streamlit's AppTest (used by tests/dashboard/test_app.py and
benchmarks/bench_pages.py).

AppTest quirk (Streamlit 1.67): every run resets ``PagesManager.uses_pages_directory`` and, because
a ``pages/`` folder sits beside app.py, the second and later runs take the old pages-folder path and
execute the page file *without* app.py (no sidebar, no filters). The real server never resets the
flag once ``st.navigation`` ran, so the shim below only restores, under test, what a browser gets.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import streamlit.testing.v1.app_test as app_test_module
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from tests.support.clock import NOW_ENV, now_text
from tests.support.demo import DEMO_TODAY  # noqa: F401  (re-exported: tests and benchmarks import it from here)

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "app.py"
PAGES = ("overview", "delivery", "stability", "reliability", "teams", "costs", "capacity", "data_health",
         "pipelines")


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
    """CADENCE_DB set, and "today" pinned through CADENCE_NOW, for the duration (undone afterwards)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CADENCE_DB", str(db))
        mp.setenv(NOW_ENV, now_text(today))
        yield


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
