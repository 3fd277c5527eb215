"""Benchmark: every dashboard page under Streamlit's AppTest on the demo warehouse — first full
render with empty caches (cold), the same view again (warm), and a filter change (a team picked in
the sidebar, never seen before) — plus the Overview on the large warehouse of bench_metrics.py.

Baseline, measured in the same run: an AppTest run of a one-line page (the framework's floor), so
each page's figure is also shown as a multiple of what any Streamlit page costs here. Medians over
``--runs`` repetitions. Targets (2-core machine): cold < 1.5 s, filter change < 0.5 s, Overview on
the large warehouse < 3 s. Usage::

    .venv/bin/python benchmarks/bench_pages.py [--runs 5] [--skip-large]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.support.apptest_support import (  # noqa: E402
    DEMO_TODAY,
    PAGES,
    _remember_components,
    dashboard_env,
    install_navigation_shim,
    new_app_test,
)

FLOOR_SCRIPT = "import streamlit as st\nst.title('floor')\n"


def clear_caches() -> None:
    """Cold means cold: the server's result cache, DORA facts and memoised figures go too."""
    from cadence.dashboard import ui

    ui.clear_caches()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def first_render(page: str) -> tuple[float, AppTest]:
    """A new session's first run of ``page`` (the component scan, a once-per-server cost, is shared)."""
    at = new_app_test(120)
    if page != "overview":
        at.switch_page(f"pages/{page}.py")
    seconds = timed(at.run)
    assert not at.exception, (page, at.exception)
    _remember_components(at)
    return seconds, at


def bench_page(page: str, runs: int, teams: list[str]) -> dict:
    cold, warm, change = [], [], []
    for i in range(runs):
        clear_caches()
        seconds, at = first_render(page)
        cold.append(seconds)
        warm.append(timed(at.run))
        at.selectbox(key="team").set_value(teams[i % len(teams)])
        change.append(timed(at.run))
        assert not at.exception, (page, at.exception)
    return {"cold": statistics.median(cold), "warm": statistics.median(warm), "change": statistics.median(change)}


def floor(runs: int) -> float:
    times = []
    for _ in range(runs):
        at = AppTest.from_string(FLOOR_SCRIPT, default_timeout=30)
        at._bidi_component_manager = new_app_test()._bidi_component_manager
        times.append(timed(at.run))
    return statistics.median(times)


def large_overview(runs: int) -> float | None:
    """The Overview on bench_metrics' warehouse (1 M deployments, 5 M changes, 25 teams)."""
    db = ROOT / "benchmarks" / "out" / "metrics.duckdb"
    if not db.exists():
        from benchmarks.bench_metrics import FULL, build_warehouse

        print(f"building the large warehouse at {db} (bench_metrics' generator)...", flush=True)
        db.parent.mkdir(parents=True, exist_ok=True)
        build_warehouse(db, FULL)
    # Its teams (repo and service i owned by team i mod 25), as a config file for the dashboard.
    lines = []
    for t in range(25):
        repos = ", ".join(f'"org/repo-{r:03d}"' for r in range(t, 500, 25))
        services = ", ".join(f'"svc-{r:03d}"' for r in range(t, 500, 25))
        lines += [f"[teams.team-{t:02d}]", f"repos = [{repos}]", f"services = [{services}]", ""]
    config = Path(tempfile.mkdtemp()) / "cadence.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    os.environ["CADENCE_CONFIG"] = str(config)
    times, cpus = [], []
    try:
        from datetime import date

        from cadence.dashboard import ui

        with dashboard_env(db, today=date(2026, 1, 1)):
            for _ in range(runs):
                clear_caches()
                c0 = _cpu_seconds()
                seconds, at = first_render("overview")
                cpus.append(_cpu_seconds() - c0)
                times.append(seconds)
            _overview_loads(db, at.session_state[ui.KEY_FILTERS], runs)
    finally:
        os.environ.pop("CADENCE_CONFIG", None)
    print(f"overview on the large warehouse: CPU (user+sys) median {statistics.median(cpus):.2f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return statistics.median(times)


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _overview_loads(db: Path, f, runs: int) -> None:
    """The Overview's DORA loads alone, in the same run: three ``dora_metrics`` calls (what the page
    made before) against one ``dora_metrics_views`` call (what it makes now)."""
    from warehouse.meta import effective_config
    from cadence.core.config import load_config
    from metrics import dora_metrics, dora_metrics_views
    from warehouse import read_connection

    config = effective_config(load_config(None), db)
    views = ((f.start, f.end, "total"), (f.previous.start, f.previous.end, "total"), (f.start, f.end, f.period))
    results = {}
    for name in ("three dora_metrics calls", "one dora_metrics_views call"):
        walls, cpus = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), _cpu_seconds()
            with read_connection(db) as con:
                if name.startswith("three"):
                    frames = [dora_metrics(con, config, s, e, by=f.by, period=p, scope=f.scope,
                                           benchmark=f.benchmark) for s, e, p in views]
                else:
                    frames = dora_metrics_views(con, config, views, by=f.by, scope=f.scope,
                                                benchmark=f.benchmark)
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu_seconds() - c0)
        results[name] = frames
        print(f"  overview loads, {name}: wall median {statistics.median(walls):.2f} s, "
              f"CPU median {statistics.median(cpus):.2f} s")
    same = all(a.equals(b) for a, b in zip(*results.values(), strict=True))
    print(f"  same frames: {'yes' if same else 'NO'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true", help="skip the large-warehouse Overview")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    install_navigation_shim()

    from warehouse.meta import effective_config
    from cadence.core.config import load_config
    from collectors.demo import build_demo

    db = Path(tempfile.mkdtemp()) / "demo.duckdb"
    build_demo(db, seed=42, today=DEMO_TODAY)
    teams = sorted(effective_config(load_config(None), db).teams)
    with dashboard_env(db):
        clear_caches()
        first_render("overview")  # imports (pandas, metrics, charts) once, outside every timing
        base = floor(args.runs)
        print(f"demo warehouse, AppTest, median of {args.runs} runs; floor (one-line page) {base * 1000:.0f} ms")
        print(f"{'page':<12} {'cold':>8} {'warm':>8} {'filter':>8}   cold/floor")
        results = {}
        for page in PAGES:
            r = results[page] = bench_page(page, args.runs, teams)
            print(f"{page:<12} {r['cold']:>7.2f}s {r['warm']:>7.2f}s {r['change']:>7.2f}s   {r['cold'] / base:>6.1f}x",
                  flush=True)
    ok = all(r["cold"] < 1.5 and r["change"] < 0.5 for r in results.values())
    print("targets (cold < 1.5 s, filter change < 0.5 s): " + ("met" if ok else "NOT met"))
    if not args.skip_large:
        big = large_overview(max(1, min(args.runs, 3)))
        print(f"overview on the large warehouse (1 M deployments, 5 M changes): median {big:.2f} s "
              f"({big / base:.0f}x floor) — target < 3 s: {'met' if big < 3 else 'NOT met'}")
        ok = ok and big < 3
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
