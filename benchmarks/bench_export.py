"""Benchmark: ``cadence export`` (no target in the issue; figures for docs/performance.md).

Two measurements, each with a baseline taken in the same run, medians over several runs:

1. One week of the demo database (seed 42) by team: ``build_export`` (both tables and their CSV
   bytes) against the baseline of the metric calls it wraps (``dora_metrics`` + ``drilldown`` +
   ``cost_summary``), so the ratio is the export's own overhead.
2. The CSV writer alone on a synthetic changes table of 200,000 rows: ``to_csv_bytes`` (fixed
   decimals, neutralisation, redaction check) against ``DataFrame.to_csv`` with a float format,
   the plain pandas writer that does none of that.

Usage::

    .venv/bin/python benchmarks/bench_export.py [--runs 5] [--rows 200000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._timing import median_seconds  # noqa: E402

TODAY = date(2026, 11, 25)
WEEK = "2026-W47"


def synthetic_changes(n: int):
    import numpy as np
    import pandas as pd

    from metrics.export import CHANGE_NAMES

    rng = np.random.default_rng(7)
    titles = np.array(["Fix checkout rounding", "=SUM(A1:A9)", "-5 degrees fix", "Add, with comma",
                       "Bump dependency", "@here deploy", 'Say "hi"', "Refactor search"])
    merged = pd.Timestamp("2026-11-16") + pd.to_timedelta(rng.integers(0, 7 * 86400, n), unit="s")
    df = pd.DataFrame({
        "period": WEEK, "period_start": date(2026, 11, 16),
        "scope": rng.choice(["platform", "growth", "catalog"], n),
        "change_id": [f"github:shop/api#{i}" for i in range(n)], "repo": "shop/api",
        "number": pd.array(np.arange(n), dtype="Int64"), "title": rng.choice(titles, n),
        "author": rng.choice(["alice", "@mallory", "bob"], n),
        "labels": [["bug", "-p1"] if i % 3 == 0 else [] for i in range(n)],
        "merged_at": merged, "deployment_id": [f"d{i}" for i in range(n)],
        "deployed_at": merged + pd.Timedelta(hours=2), "link": "sha",
        "lead_time_hours": rng.gamma(2, 20, n), "coding_hours": rng.gamma(2, 5, n),
        "pickup_hours": rng.gamma(2, 2, n), "review_hours": rng.gamma(2, 4, n),
        "deploy_hours": rng.gamma(2, 1, n), "url": "https://github.com/shop/api/pull/1",
    })
    return df[CHANGE_NAMES]


def main() -> None:
    from cadence.core.config import Config
    from warehouse.meta import effective_config
    from collectors.demo import build_demo
    from metrics import dora_metrics, drilldown
    from metrics.costs import cost_summary
    from metrics.export import build_export, parse_iso_week, to_csv_bytes
    from warehouse import read_connection

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    start, end = parse_iso_week(WEEK)

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.duckdb"
        build_demo(db, seed=42, today=TODAY)
        config = effective_config(Config(), db)
        with read_connection(db) as con:
            result = build_export(con, config, WEEK, by="team")
            export_s = median_seconds(lambda: build_export(con, config, WEEK, by="team"), args.runs)
            base_s = median_seconds(lambda: (
                dora_metrics(con, config, start, end, by="team", period="week"),
                drilldown(con, config, "changes", start, end, by="team"),
                cost_summary(con, config, start, end, by="team", period="week")), args.runs)
    rows = {k: len(v) for k, v in result.tables.items()}
    print(f"demo week {WEEK} by team: {rows['metrics']} metric rows, {rows['changes']} change rows")
    print(f"  build_export (tables + CSV)       median {export_s * 1000:8.1f} ms")
    print(f"  baseline: the metric calls alone  median {base_s * 1000:8.1f} ms")
    print(f"  export / baseline                 {export_s / base_s:8.2f}x")

    df = synthetic_changes(args.rows)
    ours = median_seconds(lambda: to_csv_bytes(df), args.runs)
    pandas_s = median_seconds(lambda: df.to_csv(index=False, float_format="%.2f",
                                              lineterminator="\n").encode("utf-8"), args.runs)
    size = len(to_csv_bytes(df))
    print(f"CSV writer on {args.rows:,} change rows ({size / 1e6:.1f} MB):")
    print(f"  to_csv_bytes                      median {ours:8.2f} s  ({args.rows / ours:,.0f} rows/s)")
    print(f"  baseline: DataFrame.to_csv        median {pandas_s:8.2f} s")
    print(f"  to_csv_bytes / to_csv             {ours / pandas_s:8.2f}x")


if __name__ == "__main__":
    main()
