"""The warm-up (cadence.dashboard.warm) in a real server started the way users start it
(`cadence dashboard`): the server reports healthy only once every page (and every tab of the pages
split into tabs) has run with the default filters in a headless session, and after a write to the
warehouse it warms the default views again. Every wait is for a condition (a log line, the health answer); the timeouts are deadlines."""

from __future__ import annotations

import os
import re
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cadence.dashboard.warm import PAGE_PATHS
from tests.support.apptest_support import DEMO_TODAY
from tests.support.clock import now_text
from tests.support.demo import copy_demo, shared_demo
from tests.support.net import dashboard_server, free_port
from warehouse import connect

REPO_ROOT = Path(__file__).resolve().parents[2]
ROUND = re.compile(r"warm-up: overview [\d.]+ s, .*data_health [\d.]+ s")


def read(log) -> str:
    log.flush()
    log.seek(0)
    return log.read()


def wait_for(condition, log, what: str, deadline: float = 240) -> None:
    end = time.monotonic() + deadline
    while not condition(read(log)):
        if time.monotonic() > end:
            raise AssertionError(f"no {what} within {deadline:.0f} s:\n{read(log)[-4000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    db = copy_demo(shared_demo(tmp_path_factory), tmp_path_factory.mktemp("warm") / "demo")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CADENCE_CONFIG", "CADENCE_WARM")}
    env.update(CADENCE_DB=str(db), CADENCE_NOW=now_text(DEMO_TODAY))
    with dashboard_server([sys.executable, "-m", "cadence", "dashboard", "--port", str(port)], port=port,
                          env=env, log_path=tmp_path_factory.getbasetemp() / "warm-dashboard.log",
                          cwd=REPO_ROOT, timeout=300) as (base, log):
        yield {"base": base, "db": db, "log": log}


def test_healthy_only_after_every_page_ran_with_the_default_view(served):
    text = read(served["log"])
    # health said "ok", so the first round had finished: one line naming every page with its time
    rounds = ROUND.findall(text)
    assert len(rounds) == 1, text[-3000:]
    assert all(f"{p or 'overview'} " in rounds[0] for p in PAGE_PATHS)
    assert "Traceback" not in text
    # before the server started: the default ranges' DORA facts (the demo ends 2026-11-15: the last
    # 12 weeks start Monday 2026-08-24; with the 12 before them, 2026-06-01)
    assert "DORA facts 2026-06-01..2026-11-15" in text
    assert "DORA facts 2026-08-24..2026-11-15:" in text
    assert "DORA facts 2026-08-24..2026-11-15 (with merged)" in text
    with urllib.request.urlopen(f"{served['base']}/_stcore/health", timeout=10) as r:
        assert r.read() == b"ok"


def test_every_other_tab_is_warmed_before_health_says_ok(served):
    """A tab computes only its own content, so each page's other tabs run in the first round too."""
    from urllib.parse import urlencode

    from cadence.dashboard import ui

    text = read(served["log"])       # healthy already: the first round, tabs included, is done
    tabs = re.findall(r"warm-up: (\d+) tabs in [\d.]+ s \((.*)\)", text)
    expected = [f"{path}?{urlencode({ui.KEY_TAB: tab})}" for path, names in ui.TABS.items() for tab in names[1:]]
    assert len(tabs) == 1 and int(tabs[0][0]) == len(expected) == 8   # 2 + 2 + 1 + 3, text[-3000:]
    assert all(f"{view} " in tabs[0][1] for view in expected)


def test_streamlits_bundle_is_in_memory_before_health_says_ok(served):
    """The whole static bundle is read once the server is up, before the first page round (the
    first browser after health is answered from memory: cadence.dashboard.server.load_bundle), in
    the server's own process: ``python -m cadence.dashboard.server`` and the warm-up share one module."""
    import streamlit

    text = read(served["log"])
    found = re.search(r"warm-up: Streamlit's bundle in memory \((\d+) files, ([\d.]+) MB\)", text)
    assert found, text[-3000:]
    static = Path(streamlit.__file__).parent / "static" / "static"
    on_disk = [f for f in static.rglob("*") if f.is_file()]
    assert int(found.group(1)) == len(on_disk)
    assert float(found.group(2)) == pytest.approx(sum(f.stat().st_size for f in on_disk) / 1e6, abs=0.051)
    assert text.index("Streamlit's bundle in memory") < text.index("warm-up: overview ")
    # and what it serves is the file's bytes
    module = max(on_disk, key=lambda f: f.stat().st_size if f.suffix == ".js" else 0)
    with urllib.request.urlopen(f"{served['base']}/{module.relative_to(static.parent).as_posix()}", timeout=30) as r:
        assert r.read() == module.read_bytes()


TEAM_ROUND = re.compile(r"warm-up: (\d+) team Overviews in [\d.]+ s")


def test_each_teams_overview_is_warmed_after_the_default_views(served):
    """After the default views and before health says ok, the Overview of every configured team: the
    view a lead picks next. The demo's teams come from the warehouse (no config file)."""
    from cadence.core.config import Config
    from warehouse.meta import effective_config

    text = read(served["log"])       # healthy already (the fixture waited): the team views are done
    teams = effective_config(Config(), served["db"]).teams
    assert len(teams) >= 2
    assert int(TEAM_ROUND.search(text).group(1)) == len(teams)
    assert text.index("warm-up: overview ") < text.index(" team Overviews in ")
    assert "did not finish" not in text and "Traceback" not in text


def test_a_write_warms_the_default_views_again(served):
    con = connect(served["db"])
    try:   # one more production deployment: the warehouse's last-write token changes
        con.execute("INSERT INTO deployments (id, repo, service, environment, sha, status, started_at, "
                    "finished_at, source) VALUES ('warm-1', 'shop/api', 'api', 'production', 'warm1', "
                    "'success', TIMESTAMP '2026-11-14 10:00', TIMESTAMP '2026-11-14 10:05', 'test')")
    finally:
        con.close()
    wait_for(lambda text: len(ROUND.findall(text)) == 2, served["log"], "second warm-up round")
    text = read(served["log"])
    assert "the warehouse changed, warming the default views again" in text
    assert "Traceback" not in text
    # the server stayed healthy throughout (a later round never gates it)
    with urllib.request.urlopen(f"{served['base']}/_stcore/health", timeout=10) as r:
        assert r.read() == b"ok"


def test_no_full_garbage_collection_after_every_script_run_and_no_source_watching():
    """Streamlit runs gc.collect(2) after each script run by default; with the result caches full it
    walked every cached object on each page view (0.1-0.3 s on the demo, seen with py-spy). Both
    ways of starting the app turn it off: `cadence dashboard`'s arguments and .streamlit/config.toml.
    A served dashboard also watches no source file (`streamlit run` in development still does)."""
    import tomllib

    from cadence.commands import dashboard

    args = dashboard.streamlit_args(8501, "127.0.0.1")
    assert args[args.index("--runner.postScriptGC") + 1] == "false"
    assert args[args.index("--server.fileWatcherType") + 1] == "none"      # no reloading of a served app
    settings = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert settings["runner"]["postScriptGC"] is False
