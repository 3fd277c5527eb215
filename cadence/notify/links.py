"""Links into the dashboard: every message points at the view it summarises.

The dashboard keeps its filters in the URL (``cadence.dashboard.ui``: ``range``, ``dates``, ``team``,
``scope``), so a link names the page and the filters. The base is ``CADENCE_PUBLIC_URL`` (the
address users type; sign-in uses the same variable for its redirect), else the local dashboard.
"""

from __future__ import annotations

import os
from datetime import date
from urllib.parse import urlencode

from cadence.core.settings.notify import PUBLIC_URL_ENV

LOCAL_DASHBOARD = "http://localhost:8501"
# The page files of app.py; Streamlit serves pages/<name>.py at /<name>.
PAGES = ("", "delivery", "stability", "reliability", "teams", "costs", "capacity", "data_health")
CUSTOM_RANGE = "Custom dates"   # cadence.dashboard.ui.PRESETS["custom"]


def base_url() -> str:
    return (os.environ.get(PUBLIC_URL_ENV, "").strip() or LOCAL_DASHBOARD).rstrip("/")


def dashboard_url(page: str = "", *, start: date | None = None, end: date | None = None,
                  team: str | None = None, scope: str | None = None) -> str:
    """The dashboard's ``page`` filtered to [start, end] (inclusive) and a team or repo/service."""
    if page not in PAGES:
        raise ValueError(f"unknown dashboard page {page!r}")
    params: list[tuple[str, str]] = []
    if start is not None and end is not None:
        params += [("range", CUSTOM_RANGE), ("dates", start.isoformat()), ("dates", end.isoformat())]
    if team:
        params.append(("team", team))
    if scope:
        params.append(("scope", scope))
    url = f"{base_url()}/{page}" if page else f"{base_url()}/"
    return f"{url}?{urlencode(params)}" if params else url
