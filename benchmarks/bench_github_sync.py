"""Benchmark: what `cadence sync github` spends against GitHub's rate limit.

Serves the fake GitHub of the tests (tests/support/fake_github: REST + GraphQL validated and executed
against GitHub's published schema) on 127.0.0.1 with one repository of ``--pulls`` squash-merged
pull requests and ``--deployments`` production deployments, then runs the collector ``--runs``
times on fresh warehouses (first sync) and once more on the last one (re-sync, nothing new), and
prints the requests each used as the server counted them (304 Not Modified apart: they do not
count against GitHub's limit), the wall time, and the rows written.

Baseline (computed, same inputs): the straightforward REST-per-object approach — list closed pull
requests (100 a page), then per pull request one list of its commits (first commit) and one of its
reviews (first review); list deployments, then per deployment one list of its statuses (finish
time and outcome) and one compare against the previous deployment (what it shipped); one page of
incident issues. Usage::

    .venv/bin/python benchmarks/bench_github_sync.py [--pulls 1000] [--deployments 300] [--runs 3]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._timing import time_syncs  # noqa: E402

FIRST_BUDGET = 40
RESYNC_BUDGET = 3


def naive_rest_requests(pulls: int, deployments: int, issues_pages: int = 1) -> int:
    return (math.ceil(pulls / 100) + 2 * pulls            # PR pages; commits + reviews per PR
            + math.ceil(deployments / 100) + 2 * deployments   # deployment pages; statuses + compare each
            + issues_pages)


def main() -> None:
    from cadence.core.config import parse_config
    from collectors.github import sync
    from tests.support.fake_github import FakeGitHub
    from tests.support.fake_github.graphql_api import schema
    from tests.support.fake_github.scenarios import busy_repo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=1000)
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--merge-commits", action="store_true",
                        help="merge commits instead of squash merges (git log lists branch commits too)")
    parser.add_argument("--commits-per-pull", type=int, default=1)
    args = parser.parse_args()

    schema()   # built once (about a second), outside the timings
    os.environ["GITHUB_TOKEN"] = "test-token"
    now = datetime(2026, 6, 1)
    with FakeGitHub() as fake, tempfile.TemporaryDirectory() as tmp:
        busy_repo(fake, "shop/api", pulls=args.pulls, deployments=args.deployments,
                  merge_commits=args.merge_commits, commits_per_pull=args.commits_per_pull)
        config = parse_config({"sources": {"github": {"base_url": fake.base_url, "repos": ["shop/api"],
                                                      "min_request_interval": 0}}})
        measured = time_syncs(fake, sync, config, "shop/api", runs=args.runs, now=now, folder=Path(tmp))
        first_counts, first_times, rows = measured.counted, measured.times, measured.report.rows
        resync_counted, resync_304 = measured.resync_counted, measured.resync_not_modified
        resync_time = measured.resync_time

    naive = naive_rest_requests(args.pulls, args.deployments)
    first = statistics.median(first_counts)
    style = (f"merge commits, {args.commits_per_pull} branch commit(s) each" if args.merge_commits
             else "squash merges")
    print(f"repository: {args.pulls} merged pull requests ({style}), {args.deployments} production deployments")
    print(f"rows written: {rows}")
    print(f"first sync:  {first:.0f} requests (budget {FIRST_BUDGET}), "
          f"median {statistics.median(first_times):.2f} s over {args.runs} runs")
    print(f"re-sync:     {resync_counted} counted requests + {resync_304} not modified "
          f"(budget {RESYNC_BUDGET}), {resync_time:.2f} s")
    print(f"baseline (REST per object, computed): {naive} requests; "
          f"Cadence uses {first / naive:.2%} of that ({naive / first:.0f}x fewer)")
    ok = first <= FIRST_BUDGET and resync_counted <= RESYNC_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
