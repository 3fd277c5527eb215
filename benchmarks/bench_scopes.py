"""Benchmark: the scope rule of metrics/sql/scopes.sql as one macro (``cadence_scopes``, today's
code) against the three same-shape blocks it replaced (the text at commit 63cba46, kept in this file
as the baseline), both computing ``dora_metrics`` weekly for one year on the large synthetic
warehouse of bench_metrics.py, alternating in one process; the two results must be equal.

Usage::

    .venv/bin/python benchmarks/bench_scopes.py [--runs 5] [--by team] [--small]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_metrics as bm  # noqa: E402

import metrics._sql as sql_mod  # noqa: E402
from metrics import dora_metrics  # noqa: E402
from warehouse import read_connection  # noqa: E402

BASELINE_COMMIT = "63cba46"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--by", default="team", choices=["team", "org", "repo", "service"])
    parser.add_argument("--small", action="store_true", help="bench_metrics.py's small warehouse (quick check)")
    args = parser.parse_args()
    sizes = bm.SMALL if args.small else bm.FULL
    out = ROOT / "benchmarks" / "out"
    out.mkdir(parents=True, exist_ok=True)
    db = out / ("metrics-small.duckdb" if args.small else "metrics.duckdb")   # shared with bench_metrics.py
    if not db.exists():
        bm.build_warehouse(db, sizes)
    old = subprocess.run(["git", "-C", str(ROOT), "show", f"{BASELINE_COMMIT}:metrics/sql/scopes.sql"],
                         check=True, capture_output=True, text=True).stdout
    new = sql_mod.load_sql("scopes")
    config = bm.bench_config(sizes)
    loader = sql_mod.load_sql

    def with_scopes(text):
        sql_mod.load_sql = lambda name: text if name == "scopes" else loader(name)
        try:
            t0 = time.perf_counter()
            with read_connection(db) as con:
                df = dora_metrics(con, config, bm.START, bm.END, by=args.by, period="week")
            return time.perf_counter() - t0, df
        finally:
            sql_mod.load_sql = loader

    times = {"blocks (baseline)": [], "macro": []}
    frames = {}
    for _ in range(args.runs):
        for name, text in (("blocks (baseline)", old), ("macro", new)):
            seconds, frames[name] = with_scopes(text)
            times[name].append(seconds)
    a, b = frames["blocks (baseline)"], frames["macro"]
    equal = a.reset_index(drop=True).equals(b.reset_index(drop=True))
    for name, ts in times.items():
        print(f"{name:18} median {statistics.median(ts):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in ts)})")
    print(f"ratio macro / blocks: {statistics.median(times['macro']) / statistics.median(times['blocks (baseline)']):.2f}"
          f"   results equal: {equal}   rows: {len(b)}")
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
