"""Benchmark (issue 23): the dashboard in headless Chromium on the demo database and on the
1,000,000-deployment warehouse of bench_metrics.py — the app's first load, each page's first visit
and revisit through the top navigation, each tab of the pages split into tabs (``TABS``; a tab is a
rerun, held to the revisit's 0.5 s) and one filter change — beside each page's AppTest time on
the same database in the same run (the page script's own work, no browser), and issue 23's targets.

The server is started the way users start it: ``python -m cadence dashboard --port P`` (Streamlit
with the project's flags, and whatever the launcher does at start) with CADENCE_DB, CADENCE_CONFIG
and CADENCE_NOW in its environment. The clock starts once it reports healthy; the time until then is
shown apart. "Drawn" is ``settle()`` of tests/support/browser.py: the page's title shows, the script
run has finished and every chart is drawn. Each figure is timed **in the page** (the stopwatch of
tests/support/browser.py): from the click's own timestamp (the navigation's start for the first load)
to the first animation frame at which the page is drawn, so Playwright's own work — resolving a
locator, its actionability checks before a click, the round trips of its waits, each about 0.05 s —
is not counted as the dashboard's. The Playwright-side time of the same view (click to ``settle``
returning, as this benchmark measured before 2026-12-03) is printed beside it. Each revisit is
measured ``REVISITS`` times per round. Each round starts a new server and a new browser (cold
caches); figures are medians over all rounds; each round's peak RSS of the Streamlit process (the
launcher's child; VmHWM in /proc, read after the last view) is printed too.

- demo: the demo database (seed 42) built in a temporary directory, no config file, CADENCE_NOW at
  the demo's end (as the browser test does).
- large: the warehouse of bench_metrics.py (``--warehouse``, default benchmarks/out/metrics.duckdb;
  built with ``build_warehouse(path, FULL)`` when missing, reused otherwise) with its 25 teams
  written to large.toml next to it, CADENCE_NOW at the end of its data (2025-12-31T23:00:00Z); the
  pages show their default range, the last 12 weeks.

Usage::

    .venv/bin/python benchmarks/bench_browser.py [--db demo|large|both] [--rounds 3] [--warehouse PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.apptest_support import DEMO_TODAY  # noqa: E402
from tests.support.browser import (  # noqa: E402
    arm_first_load, arm_stopwatch, chromium, find_chromium, read_stopwatch, settle as settle_until)
from tests.support.clock import now_text  # noqa: E402
from tests.support.net import free_port, stop, wait_for_health  # noqa: E402

# top-navigation title -> url path; the Overview is the app's own page
PAGES = {"Overview": "", "Delivery": "delivery", "Stability": "stability", "Reliability": "reliability",
         "Teams": "teams", "Costs": "costs", "Capacity": "capacity", "Pipelines": "pipelines",
         "Data health": "data_health"}
DEADLINE_MS = 300_000          # a deadline for a busy machine and the large warehouse, not an expected time
LARGE_NOW = "2025-12-31T23:00:00Z"   # the end of bench_metrics.py's data
START_KEY = "server start (to healthy)"
# issue 23's targets (seconds) by kind of view; on the large warehouse it is done when the Overview,
# Delivery and Stability meet them
TARGETS = {"first load": 3.0, "first visit": 1.5, "revisit": 0.5, "filter change": 1.0, "tab": 0.5}
LARGE_DONE_PAGES = ("Overview", "Delivery", "Stability")
REVISITS = 3           # away and back, per page and round
# The pages split into tabs (st.tabs bound to ?tab=; a page opens on its first): each other tab, with
# a text only its content holds (so the clock stops on the new run's content, not the old one's).
TABS = {"Delivery": {"Per team": "Stage breakdown per team", "Changes": "Slowest changes"},
        "Stability": {"Incidents": "Attribution:", "Failed deployments": "caused an incident or were rolled back"},
        "Costs": {"Movers and anomalies": "Top movers"},
        "Capacity": {"Contributors": "never a per-person measure", "Next quarter": "Expected traffic growth",
                     "Right-sizing": "target utilization"}}


@dataclass(frozen=True)
class Database:
    name: str
    db: Path
    config: Path | None
    now: str

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "CADENCE_CONFIG"}
        env.update(CADENCE_DB=str(self.db), CADENCE_NOW=self.now)
        if self.config:
            env["CADENCE_CONFIG"] = str(self.config)
        return env


def settle(page, title: str) -> None:
    settle_until(page, title, DEADLINE_MS)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def server_child(pid: int) -> int | None:
    """The server process ``cadence dashboard`` (pid) started: its one child, which runs Streamlit
    (``python -m cadence.dashboard.server run``, or ``streamlit run`` before the warm-up)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def peak_rss_mb(pid: int | None) -> float | None:
    """A process's peak resident set (VmHWM) in MB, from /proc; None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def one_round(target: Database, exe: str) -> tuple[dict[str, list[float]], dict[str, list[float]], float | None]:
    """One server, one browser: each view's figures in the page and on Playwright's side (seconds,
    a list per view), and the server's peak RSS (MB)."""
    port = free_port()
    inpage: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}

    def record(view: str, seconds: tuple[float, float]) -> None:
        inpage.setdefault(view, []).append(seconds[0])
        wall.setdefault(view, []).append(seconds[1])

    with tempfile.TemporaryFile("w+") as log:
        t_start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "cadence", "dashboard", "--port", str(port)],
                                cwd=ROOT, env=target.env(), stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base, proc, log, timeout=600)
            started = time.perf_counter() - t_start
            record(START_KEY, (started, started))
            server = server_child(proc.pid)
            with chromium(exe) as browser:
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                arm_first_load(page, "Overview")
                took = timed(lambda: (page.goto(base), settle(page, "Overview")))
                record("first load", (read_stopwatch(page, DEADLINE_MS), took))

                def visit(title: str) -> tuple[float, float]:
                    link = page.locator(f'[data-testid="stTopNavLink"][href="{base}/{PAGES[title]}"]')
                    arm_stopwatch(page, title)
                    t0 = time.perf_counter()
                    link.click()
                    seconds = read_stopwatch(page, DEADLINE_MS)
                    settle(page, title)          # Playwright's view of the same: drawn, and still drawn
                    return seconds, time.perf_counter() - t0

                for title in list(PAGES)[1:]:
                    record(f"{title}: first visit", visit(title))
                for title in PAGES:
                    for _ in range(REVISITS):
                        # away and back: the revisit with unchanged filters
                        visit("Overview" if title != "Overview" else "Delivery")
                        record(f"{title}: revisit", visit(title))

                def open_tab(title: str, tab: str, text: str) -> tuple[float, float]:
                    shown = ("() => { const main = document.querySelector('[data-testid=\"stMain\"]'); "
                             f"return !!main && main.textContent.includes({json.dumps(text)}); }}")
                    arm_stopwatch(page, title, shown)
                    t0 = time.perf_counter()
                    page.get_by_role("tab", name=tab, exact=True).click()
                    seconds = read_stopwatch(page, DEADLINE_MS)
                    page.get_by_text(text).first.wait_for(timeout=DEADLINE_MS)
                    settle(page, title)
                    return seconds, time.perf_counter() - t0

                for title, tabs in TABS.items():
                    visit(title)
                    for tab, text in tabs.items():
                        # a page with nothing to show stops before its tabs (the large warehouse has no costs)
                        if page.get_by_role("tab", name=tab, exact=True).count():
                            record(f"{title}: {tab} tab", open_tab(title, tab, text))
                visit("Overview")

                # The team's caption comes from the new run; only then can "drawn" mean that run.
                team_view = ("() => location.search.includes('team=') && [...document.querySelectorAll("
                             "'[data-testid=\"stCaptionContainer\"]')].some(c => c.textContent.includes('team '))")

                def change_filter() -> tuple[float, float]:
                    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
                        has_text="Team").click()
                    option = page.get_by_role("option").nth(2)
                    option.wait_for(timeout=DEADLINE_MS)
                    arm_stopwatch(page, "Overview", team_view)
                    t0 = time.perf_counter()
                    option.click()
                    seconds = read_stopwatch(page, DEADLINE_MS)
                    page.wait_for_url("**team=**", timeout=DEADLINE_MS)
                    page.get_by_text("team ").first.wait_for(timeout=DEADLINE_MS)
                    settle(page, "Overview")
                    return seconds, time.perf_counter() - t0
                record("Overview: filter change", change_filter())
            rss = peak_rss_mb(server)
        finally:
            stop(proc, timeout=60)
    return inpage, wall, rss


