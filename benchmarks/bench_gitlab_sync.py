"""Benchmark: how many requests `cadence sync gitlab` sends to GitLab.

Serves the fake GitLab of the tests (tests/support/fake_gitlab: REST v4 and GraphQL, queries validated
against the schema subset Cadence uses) on 127.0.0.1 with one project of ``--merge-requests``
merged merge requests (each with a comment and an approval), ``--deployments`` production
deployments that GitLab linked to what they shipped and ``--pipelines`` CI pipelines (five jobs each,
every tenth with a job retried once), then runs the collector ``--runs`` times on
fresh warehouses (first sync) and once more on the last one (re-sync, nothing new), and prints the
requests each used as the server counted them (GitLab's rate limits count every request, 304s too),
the wall time, and the rows written.

Baseline (computed, same inputs): one REST request per object, the way a straightforward client
reads it: list merged merge requests (100 a page), then per merge request one list of its notes
(first review), one of its approvals and one of its commits (first commit); list deployments (100 a
page), then per deployment one list of the merge requests it shipped; one page of incidents; list
pipelines (100 a page), then per pipeline one list of its jobs (retried ones included). The pipeline
part's own requests (``/pipelines``, ``/jobs``) are printed apart, against their share of the baseline.
Usage::

    .venv/bin/python benchmarks/bench_gitlab_sync.py [--merge-requests 1000] [--deployments 300] [--runs 3]
        [--pipelines 1000] [--method merge|squash_ff|squash_merge|ff]
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

FIRST_BUDGET = 300
RESYNC_BUDGET = 4


def naive_pipeline_requests(pipelines: int) -> int:
    return math.ceil(pipelines / 100) + pipelines                    # pipeline pages; jobs of each


def naive_rest_requests(merge_requests: int, deployments: int, incident_pages: int = 1, pipelines: int = 0) -> int:
    return (math.ceil(merge_requests / 100) + 3 * merge_requests     # MR pages; notes, approvals, commits each
            + math.ceil(deployments / 100) + deployments              # deployment pages; merge requests each
            + incident_pages + naive_pipeline_requests(pipelines))


def is_pipeline_request(path: str) -> bool:
    return path.endswith(("/pipelines", "/jobs"))


def main() -> None:
    from cadence.core.config import parse_config
    from collectors.gitlab import sync
    from tests.support.fake_gitlab import FakeGitLab
    from tests.support.fake_gitlab.scenarios import busy_project

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merge-requests", type=int, default=1000)
    parser.add_argument("--deployments", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--method", default="merge", choices=("merge", "squash_merge", "squash_ff", "ff"),
                        help="the project's merge method (squash_ff costs one REST list per 100 merge requests "
                             "for their squash commits)")
    args = parser.parse_args()

    os.environ["GITLAB_TOKEN"] = "test-token"
    now = datetime(2026, 6, 1)
    with FakeGitLab() as fake, tempfile.TemporaryDirectory() as tmp:
        busy_project(fake, "shop/api", merge_requests=args.merge_requests, deployments=args.deployments,
                     method=args.method, pipelines=args.pipelines)
        config = parse_config({"sources": {"gitlab": {"base_url": fake.url, "projects": ["shop/api"]}}})
        measured = time_syncs(fake, sync, config, "shop/api", runs=args.runs, now=now, folder=Path(tmp))
    first_counts, first_times, rows = measured.counted, measured.times, measured.report.rows
    first_ci = [sum(1 for q in log if is_pipeline_request(q["path"])) for log in measured.requests]
    kinds: dict[str, int] = {}
    for q in measured.requests[-1]:
        kind = "GraphQL" if q["path"] == "/api/graphql" else "REST " + q["path"].split("/")[-1]
        kinds[kind] = kinds.get(kind, 0) + 1
    resync, resync_304, resync_time = measured.resync_counted, measured.resync_not_modified, measured.resync_time
    resync_ci = sum(1 for q in measured.resync_requests if is_pipeline_request(q["path"]))

    naive = naive_rest_requests(args.merge_requests, args.deployments, pipelines=args.pipelines)
    naive_ci = naive_pipeline_requests(args.pipelines)
    first = statistics.median(first_counts)
    ci = statistics.median(first_ci)
    print(f"project: {args.merge_requests} merged merge requests ({args.method}), "
          f"{args.deployments} production deployments, {args.pipelines} pipelines")
    print(f"rows written: {rows}")
    print(f"first sync:  {first:.0f} requests ({first - ci:.0f} without the pipelines part; budget {FIRST_BUDGET}): "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
          + f"; median {statistics.median(first_times):.2f} s over {args.runs} runs")
    print(f"re-sync:     {resync} requests, {resync_304} of them 304 Not Modified (budget {RESYNC_BUDGET}), "
          f"{resync_time:.2f} s")
    print(f"baseline (REST, one request per object, computed): {naive} requests; "
          f"Cadence uses {first / naive:.2%} of that ({naive / first:.0f}x fewer)")
    if args.pipelines:
        print(f"pipelines part: first sync {ci:.0f} requests (pipelines and jobs pages), re-sync {resync_ci}; "
              f"baseline (pipeline pages + one jobs list per pipeline) {naive_ci}: "
              f"{ci / naive_ci:.2%} of it ({naive_ci / ci:.0f}x fewer)")
    # the first-sync budget is for the merge requests and deployments; pipelines are printed apart
    ok = first - ci <= FIRST_BUDGET and resync <= RESYNC_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
