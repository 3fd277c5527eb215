"""Benchmark (issue 23): the dashboard in headless Chromium on the demo database — the app's first
load, each page's first visit and revisit through the top navigation, and one filter change —
beside each page's AppTest time in the same run (the page script's own work, no browser).

A server is `streamlit run app.py` on a free 127.0.0.1 port (CADENCE_NOW pinned to the demo's end,
as the browser test does). "Drawn" means: the page's title shows, the script run has finished and
every Plotly chart holds its SVG. Each round starts a new server and a new browser context (cold
caches); figures are medians over ``--rounds``. Usage::

    .venv/bin/python benchmarks/bench_browser.py [--rounds 3]

Not yet here: the 1,000,000-deployment warehouse of bench_metrics.py (issue 23's second target).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.apptest_support import DEMO_TODAY  # noqa: E402
from tests.support.browser import chromium, find_chromium, settle as settle_until  # noqa: E402
from tests.support.clock import now_text  # noqa: E402
from tests.support.net import free_port, stop, wait_for_health  # noqa: E402

# top-navigation title -> url path; the Overview is the app's own page
PAGES = {"Overview": "", "Delivery": "delivery", "Stability": "stability", "Reliability": "reliability",
         "Teams": "teams", "Costs": "costs", "Capacity": "capacity", "Pipelines": "pipelines",
         "Data health": "data_health"}
DEADLINE_MS = 120_000


def settle(page, title: str) -> None:
    settle_until(page, title, DEADLINE_MS)


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def one_round(db: Path, exe: str) -> dict[str, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "CADENCE_CONFIG"}
    env.update(CADENCE_DB=str(db), CADENCE_NOW=now_text(DEMO_TODAY))
    out: dict[str, float] = {}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats",
             "false", "--server.fileWatcherType", "none"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base, proc, log, timeout=180)
            with chromium(exe) as browser:
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                out["first load"] = timed(lambda: (page.goto(base), settle(page, "Overview")))

                def visit(title: str) -> float:
                    def go():
                        page.get_by_role("link", name=title, exact=True).first.click()
                        settle(page, title)
                    return timed(go)

                for title in list(PAGES)[1:]:
                    out[f"{title}: first visit"] = visit(title)
                for title in PAGES:
                    # away and back: the revisit with unchanged filters
                    visit("Overview" if title != "Overview" else "Delivery")
                    out[f"{title}: revisit"] = visit(title)
                visit("Overview")

                def change_filter():
                    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
                        has_text="Team").click()
                    page.get_by_role("option").nth(2).click()
                    page.wait_for_url("**team=**", timeout=DEADLINE_MS)
                    # the team's caption comes from the new run; only then can "finished" mean that run
                    page.get_by_text("team ").first.wait_for(timeout=DEADLINE_MS)
                    settle(page, "Overview")
                out["Overview: filter change"] = timed(change_filter)
        finally:
            stop(proc, timeout=60)
    return out


def apptest_times(db: Path) -> dict[str, float]:
    """Each page's first AppTest run in a fresh process (cold caches), as bench_pages.py measures."""
    code = ("import sys, time, json; sys.path.insert(0, %r)\n"
            "from tests.support.apptest_support import new_app_test\n"
            "out = {}\n"
            "for title, path in %r.items():\n"
            "    at = new_app_test(120)\n"
            "    if path: at.switch_page(f'pages/{path}.py')\n"
            "    t0 = time.perf_counter(); at.run(); out[title] = time.perf_counter() - t0\n"
            "    assert not at.exception, (title, at.exception)\n"
            "print(json.dumps(out))\n") % (str(ROOT), PAGES)
    env = dict(os.environ, CADENCE_DB=str(db), CADENCE_NOW=now_text(DEMO_TODAY))
    env.pop("CADENCE_CONFIG", None)
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    import json
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    exe = find_chromium()
    if not exe:
        print("no Chromium (apt-get install chromium, or set CADENCE_CHROMIUM)")
        return 1
    from collectors.demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.duckdb"
        build_demo(db, seed=42, today=DEMO_TODAY)
        rounds = [one_round(db, exe) for _ in range(args.rounds)]
        app = apptest_times(db)
    print(f"load average: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores; medians of {args.rounds}")
    print(f"{'view':32} {'browser':>9} {'AppTest (cold)':>15}")
    for key in rounds[0]:
        med = statistics.median(r[key] for r in rounds)
        page = key.split(":")[0]
        apptest = f"{app[page]:.2f} s" if ":" in key and key.endswith("first visit") and page in app else ""
        if key == "first load":
            apptest = f"{app['Overview']:.2f} s"
        print(f"{key:32} {med:8.2f} s {apptest:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
