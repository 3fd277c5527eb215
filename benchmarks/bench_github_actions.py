"""Benchmark: what GitHub Actions collection (issue 18) spends against GitHub's rate limit.

Serves the fake GitHub of the tests (tests/support/fake_github: REST + GraphQL validated against GitHub's
published schema) on 127.0.0.1 with one repository of ``--runs`` workflow runs (three workflows,
two jobs each, 1 % re-run once) in the lookback, then runs `cadence sync github`'s collector
``--repeat`` times on fresh warehouses (first sync) and once more on the last one (re-sync of the
unchanged repository), and prints every request the server saw (304s apart: they are free), the
wall time and the rows written.

Baseline (computed, same inputs): one request per run — the runs listing (100 a page) and then one
``/actions/runs/{id}/jobs`` per run (every run's jobs, runner labels and queue times), plus one
``/attempts/{n}`` per earlier attempt of a re-run. Budget (issue 18): at most 60 requests on a first
sync of 3,000 runs, jobs included; at most 2 on an unchanged re-sync. Usage::

    .venv/bin/python benchmarks/bench_github_actions.py [--runs 3000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST_BUDGET = 60
RESYNC_BUDGET = 2


def one_request_per_run(runs: int, reruns: int) -> int:
    return math.ceil(runs / 100) + runs + reruns


def main() -> None:
    from cadence.core.config import parse_config
    from collectors.github import sync
    from tests.support.fake_github import FakeGitHub
    from tests.support.fake_github.graphql_api import schema
    from tests.support.fake_github.scenarios import actions_repo
    from warehouse import connect

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["GITHUB_TOKEN"] = "test-token"   # the fake accepts this one
    schema()   # build the GraphQL schema before timing
    now = datetime(2026, 3, 20, 12, 0)
    firsts, seconds = [], []
    with FakeGitHub() as fake, tempfile.TemporaryDirectory() as tmp:
        actions_repo(fake, runs=args.runs)
        reruns = sum(1 for i in range(args.runs) if i % 100 == 7)
        config = parse_config({"sources": {"github": {"base_url": fake.base_url, "repos": ["shop/api"],
                                                       "min_request_interval": 0, "since": "2026-01-01"}}})
        for i in range(args.repeat):
            db = Path(tmp) / f"bench-{i}.duckdb"
            fake.reset_log()
            started = time.perf_counter()
            sync(db, config, now=now)
            seconds.append(time.perf_counter() - started)
            firsts.append(len(fake.requests))
        fake.reset_log()
        started = time.perf_counter()
        sync(db, config, now=now)
        resync_s = time.perf_counter() - started
        resync_all, resync_counted = len(fake.requests), fake.counted()
        con = connect(db)
        runs_rows, jobs_rows = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                                for t in ("pipeline_runs", "pipeline_jobs"))
        con.close()
    base = one_request_per_run(args.runs, reruns)
    first = statistics.median(firsts)
    print(f"GitHub Actions, one repository: {args.runs:,} runs ({reruns} re-run once) in the lookback")
    print(f"first sync: median {first:.0f} requests over {args.repeat} runs ({firsts}); budget {FIRST_BUDGET}; "
          f"wall median {statistics.median(seconds):.1f} s")
    print(f"baseline one request per run: {base:,} requests -> {base / first:.0f}x more than Cadence")
    print(f"re-sync, unchanged: {resync_all} requests ({resync_counted} counted against the rate limit); "
          f"budget {RESYNC_BUDGET}; wall {resync_s:.2f} s")
    print(f"rows: {runs_rows:,} pipeline_runs (attempts), {jobs_rows:,} pipeline_jobs")
    ok = first <= FIRST_BUDGET and resync_counted <= RESYNC_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
