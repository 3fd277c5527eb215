"""Benchmark: ``collectors.demo.build_demo`` (target: under 15 s on a 2-core machine).

Times, over several runs, the whole build (generate, upsert through ``warehouse.upsert_rows`` into
a temporary file, atomic replace) and its generation step alone, and, as the baseline measured in
the same run, the floor for any writer: the same DataFrames bulk-copied into a fresh DuckDB file
with ``CREATE TABLE ... AS SELECT`` (no schema, keys or upserts). Prints medians and ratios.
Usage::

    .venv/bin/python benchmarks/bench_demo.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 3, 4)


def main() -> None:
    import duckdb

    from collectors.demo import build_demo, demo_tables
    from collectors.demo.slo import sli_rows

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    build, generate, floor = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(args.runs):
            t = time.perf_counter()
            tables, cal = demo_tables(42, TODAY)
            # build_demo also generates the demo's hourly SLIs (collectors/demo/slo.py) and writes them
            tables = {**tables, "sli_hours": sli_rows(tables["incidents"], cal.start, cal.days, 42)}
            generate.append(time.perf_counter() - t)

            path = Path(tmp) / "floor.duckdb"
            path.unlink(missing_ok=True)
            t = time.perf_counter()
            con = duckdb.connect(str(path))
            for name, df in tables.items():
                con.register("df", df)
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM df")
                con.unregister("df")
            con.close()
            floor.append(time.perf_counter() - t)

            t = time.perf_counter()
            counts = build_demo(Path(tmp) / "demo.duckdb", seed=42, today=TODAY)
            build.append(time.perf_counter() - t)
    rows = sum(counts.values())
    med = statistics.median
    write = med(build) - med(generate)
    print(f"demo build, {rows:,} rows, {args.runs} runs (medians)")
    print(f"  build_demo total           {med(build):6.2f} s   (target < 15 s)")
    print(f"    of which generation      {med(generate):6.2f} s")
    print(f"    of which writing         {write:6.2f} s")
    print(f"  baseline: bulk CTAS copy   {med(floor):6.2f} s")
    print(f"  writing / baseline         {write / med(floor):6.2f} x")


if __name__ == "__main__":
    main()
