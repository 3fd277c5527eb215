"""Warming the dashboard: the work of the default views done before anyone asks for it.

``cadence dashboard`` and ``cadence serve`` start Streamlit through ``cadence.dashboard.server``,
which, in the server's own process:

1. imports what every page needs (pandas, DuckDB, the metrics layer, Streamlit's chart element): a
   page's first run otherwise pays for those imports;
2. computes the DORA facts of the default ranges (the last 12 weeks, and the 24 weeks the
   Overview's comparison with the previous period covers): on a large warehouse the costly part of
   every DORA figure (metrics.facts);
3. once the server is up, reads Streamlit's static bundle into memory (``server.load_bundle``), then
   runs every page once with the default filters in a headless session
   (an ordinary Streamlit session whose client is this module, not a browser), which fills the result
   cache (``ui.RESULTS``) with exactly what a visitor's first visit asks for; then every other tab of
   the pages split into tabs (``ui.TABS``: a tab computes only its own content); then the Overview of
   each configured team, the view a lead picks next (at most MAX_TEAM_VIEWS);
4. then watches the warehouse's last-write token and the config file: after a write (a sync, an
   ingest, the webhook, or ``cadence serve``'s refreshed snapshot) it does 2 and 3's visits again, so the first
   visitor after a scheduled sync finds the default views ready.

The server reports healthy (``/_stcore/health``, what a browser and a load balancer wait for) once
the first round of 3 is done (team views included: a visitor arriving at once would otherwise share
the machine with them), or after ``CADENCE_WARM_READY_SECONDS`` (default 120) if that comes
first; the round goes on in the background then. Later rounds (after writes) never make it unhealthy.

Nothing here changes a number: the pages compute what they always compute, only earlier. With
sign-in configured the headless session is not signed in, so only 1, 2 and 4's facts are warmed.
``CADENCE_WARM=0`` switches the warm-up off.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterable
from datetime import timedelta

log = logging.getLogger(__name__)

WARM_ENV = "CADENCE_WARM"
READY_ENV = "CADENCE_WARM_READY_SECONDS"
READY_SECONDS = 120.0
# the pages in app.py's order, as the URL names them ("" is the Overview, the default page)
PAGE_PATHS = ("", "delivery", "stability", "reliability", "pipelines", "teams", "costs", "capacity",
              "data_health")
PAGE_TIMEOUT = 600.0
MAX_TEAM_VIEWS = 50      # teams whose Overview is warmed after the default views (in config order by name)
POLL_SECONDS = 5.0


_ready = threading.Event()


def enabled() -> bool:
    return os.environ.get(WARM_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def ready_budget() -> float:
    try:
        return max(0.0, float(os.environ.get(READY_ENV, READY_SECONDS)))
    except ValueError:
        return READY_SECONDS


def gate_health() -> None:
    """Make Streamlit's health check say "warming up" (503) until the first warm-up round is done."""
    from streamlit.runtime import Runtime

    original = Runtime.is_ready_for_browser_connection

    async def is_ready(self) -> tuple[bool, str]:
        ok, message = await original.fget(self)
        if ok and not _ready.is_set():
            return False, "warming up"
        return ok, message

    Runtime.is_ready_for_browser_connection = property(is_ready)


def preload() -> float:
    """Import the modules every page run needs; seconds taken."""
    t0 = time.perf_counter()
    import duckdb  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401
    import streamlit.elements.vega_charts  # noqa: F401

    import cadence.dashboard.charts  # noqa: F401
    import cadence.dashboard.ui  # noqa: F401
    import metrics.capacity_review  # noqa: F401
    import metrics.catalog  # noqa: F401
    import metrics.costs  # noqa: F401
    import metrics.dora  # noqa: F401
    import metrics.export  # noqa: F401
    import metrics.health  # noqa: F401
    import metrics.pipelines  # noqa: F401
    import metrics.service  # noqa: F401
    import metrics.slo  # noqa: F401
    import metrics.teams  # noqa: F401
    return time.perf_counter() - t0


def data_version() -> str | None:
    """The warehouse file, its last write and the config file: what the caches are keyed on
    (None when there is no warehouse yet)."""
    from cadence.dashboard import ui
    from warehouse.db import last_write_token

    db = ui.db_path()
    if not db.exists():
        return None
    return ui.data_version(str(db), last_write_token(db), ui._config_token())


def warm_facts() -> float:
    """Compute the DORA facts of the default ranges into the server's fact store; seconds taken."""
    from cadence.dashboard import ui
    from metrics.facts import facts_for, using_store
    from warehouse.db import last_write_token

    t0 = time.perf_counter()
    db = str(ui.db_path())
    token, config_token = last_write_token(db), ui._config_token()
    cfg = ui.config()
    start, end = ui.preset_range(ui.DEFAULT_PRESET, ui.as_of_day())
    before = start - timedelta(days=(end - start).days + 1)
    with using_store(ui.facts_store(), ui.data_version(db, token, config_token)), \
            ui.read_connection(db) as con:
        facts_for(con, cfg, before, end)                   # the Overview: the period and the one before
        facts_for(con, cfg, start, end)                    # drill-downs and bot changes of the period
        facts_for(con, cfg, start, end, with_merged=True)  # the changes behind lead time
    return time.perf_counter() - t0


