"""Which deployment shipped a change, on seeded random warehouses full of edge cases, against a
brute-force reading of the rule in docs/metrics.md.

The SQL finds links set-wise with several shortcuts (merge-time bounds on the changes scan, tied
changes looked up by id and sha, rule (3) through an equality join on (repo, day)); this checks
that none of them changes an answer: ties on start time, missing start times, staging and failed
deployments, explicit links to any deployment (other repos, staging), shared shas, merges exactly at
a deployment's start, and ranges that cut through all of that.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from metrics import drilldown
from warehouse import upsert_rows

BASE = datetime(2024, 1, 1)
REPOS = ["a/one", "a/two", "b/three"]


def _random_rows(seed: int):
    rng = random.Random(seed)

    def at(hours_max=24 * 60):
        # a coarse grid (whole hours) so that ties on start and finish times are common
        return BASE + timedelta(hours=rng.randrange(hours_max))

    deployments = []
    for i in range(70):
        started = BASE + timedelta(hours=6 * rng.randrange(240))   # coarser still: more ties
        deployments.append({
            "id": f"d{i:03d}", "repo": rng.choice(REPOS), "service": rng.choice(["s1", "s2"]),
            "environment": rng.choice(["production", "production", "Production", "staging", "prod"]),
            "sha": rng.choice([f"x{rng.randrange(25)}", None]),
            "status": rng.choice(["success", "success", "success", "SUCCESS", "failure"]),
            "started_at": None if rng.random() < 0.15 else started,
            "finished_at": None if rng.random() < 0.05 else started + timedelta(hours=rng.randrange(3)),
        })
    changes = []
    for i in range(220):
        merged = None if rng.random() < 0.05 else at()
        changes.append({
            "id": f"c{i:03d}", "repo": rng.choice(REPOS), "number": i, "title": f"change {i}",
            "labels": [], "first_commit_at": None, "opened_at": None, "first_review_at": None,
            "merged_at": merged, "merge_sha": rng.choice([f"x{rng.randrange(25)}", None, None]),
        })
    links = {(rng.choice(deployments)["id"], rng.choice(changes)["id"]) for _ in range(40)}
    return deployments, changes, sorted(links)


def _expected(deployments, changes, links, start: date, end: date):
    """change id -> (deployment id, link) for the changes the drill-down lists, by the rule as written."""
    prod = [d for d in deployments
            if (d["status"] or "").lower() == "success"
            and (d["environment"] or "").lower() in ("production", "prod", "live")
            and d["finished_at"] is not None]

    def first(candidates):
        # "first" orders by start_key (started_at, else finished_at), then finished_at, then id
        return min(candidates, key=lambda d: (d["started_at"] or d["finished_at"], d["finished_at"], d["id"]),
                   default=None)

    by_id = {d["id"]: d for d in prod}
    lo, hi = datetime.combine(start, datetime.min.time()), datetime.combine(end + timedelta(days=1), datetime.min.time())
    expected = {}
    for c in changes:
        if c["merged_at"] is None:
            continue
        explicit = first([by_id[d] for d, ch in links if ch == c["id"] and d in by_id])
        sha = first([d for d in prod if d["repo"] == c["repo"] and c["merge_sha"] is not None
                     and d["sha"] == c["merge_sha"]])
        inferred = first([d for d in prod if d["repo"] == c["repo"]
                          and (d["started_at"] or d["finished_at"]) >= c["merged_at"]])
        target, link = next(((t, k) for t, k in ((explicit, "explicit"), (sha, "sha"), (inferred, "inferred"))
                             if t is not None), (None, "none"))
        if target is not None and lo <= target["finished_at"] < hi:
            expected[c["id"]] = (target["id"], link)
        elif target is None and lo <= c["merged_at"] < hi:
            expected[c["id"]] = (None, "none")
    return expected


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_links_match_the_rule_read_literally(con, config, seed):
    deployments, changes, links = _random_rows(seed)
    con.execute("BEGIN TRANSACTION")
    upsert_rows(con, "deployments", deployments)
    upsert_rows(con, "changes", changes)
    upsert_rows(con, "deployment_changes", [{"deployment_id": d, "change_id": c} for d, c in links])
    con.execute("COMMIT")
    for start, end in [(date(2024, 1, 10), date(2024, 1, 20)), (date(2024, 2, 1), date(2024, 2, 3)),
                       (date(2023, 12, 1), date(2024, 3, 31)), (date(2024, 1, 31), date(2024, 1, 31))]:
        rows = drilldown(con, config, "changes", start, end)
        got = {r.change_id: (r.deployment_id, r.link) for r in rows.itertuples()}
        assert got == _expected(deployments, changes, links, start, end), (seed, start, end)
