"""Benchmark: the SLO figures and the Prometheus sync, each beside a baseline measured in the same run.

1. ``metrics.slo.slo_status`` on the demo warehouse with the demo's SLIs (8 SLOs x 8,736 hours,
   collectors/demo/slo.py) as of the demo's last day, against ``metrics.dora_metrics`` over the same
   28 days (period total, by team): the call the Overview makes for the same view.
2. ``cadence sync prometheus`` (``collectors.prometheus.sync``) against the real Prometheus of the
   tests (tests/support/prometheus.py: checkout with 4 series scraped every 1-2 minutes, batch
   hourly): a first run (93 days), a run with nothing new (3 re-read hours), and 12,408 hours of
   the batch SLO (two pieces). Baseline: the one query per selector that the exactness replaces,
   ``sum(increase(SELECTOR[1h]))`` at step 1h over the same 93 days.

Medians of ``--runs`` runs. Usage::

    .venv/bin/python benchmarks/bench_slo.py [--runs 5]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._timing import median_seconds  # noqa: E402

TODAY = date(2026, 11, 20)
NOW = datetime(2025, 3, 1, 0, 20)


def bench_metrics(runs: int) -> None:
    from cadence.core.config import parse_config
    from collectors.demo import build_demo, demo_config, demo_tables
    from collectors.demo.slo import demo_slos, sli_rows
    from metrics import dora_metrics
    from metrics.slo import slo_status
    from warehouse import connect, read_connection, upsert_rows

    db = Path(tempfile.mkdtemp(prefix="bench-slo-")) / "demo.duckdb"
    build_demo(db, seed=42, today=TODAY)
    tables, cal = demo_tables(42, TODAY)
    rows = sli_rows(tables["incidents"], cal.start, cal.days, 42)
    con = connect(db)
    upsert_rows(con, "sli_hours", rows)
    con.close()
    config = parse_config({**demo_config(), "slos": demo_slos()})
    end = cal.start + timedelta(days=cal.days - 1)
    with read_connection(db) as con:
        slo = median_seconds(lambda: slo_status(con, config, end), runs)
        dora = median_seconds(lambda: dora_metrics(con, config, end - timedelta(days=27), end, by="team",
                                                   period="total"), runs)
    print(f"slo_status, 8 SLOs over {len(rows):,} SLI hours: median {slo * 1000:.0f} ms")
    print(f"baseline dora_metrics, 28 days by team:          median {dora * 1000:.0f} ms")
    print(f"ratio slo_status / dora_metrics: {slo / dora:.2f}")


def bench_sync(runs: int) -> None:
    from cadence.core.config import parse_config
    from collectors import prometheus as prom
    from collectors.prometheus.client import PrometheusClient
    from tests.support import prometheus as fixture

    if not all(fixture.binaries()):
        print("prometheus/promtool not installed: sync part skipped (apt-get install prometheus)")
        return
    work = Path(tempfile.mkdtemp(prefix="bench-prom-"))
    server = fixture.start_prometheus(work)
    try:
        slos = [{"name": "checkout", "service": "checkout", "objective": 99.9, "window_days": 28,
                 "good": fixture.CHECKOUT_GOOD, "total": fixture.CHECKOUT_TOTAL},
                {"name": "batch", "service": "batch", "objective": 99.0, "window_days": 90,
                 "good": fixture.BATCH_GOOD, "total": fixture.BATCH_TOTAL}]
        config = parse_config({"sources": {"prometheus": {"base_url": server.url}}, "slos": slos})

        def client():
            return PrometheusClient(server.url, username=fixture.USERNAME, password=fixture.PASSWORD)

        counter = iter(range(10_000))

        def first_run():
            prom.sync(work / f"first-{next(counter)}.duckdb", config, client(), now=NOW)

        first = median_seconds(first_run, runs)
        steady_db = work / "steady.duckdb"
        prom.sync(steady_db, config, client(), now=NOW)
        steady = median_seconds(lambda: prom.sync(steady_db, config, client(), now=NOW), runs)
        split = median_seconds(lambda: prom.sync(work / f"long-{next(counter)}.duckdb", config, client(), now=NOW,
                                                 since=date(2023, 10, 1), only=["batch"]), max(1, runs // 2))
        naive_client = client()
        start, end = NOW.replace(minute=0) - timedelta(days=93), NOW.replace(minute=0)

        def naive():
            for selector in (fixture.CHECKOUT_GOOD, fixture.CHECKOUT_TOTAL, fixture.BATCH_GOOD, fixture.BATCH_TOTAL):
                naive_client.query_range(f"sum(increase({selector}[1h]))", start, end, 3600, "baseline")

        baseline = median_seconds(naive, runs)
        print(f"sync first run, 2 SLOs x 93 days (2,901 rows written): median {first * 1000:.0f} ms")
        print(f"sync with nothing new (3 re-read hours per SLO):      median {steady * 1000:.0f} ms")
        print(f"sync of 12,408 hours of one SLO, two pieces:          median {split * 1000:.0f} ms")
        print(f"baseline sum(increase()) for the same 4 selectors, 93 days: median {baseline * 1000:.0f} ms")
        print(f"ratio exact first run / naive increase(): {first / baseline:.1f}")
    finally:
        fixture.stop(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bench_metrics(args.runs)
    bench_sync(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