class _HeadlessClient:
    """A session client that keeps nothing but whether the run has finished."""

    def __init__(self) -> None:
        self.finished = threading.Event()
        self.status: int | None = None

    def write_forward_msg(self, msg) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if msg.WhichOneof("type") == "script_finished":
            if msg.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return      # a st.rerun: the run that follows is the one to wait for
            self.status = msg.script_finished
            self.finished.set()

    @property
    def client_context(self):
        return None


def _on_loop(runtime, fn, *args):
    """Run ``fn(*args)`` on the runtime's event loop (its session calls are not thread-safe)."""
    loop = runtime._get_async_objs().eventloop

    async def call():
        return fn(*args)

    return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout=60)


def visit_pages(paths: Iterable[str] = PAGE_PATHS, timeout: float = PAGE_TIMEOUT,
                query_strings: Iterable[str] = ("",)) -> dict[str, float]:
    """Run each page once per query string (by default once, default filters) in a headless session
    of the running server; seconds per view (views whose run did not finish are left out)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState
    from streamlit.runtime import Runtime

    runtime = Runtime.instance()
    took: dict[str, float] = {}
    for query in query_strings:
        for path in paths:
            client = _HeadlessClient()
            session_id = _on_loop(runtime, lambda c: runtime.connect_session(client=c, user_info={}), client)
            name = (path or "overview") + (f"?{query}" if query else "")
            try:
                msg = BackMsg(rerun_script=ClientState(page_name=path, query_string=query))
                t0 = time.perf_counter()
                _on_loop(runtime, runtime.handle_backmsg, session_id, msg)
                if client.finished.wait(timeout):
                    took[name] = time.perf_counter() - t0
                else:
                    log.warning("warm-up: page %r did not finish within %.0f s", name, timeout)
            finally:
                _on_loop(runtime, runtime.disconnect_session, session_id)
    return took


def visit_tabs(timeout: float = PAGE_TIMEOUT) -> dict[str, float]:
    """Run every tab but the first (``ui.TABS``: the default views ran it) of each page split into
    tabs, default filters; seconds per view. A tab computes only its own content, so without this
    the first click on one would compute it (Delivery's Changes tab: 6 s on the 1M-deployment
    warehouse)."""
    from urllib.parse import urlencode

    from cadence.dashboard import ui

    took: dict[str, float] = {}
    for path, tabs in ui.TABS.items():
        took |= visit_pages((path,), timeout, [urlencode({ui.KEY_TAB: tab}) for tab in tabs[1:]])
    return took


def team_queries(limit: int = MAX_TEAM_VIEWS) -> list[str]:
    """The query string of each configured team's view (``team=NAME``), by name, at most ``limit``."""
    from urllib.parse import urlencode

    from cadence.dashboard import ui

    return [urlencode({ui.KEY_TEAM: team}) for team in sorted(ui.config().teams)[:limit]]


def _wait_for_server(deadline: float = 600.0) -> bool:
    from streamlit.runtime import Runtime, RuntimeState

    t0 = time.monotonic()
    while time.monotonic() - t0 < deadline:
        if Runtime.exists():
            state = Runtime.instance().state
            if state in (RuntimeState.NO_SESSIONS_CONNECTED, RuntimeState.ONE_OR_MORE_SESSIONS_CONNECTED):
                return True
            if state in (RuntimeState.STOPPING, RuntimeState.STOPPED):
                return False
        time.sleep(0.05)
    return False


def watch(poll: float = POLL_SECONDS) -> None:
    """The warm-up thread: visit every page once the server is up, then again after every write."""
    budget = threading.Timer(ready_budget(), _ready.set)
    budget.daemon = True
    budget.start()
    if not _wait_for_server():
        _ready.set()
        return
    try:
        from cadence.dashboard.server import load_bundle

        t0 = time.perf_counter()
        files, size = load_bundle()
        if files:
            log.info("warm-up: Streamlit's bundle in memory (%d files, %.1f MB) in %.2f s", files, size / 1e6,
                     time.perf_counter() - t0)
    except Exception:   # the bundle is then read on its first request, as before
        log.exception("warm-up: could not read Streamlit's bundle into memory")
    warmed = None
    while True:
        try:
            version = data_version()
            if version is not None and version != warmed:
                if warmed is not None:
                    log.info("warm-up: the warehouse changed, warming the default views again")
                    warm_facts()
                took = visit_pages()
                warmed = version
                log.info("warm-up: %s", ", ".join(f"{p} {s:.2f} s" for p, s in took.items()))
                tabs = visit_tabs()
                log.info("warm-up: %d tabs in %.2f s (%s)", len(tabs), sum(tabs.values()),
                         ", ".join(f"{p} {s:.2f} s" for p, s in tabs.items()))
                teams = visit_pages(("",), query_strings=team_queries())
                log.info("warm-up: %d team Overviews in %.2f s", len(teams), sum(teams.values()))
        except Exception:   # never let the warm-up take the server down; the pages still work
            log.exception("warm-up failed; pages compute on first visit instead")
            warmed = data_version()
        _ready.set()
        time.sleep(poll)


def start() -> None:
    """Before the server starts: imports and the default ranges' facts, then the watching thread."""
    if not enabled():
        return
    gate_health()
    try:
        seconds = preload()
        if data_version() is not None:
            facts = warm_facts()
            log.info("warm-up: imports %.2f s, default ranges' DORA facts %.2f s", seconds, facts)
    except Exception:
        log.exception("warm-up failed; pages compute on first visit instead")
    threading.Thread(target=watch, name="cadence-warm", daemon=True).start()
