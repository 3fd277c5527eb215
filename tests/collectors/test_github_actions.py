"""GitHub Actions in `cadence sync github` (collectors/github/actions.py) against the fake GitHub:
real HTTP on 127.0.0.1, GraphQL validated against GitHub's schema. Runs, jobs, re-runs, a run that
finishes between two syncs, a listing GitHub caps at 1,000 results, and the request budget."""

from __future__ import annotations

from datetime import datetime, timedelta

from cadence.core.config import parse_config
from tests.support.db import rows
from tests.support.fake_fixtures import NOW, TOKEN, fake_forge_fixtures
from tests.support.fake_fixtures import sync_github as run
from tests.support.fake_github import FakeGitHub
from tests.support.fake_github.scenarios import actions_repo

LINUX = ("ubuntu-latest",)
MAC = ("macos-14",)
SELF = ("self-hosted", "linux", "x64")


server, fake = fake_forge_fixtures(FakeGitHub, "GITHUB_TOKEN", "GitHub")


def config_for(fake, **extra):
    body = {"base_url": fake.base_url, "repos": ["shop/api"], "min_request_interval": 0, **extra}
    return parse_config({"sources": {"github": body}})


def repo_with_runs(fake):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    ci = r.add_workflow("CI", ".github/workflows/ci.yml")
    ok = r.add_actions_run(ci, "a" * 40, "2026-03-10T09:00:00Z",
                           jobs=(("build", LINUX, 0.5, 4), ("test-ios", MAC, 2, 10)))
    flaky = r.add_actions_run(ci, "b" * 40, "2026-03-11T09:00:00Z", conclusion="failure",
                              jobs=(("build", LINUX, 1, 5), ("e2e", SELF, 3, 7)))
    r.rerun(flaky, "2026-03-11T10:00:00Z", conclusion="success")
    pr = r.add_actions_run(ci, "c" * 40, "2026-03-12T09:00:00Z", branch="feature/x", event="pull_request",
                           jobs=(("build", LINUX, 0.5, 3),))
    return r, ok, flaky, pr


def test_runs_jobs_and_reruns(fake, db_path):
    r, ok, flaky, pr = repo_with_runs(fake)
    report = run(db_path, config_for(fake))
    assert report.synced == ["shop/api"] and not report.failed
    got = rows(db_path, "SELECT id, attempt, workflow, branch, event, status, conclusion, created_at, queued_at, "
                        "started_at, finished_at FROM pipeline_runs ORDER BY created_at, attempt")
    fid = f"github:shop/api:{flaky['id']}"
    assert got == [
        # first job queued at 09:00, started 0.5 min later; the run updated when the last job ended:
        # 09:00 + 0.5 + 4 (build) + 2 (queue) + 10 (test-ios) = 09:16:30
        (f"github:shop/api:{ok['id']}", 1, "CI", "main", "push", "completed", "success", datetime(2026, 3, 10, 9),
         datetime(2026, 3, 10, 9), datetime(2026, 3, 10, 9, 0, 30), datetime(2026, 3, 10, 9, 16, 30)),
        # attempt 1, rebuilt from its jobs (REST filter=all): build 09:01-09:06, e2e 09:09-09:16
        (fid, 1, "CI", "main", "push", "completed", "failure", datetime(2026, 3, 11, 9),
         datetime(2026, 3, 11, 9), datetime(2026, 3, 11, 9, 1), datetime(2026, 3, 11, 9, 16)),
        # attempt 2 re-run at 10:00: both jobs again with 0.5 min queue and 5 min each -> 10:11
        (fid, 2, "CI", "main", "push", "completed", "success", datetime(2026, 3, 11, 9),
         datetime(2026, 3, 11, 10), datetime(2026, 3, 11, 10, 0, 30), datetime(2026, 3, 11, 10, 11)),
        (f"github:shop/api:{pr['id']}", 1, "CI", "feature/x", "pull_request", "completed", "success",
         datetime(2026, 3, 12, 9), datetime(2026, 3, 12, 9), datetime(2026, 3, 12, 9, 0, 30),
         datetime(2026, 3, 12, 9, 3, 30)),
    ]
    jobs = rows(db_path, "SELECT run_id, attempt, name, runner_os, runner_labels, self_hosted, conclusion "
                         "FROM pipeline_jobs ORDER BY run_id, attempt, name")
    assert (fid, 1, "e2e", "linux", list(SELF), True, "failure") in jobs
    assert (fid, 2, "build", "linux", list(LINUX), False, "success") in jobs
    assert (f"github:shop/api:{ok['id']}", 1, "test-ios", "macos", list(MAC), False, "success") in jobs
    assert len(jobs) == 7     # 2 (ok) + 2 + 2 (flaky's two attempts) + 1 (pr)
    # re-syncs of the unchanged repository: the GraphQL page and the runs listing only (the
    # deployment-signal lookup of /actions/workflows is a free 304); the third one's listing is a 304
    for expected_304 in (False, True):
        fake.reset_log()
        run(db_path, config_for(fake))
        actions = [(q["path"].rsplit("/", 1)[-1], q["status"]) for q in fake.requests if "/actions/runs" in q["path"]]
        assert fake.counted() <= 2 and actions == [("runs", 304 if expected_304 else 200)], fake.requests
        assert [q["variables"] for q in fake.requests if q["path"] == "/api/graphql"][0].get("owner") == "shop"
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(4,)]


