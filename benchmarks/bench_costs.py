"""Benchmark: cost export ingest and the cost metrics (no target in the issue; figures for
docs/performance.md, "Costs"). Each measurement has a baseline taken in the same run; medians.

1. ``ingest_cost_export`` on a synthetic FOCUS Parquet file (hourly lines of ~700 resources over 30 days) against the
   floor: one DuckDB ``CREATE TABLE AS`` that reads the same file and sums it to the same daily
   grain, with no validation, allocation or upsert.
2. ``cost_summary`` (by team, per week, one quarter of the demo database) against the
   ``dora_metrics`` call it wraps, and the other cost metrics beside it.

Usage::

    .venv/bin/python benchmarks/bench_costs.py [--runs 3] [--rows 500000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._timing import median_seconds  # noqa: E402


def make_focus(path: Path, rows: int) -> None:
    import duckdb

    duckdb.execute(f"""COPY (
        SELECT TIMESTAMP '2026-09-01' + INTERVAL (i % 720) HOUR AS ChargePeriodStart,
               'AWS' AS ProviderName, '999' AS BillingAccountId, CAST(100 + (i // 720) % 12 AS VARCHAR) AS SubAccountId,
               'Service ' || ((i // 720) % 25) AS ServiceName, 'Compute' AS ServiceCategory, 'us-east-1' AS RegionId,
               'r-' || (i // 720) AS ResourceId,
               '{{"team": "t' || ((i // 720) % 7) || '"}}' AS Tags,
               (i % 97) / 100.0 AS BilledCost, (i % 89) / 100.0 AS EffectiveCost, 'USD' AS BillingCurrency
        FROM range({rows}) r(i)) TO '{path}' (FORMAT parquet)""")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rows", type=int, default=500_000)
    args = ap.parse_args()

    import duckdb

    from warehouse.meta import effective_config
    from cadence.core.config import load_config, parse_config
    from collectors.cost_exports import ingest_cost_export
    from warehouse import connect

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export = tmp / "focus.parquet"
        make_focus(export, args.rows)
        config = parse_config({"teams": {f"t{i}": {"cost_tags": [f"t{i}"]} for i in range(7)}})
        db = tmp / "ingest.duckdb"
        result = {}

        def ingest():
            result.update(ingest_cost_export(db, config, export))

        def baseline():
            con = duckdb.connect(str(tmp / "floor.duckdb"))
            con.execute("CREATE OR REPLACE TABLE daily AS SELECT CAST(ChargePeriodStart AS DATE) d, ProviderName, "
                        "BillingAccountId, SubAccountId, ServiceName, RegionId, ResourceId, "
                        "json_extract_string(Tags, '$.team') tag, sum(BilledCost), sum(EffectiveCost) "
                        "FROM read_parquet(?) GROUP BY ALL", [str(export)])
            con.close()

        t_ingest, t_floor = median_seconds(ingest, args.runs), median_seconds(baseline, args.runs)
        print(f"ingest_cost_export: {args.rows:,} FOCUS lines -> {result['rows_written']:,} daily rows: "
              f"median {t_ingest:.2f} s ({args.rows / t_ingest:,.0f} lines/s)")
        print(f"baseline CTAS read+group: median {t_floor:.2f} s; ratio {t_ingest / t_floor:.1f}x")

    demo = ROOT / "data" / "demo.duckdb"
    if not demo.exists():
        from collectors.demo import build_demo

        build_demo(demo)
    from metrics import dora_metrics
    from metrics.costs import cost_anomalies, cost_by, cost_forecast, cost_summary, utilization_summary

    cfg = effective_config(load_config(None), demo)
    con = connect(demo, read_only=True)
    end = con.execute("SELECT max(charge_date) FROM costs").fetchone()[0]
    start = end - timedelta(days=90)
    timings = {
        "cost_summary(team, week, 91 days)": lambda: cost_summary(con, cfg, start, end, by="team", period="week"),
        "baseline dora_metrics(team, week)": lambda: dora_metrics(con, cfg, start, end, by="team", period="week"),
        "cost_by(service, month)": lambda: cost_by(con, cfg, start, end, by="service", period="month"),
        "cost_forecast(org, 90 days ahead)": lambda: cost_forecast(con, cfg, start, end, horizon_days=90),
        "cost_anomalies(service)": lambda: cost_anomalies(con, cfg, start, end, by="service"),
        "utilization_summary(team, week)": lambda: utilization_summary(con, cfg, start, end, by="team", period="week"),
    }
    results = {name: median_seconds(fn, args.runs) for name, fn in timings.items()}
    for name, t in results.items():
        print(f"{name}: median {t:.3f} s")
    base = results["baseline dora_metrics(team, week)"]
    print(f"cost_summary / dora_metrics: {results['cost_summary(team, week, 91 days)'] / base:.1f}x")
    con.close()


if __name__ == "__main__":
    main()
