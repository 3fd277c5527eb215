"""Benchmark: what leaving bots out of lead time (issue 21) costs ``metrics.dora_metrics``.

The same query as bench_metrics.py (by team, weekly, one year) on its large synthetic warehouse
(1,000,000 deployments, 5,000,000 changes; kept in benchmarks/out/, built when missing), run by
the code before the change (a ``git archive`` of ``--baseline``, default the commit before the
capacity work) and by this tree, alternately, each run in a fresh subprocess. Twice: on the
warehouse as built (no authors) and on a copy where every change has an author, one in ten a bot
("dependabot[bot]"), so the author match runs on every row. Prints CPU seconds (user + sys,
DuckDB's threads included: wall time is noise on a shared machine) and wall time, medians, and the
ratio to the baseline. The bot copy also checks the rule: this tree's lead-time median differs
from the baseline's (bots out), the deployment counts do not. Usage::

    .venv/bin/python benchmarks/bench_bot_exclusion.py [--runs 5] [--baseline REV]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "2b72df9"   # main before issue 21
ADD_AUTHORS = """
UPDATE changes SET author = CASE WHEN hash(id, 'bot') % 10 = 0 THEN 'dependabot[bot]'
                                 ELSE 'dev-' || CAST(hash(id, 'who') % 2000 AS VARCHAR) END
"""


def _child(db: str) -> None:
    sys.path.insert(0, os.getcwd())
    from benchmarks.bench_metrics import END, FULL, START, bench_config
    from metrics import dora_metrics
    from warehouse import read_connection

    config = bench_config(FULL)

    def cpu() -> float:
        u = resource.getrusage(resource.RUSAGE_SELF)
        return u.ru_utime + u.ru_stime

    t0, c0 = time.perf_counter(), cpu()
    with read_connection(db) as con:
        df = dora_metrics(con, config, START, END, by="team", period="week")
    print(json.dumps({"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "rows": len(df),
                      "deployments": int(df["deployments"].sum()),
                      "lead_p50_sum": float(df["lead_time_p50_hours"].sum())}))


def run(tree: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_bot_exclusion.py"), "--child", str(db)],
                         cwd=tree, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        _child(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the code before (default %(default)s)")
    args = parser.parse_args()
    db = ROOT / "benchmarks" / "out" / "metrics.duckdb"
    if not db.exists():   # the warehouse of bench_metrics.py, built the same way
        sys.path.insert(0, str(ROOT))
        from benchmarks.bench_metrics import FULL, build_warehouse

        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"generated warehouse in {build_warehouse(db, FULL):.1f} s")
    with tempfile.TemporaryDirectory(prefix="bench-bots-") as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        (base / "benchmarks").mkdir(exist_ok=True)
        shutil.copy(ROOT / "benchmarks" / "bench_bot_exclusion.py", base / "benchmarks" / "bench_bot_exclusion.py")
        bots = Path(tmp) / "with-bots.duckdb"
        shutil.copy(db, bots)
        import duckdb

        con = duckdb.connect(str(bots))
        con.execute(ADD_AUTHORS)
        con.close()
        for name, path in (("as built (no authors)", db), ("with authors, 10 % bots", bots)):
            results = {"baseline": [], "this tree": []}
            for _ in range(args.runs):
                results["baseline"].append(run(base, path))
                results["this tree"].append(run(ROOT, path))
            cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in results.items()}
            wall = {k: statistics.median(r["wall"] for r in v) for k, v in results.items()}
            print(f"{name}: dora_metrics by team, weekly, one year, {results['this tree'][0]['rows']} rows, "
                  f"medians of {args.runs}")
            for k in results:
                print(f"  {k:10s} CPU {cpu[k]:.2f} s  wall {wall[k]:.2f} s  "
                      f"({', '.join(format(r['cpu'], '.2f') for r in results[k])})")
            print(f"  ratio this tree / baseline: CPU {cpu['this tree'] / cpu['baseline']:.2f}, "
                  f"wall {wall['this tree'] / wall['baseline']:.2f}")
            a, b = results["baseline"][0], results["this tree"][0]
            print(f"  deployments equal: {a['deployments'] == b['deployments']}; lead-time medians "
                  f"{'equal' if abs(a['lead_p50_sum'] - b['lead_p50_sum']) < 1e-6 else 'differ (bots out)'}")
    print(f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