def apptest_times(target: Database) -> dict[str, float]:
    """Each page's first AppTest run, all in one fresh process (cold caches at its start), as
    bench_pages.py measures."""
    code = ("import sys, time, json; sys.path.insert(0, %r)\n"
            "from tests.support.apptest_support import new_app_test\n"
            "out = {}\n"
            "for title, path in %r.items():\n"
            "    at = new_app_test(%d)\n"
            "    if path: at.switch_page(f'pages/{path}.py')\n"
            "    t0 = time.perf_counter(); at.run(); out[title] = time.perf_counter() - t0\n"
            "    assert not at.exception, (title, at.exception)\n"
            "print(json.dumps(out))\n") % (str(ROOT), PAGES, DEADLINE_MS // 1000)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=target.env(), capture_output=True,
                         text=True)
    if res.returncode:
        raise SystemExit(f"AppTest on {target.name} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def kind_of(view: str) -> str:
    return "tab" if view.endswith(" tab") else view.split(": ")[-1]


def page_of(view: str) -> str:
    return "Overview" if view == "first load" else view.split(": ")[0]


def report(target: Database, rounds: list[dict[str, list[float]]], walls: list[dict[str, list[float]]],
           rss: list[float | None], app: dict[str, float]) -> list[str]:
    """Print one database's table; returns the views that missed their target."""
    print(f"\n== {target.name}: {target.db}"
          + (f" with {target.config.name}" if target.config else " (no config file)")
          + f", CADENCE_NOW={target.now}; medians over {len(rounds)} rounds ({REVISITS} revisits of a page each)")
    print(f"{'view':32} {'in page':>9} {'Playwright':>11} {'AppTest (cold)':>15} {'target':>8}  ")
    missed = []
    for view in rounds[0]:
        med = statistics.median(x for r in rounds for x in r[view])
        wall = statistics.median(x for r in walls for x in r[view])
        if view == START_KEY:
            print(f"{view:32} {med:8.2f} s")
            continue
        limit = TARGETS[kind_of(view)]
        verdict = "met" if med < limit else "MISSED"
        if med >= limit:
            missed.append(view)
        print(f"{view:32} {med:8.2f} s {wall:9.2f} s {app[page_of(view)]:13.2f} s "
              f"{'< ' + format(limit, 'g') + ' s':>8}  {verdict}")
    shown = ", ".join("?" if r is None else f"{r:.0f} MB" for r in rss)
    print(f"server peak RSS (the Streamlit process, VmHWM) per round: {shown}")
    return missed


def demo_database(tmp: Path) -> Database:
    from collectors.demo import build_demo

    db = tmp / "demo.duckdb"
    build_demo(db, seed=42, today=DEMO_TODAY)
    return Database("demo", db, None, now_text(DEMO_TODAY))


def large_database(path: Path) -> Database:
    from benchmarks.bench_metrics import FULL, bench_config_toml, build_warehouse

    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print(f"building the large warehouse at {path} (bench_metrics.build_warehouse, FULL)", flush=True)
        build_warehouse(path, FULL)
    config = path.parent / "large.toml"
    text = bench_config_toml(FULL)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    return Database("large", path, config, LARGE_NOW)


def cpu_times() -> tuple[int, int] | None:
    """(steal, total) jiffies of all CPUs from /proc/stat; None where there is none."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


PROBE_STEPS = 3_000_000


def host_speed() -> float:
    """Seconds a fixed pure-Python loop takes (median of 3): this host's speed at the moment, in a
    figure that depends on nothing Cadence does. The host swings between two states a few times a
    day with no CPU steal to show for it (docs/performance.md); a run's figures are read beside it."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(PROBE_STEPS):
            total += i * i
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=("demo", "large", "both"), default="both")
    parser.add_argument("--warehouse", type=Path, default=ROOT / "benchmarks" / "out" / "metrics.duckdb",
                        help="the large warehouse (built there when missing)")
    args = parser.parse_args()
    exe = find_chromium()
    if not exe:
        print("no Chromium (apt-get install chromium, or set CADENCE_CHROMIUM)")
        return 1
    from cadence.dashboard import ui

    # A tab renamed in the pages but not here would be skipped as "not drawn": say so instead.
    stale = {t: list(tabs) for t, tabs in TABS.items() if tuple(tabs) != ui.TABS[PAGES[t]][1:]}
    if stale:
        print(f"TABS here ({stale}) differ from the pages' tabs (cadence.dashboard.ui.TABS): update TABS")
        return 1
    names = ("demo", "large") if args.db == "both" else (args.db,)
    verdicts: dict[str, list[str]] = {}
    cpu_start = cpu_times()
    speed_start = host_speed()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            target = demo_database(Path(tmp)) if name == "demo" else large_database(args.warehouse.resolve())
            results = [one_round(target, exe) for _ in range(args.rounds)]
            app = apptest_times(target)
            verdicts[name] = report(target, [r for r, _, _ in results], [w for _, w, _ in results],
                                    [m for _, _, m in results], app)
    print(f"\nload average: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")
    cpu_end = cpu_times()
    print(f"host speed probe ({PROBE_STEPS:,}-step Python loop, median of 3): {speed_start:.3f} s before the run, "
          f"{host_speed():.3f} s after")
    if cpu_start and cpu_end and cpu_end[1] > cpu_start[1]:
        # Time the hypervisor gave other machines while this one wanted the CPU: a load average
        # does not show it. Some slow spells of this host showed steal, others none (2026-12-03:
        # 0.1 % while every figure ran ~2x slower): the probe above and the AppTest column tell more.
        steal = 100 * (cpu_end[0] - cpu_start[0]) / (cpu_end[1] - cpu_start[1])
        print(f"CPU steal during the run: {steal:.1f} % of all CPU time")
    for name, missed in verdicts.items():
        if name == "large":
            counted = [v for v in missed if page_of(v) in LARGE_DONE_PAGES]
            print(f"large: Overview/Delivery/Stability targets {'met' if not counted else 'MISSED: ' + ', '.join(counted)}"
                  f"; {len(missed)} view(s) over target in all")
        else:
            print(f"{name}: targets {'met' if not missed else 'MISSED: ' + ', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