def test_a_run_in_progress_is_read_again_until_it_finishes(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    ci = r.add_workflow("CI", ".github/workflows/ci.yml")
    running = r.add_actions_run(ci, "b" * 40, "2026-03-18T11:00:00Z", conclusion=None,
                                jobs=(("build", LINUX, 0.5, 4),))
    r.add_actions_run(ci, "a" * 40, "2026-03-20T09:00:00Z", jobs=(("build", LINUX, 0.5, 4),))
    run(db_path, config_for(fake))
    rid = f"github:shop/api:{running['id']}"
    assert rows(db_path, "SELECT status, conclusion, finished_at FROM pipeline_runs WHERE id = ?", [rid]) == [
        ("in_progress", None, None)]
    # the cursor waits at the unfinished run's creation (before the newest run less the 1-day
    # re-run window, 2026-03-19 09:00)
    assert rows(db_path, "SELECT cursor FROM sync_state WHERE scope = 'shop/api:actions'") == [
        ("2026-03-18T11:00:00Z",)]
    r.finish(running, "failure", "2026-03-20T11:20:00Z")
    run(db_path, config_for(fake), now=NOW + timedelta(hours=1))
    assert rows(db_path, "SELECT status, conclusion, finished_at FROM pipeline_runs WHERE id = ?", [rid]) == [
        ("completed", "failure", datetime(2026, 3, 20, 11, 20))]
    assert rows(db_path, "SELECT conclusion, finished_at FROM pipeline_jobs WHERE run_id = ?", [rid]) == [
        ("failure", datetime(2026, 3, 20, 11, 20))]
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(2,)]     # nothing twice


def test_request_budget_of_a_busy_repository(fake, db_path):
    """3,000 runs in the lookback: at most 60 requests on the first sync, jobs included; a re-sync
    of the unchanged repository at most 2 (docs/performance.md)."""
    actions_repo(fake, runs=3000)   # 2026-01-01 .. 2026-03-20, 30 of them re-run once
    report = run(db_path, config_for(fake, since="2026-01-01"))
    assert report.synced == ["shop/api"], report.failed
    first = len(fake.requests)
    # 1 GraphQL repo page + runs listing (4 cap-split windows: 3 splits + 30 pages) + 10 job queries
    # (300 runs each) + REST job reads (8 at most) + the deployment signal's workflows lookup = at most 53
    assert first <= 60, [(q["path"].rsplit("/", 2)[-2:], q["query"][:60], q["status"]) for q in fake.requests]
    assert rows(db_path, "SELECT count(DISTINCT id) FROM pipeline_runs") == [(3000,)]
    assert rows(db_path, "SELECT count(*) FROM pipeline_jobs WHERE attempt = 1") == [(6000,)]
    # 30 re-runs (every 100th from the 8th): their first attempts too, from the check runs of every attempt
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs WHERE attempt = 2") == [(30,)]
    assert rows(db_path, "SELECT count(*) FROM pipeline_jobs WHERE runner_os = 'linux'") == [(6060,)]
    fake.reset_log()
    run(db_path, config_for(fake, since="2026-01-01"))
    # requests that cost rate limit (a 304 does not)
    assert fake.counted() <= 2, [(q["path"], q["status"]) for q in fake.requests]
    print(f"budget: first sync {first} requests for 3,000 runs; re-sync {fake.counted()}")


def test_actions_off_or_unreadable_leaves_the_other_parts(fake, db_path):
    repo_with_runs(fake)
    fake.tokens[TOKEN] = {"forbidden": {("shop/api", "actions")}}
    report = run(db_path, config_for(fake))
    assert report.synced == ["shop/api"] and not report.failed
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(0,)]
    fake.reset_log()
    run(db_path, config_for(fake, actions=False))
    assert not [q for q in fake.requests if "/actions/runs" in q["path"]]
