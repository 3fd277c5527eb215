"""GitHub collector against the fake GitHub (real HTTP on 127.0.0.1, GraphQL validated and executed
against GitHub's published schema). One server per module; each test builds its own small model."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest

import collectors.github.workflow as gh_workflow
from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, SourceAuthError, SourceError, SourceRateLimitError
from collectors.github import GitHubSettings, sync
from tests.support.db import rows
from tests.support.fake_fixtures import NOW, TOKEN, fake_forge_fixtures
from tests.support.fake_fixtures import sync_github as run
from tests.support.fake_github import (
    FakeGitHub,
    graphql_partial,
    primary_exhausted,
    secondary_limit,
    server_error,
    too_many_requests,
)
from tests.support.fake_github import server as fake_server
from tests.support.fake_github.scenarios import busy_repo
from warehouse import connect



server, fake = fake_forge_fixtures(FakeGitHub, "GITHUB_TOKEN", "GitHub")


def make_config(fake, repos=("shop/api",), **extra):
    body = {"base_url": fake.base_url, "repos": list(repos), "min_request_interval": 0, **extra}
    return parse_config({"sources": {"github": body}})


def sync_error(db_path, scope):
    found = rows(db_path, "SELECT last_error FROM sync_state WHERE source = 'github' AND scope = ?", [scope])
    return found[0][0] if found else None


def small_repo(fake, name="shop/api"):
    """Two merged PRs (+1 into another branch), a failed then a successful production deploy, a
    staging deploy, three labelled issues (one closed as not planned)."""
    r = fake.add_repo(name)
    r.commit("init", "2026-03-01T08:00:00Z")
    p1 = r.merge_pull("add cart", author="ana", opened="2026-03-02T10:00:00Z", merged="2026-03-02T12:00:00Z",
                      first_commit="2026-03-02T09:00:00Z",
                      reviews=[("ana", "2026-03-02T10:30:00Z"), ("ben", "2026-03-02T11:00:00Z")])
    r.deploy(p1.merge_oid, "2026-03-02T13:00:00Z", state="FAILURE")
    p2 = r.merge_pull("fix tax", author="ben", opened="2026-03-03T09:00:00Z", merged="2026-03-03T10:00:00Z",
                      first_commit="2026-03-03T08:00:00Z", labels=["hotfix"])
    r.deploy(p2.merge_oid, "2026-03-03T10:30:00Z", environment="staging")
    r.deploy(p2.merge_oid, "2026-03-03T11:00:00Z")                     # success at 11:10
    r.add_commit("release branch base", "2026-03-03T09:30:00Z", branch="release", parents=[p1.merge_oid])
    r.merge_pull("backport", opened="2026-03-03T09:40:00Z", merged="2026-03-03T09:50:00Z", base_ref="release")
    r.add_issue("checkout down", created="2026-03-03T12:00:00Z", closed="2026-03-03T14:00:00Z",
                labels=["incident", "service:checkout", "severity:high"])
    r.add_issue("slow pages", created="2026-03-04T12:00:00Z", labels=["incident"])
    r.add_issue("false alarm", created="2026-03-04T13:00:00Z", closed="2026-03-04T13:05:00Z",
                state_reason="NOT_PLANNED")
    return r, p1, p2


def test_first_sync_writes_changes_deployments_links_incidents(fake, db_path):
    r, p1, p2 = small_repo(fake)
    report = run(db_path, make_config(fake))
    assert report.synced == ["shop/api"] and not report.failed
    # One GraphQL request carries every part of this small repo, plus the Actions runs listing (REST).
    assert fake.counted() == 2 and report.requests == 2

    changes = rows(db_path, "SELECT id, author, labels, first_commit_at, opened_at, first_review_at, merged_at, "
                            "merge_sha FROM changes ORDER BY id")
    assert changes == [
        # the first review by someone other than the author: ben at 11:00, not ana's own at 10:30
        ("github:shop/api#1", "ana", [], datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10),
         datetime(2026, 3, 2, 11), datetime(2026, 3, 2, 12), p1.merge_oid),
        ("github:shop/api#2", "ben", ["hotfix"], datetime(2026, 3, 3, 8), datetime(2026, 3, 3, 9),
         None, datetime(2026, 3, 3, 10), p2.merge_oid),
    ]  # PR #3 went into "release", not the default branch: not a change
    deps = rows(db_path, "SELECT environment, status, started_at, finished_at FROM deployments ORDER BY started_at")
    assert deps == [("production", "failure", datetime(2026, 3, 2, 13), datetime(2026, 3, 2, 13, 10)),
                    ("staging", "success", datetime(2026, 3, 3, 10, 30), datetime(2026, 3, 3, 10, 40)),
                    ("production", "success", datetime(2026, 3, 3, 11), datetime(2026, 3, 3, 11, 10))]
    prod_ok = r.deployments[2].id
    # Both changes ship with the first *successful production* deployment at or after their merge.
    assert rows(db_path, "SELECT change_id, deployment_id FROM deployment_changes ORDER BY change_id") == [
        ("github:shop/api#1", f"github:shop/api:deployment:{prod_ok}"),
        ("github:shop/api#2", f"github:shop/api:deployment:{prod_ok}")]
    incidents = rows(db_path, "SELECT id, service, severity, created_at, resolved_at FROM incidents ORDER BY id")
    numbers = sorted(r.issues)
    assert incidents == [
        (f"github:shop/api:issue:{numbers[0]}", "checkout", "high", datetime(2026, 3, 3, 12), datetime(2026, 3, 3, 14)),
        (f"github:shop/api:issue:{numbers[1]}", "api", None, datetime(2026, 3, 4, 12), None)]
    cursors = dict(rows(db_path, "SELECT scope, cursor FROM sync_state WHERE source = 'github'"))
    assert cursors["shop/api:pulls"] == "2026-03-03T10:00:00Z"
    assert cursors["shop/api:history"] == r.head
    assert [q["path"] for q in fake.requests] == ["/api/graphql", "/api/v3/repos/shop/api/actions/runs"]


def test_resync_costs_one_request_and_picks_up_new_work(fake, db_path):
    r, p1, p2 = small_repo(fake)
    config = make_config(fake)
    run(db_path, config)
    before = rows(db_path, "SELECT * FROM changes ORDER BY id") + rows(db_path, "SELECT * FROM deployments ORDER BY id")
    fake.reset_log()
    run(db_path, config)
    assert fake.counted() == 1
    assert rows(db_path, "SELECT * FROM changes ORDER BY id") + rows(db_path, "SELECT * FROM deployments ORDER BY id") == before

    p4 = r.merge_pull("new thing", opened="2026-03-05T09:00:00Z", merged="2026-03-05T10:00:00Z")
    dep = r.deploy(p4.merge_oid, "2026-03-05T11:00:00Z")
    fake.reset_log()
    run(db_path, config)
    assert fake.counted() <= 3
    assert rows(db_path, "SELECT deployment_id FROM deployment_changes WHERE change_id = ?",
                [f"github:shop/api#{p4.number}"]) == [(f"github:shop/api:deployment:{dep.id}",)]
    assert rows(db_path, "SELECT count(*) FROM branch_commits WHERE repo = 'shop/api'") == [(4,)]


def test_budget_first_sync_and_resync_of_a_busy_repo(fake, db_path):
    busy_repo(fake, pulls=1000, deployments=300)
    config = make_config(fake)
    run(db_path, config)
    first = fake.counted("shop/api")
    assert first <= 40
    assert rows(db_path, "SELECT count(*) FROM changes") == [(1000,)]
    assert rows(db_path, "SELECT count(*) FROM deployments") == [(300,)]
    # a deployment after every third merge: 300 × 3 = 900 changes shipped, 100 still waiting
    assert rows(db_path, "SELECT count(*), count(DISTINCT deployment_id) FROM deployment_changes") == [(900, 300)]
    fake.reset_log()
    run(db_path, config)
    assert fake.counted("shop/api") <= 3


def test_pull_request_with_more_than_250_commits_gets_its_real_first_commit(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    big = r.merge_pull("big migration", opened="2026-03-10T00:00:00Z", merged="2026-03-12T00:00:00Z",
                       first_commit="2026-02-01T00:00:00Z", commits=300)
    run(db_path, make_config(fake))
    assert rows(db_path, "SELECT first_commit_at FROM changes WHERE number = ?", [big.number]) == [
        (datetime(2026, 2, 1),)]
    # GraphQL lists every commit; the REST list that stops at 250 is never asked.
    assert not [q for q in fake.requests if q["path"].endswith("/commits")]


def test_first_review_beyond_the_first_page_of_reviews(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    own = [("ana", f"2026-03-02T10:{m:02d}:00Z") for m in range(12)]   # 12 replies by the author
    pr = r.merge_pull("chatty", author="ana", opened="2026-03-02T09:00:00Z", merged="2026-03-03T09:00:00Z",
                      reviews=own + [("ben", "2026-03-02T15:00:00Z")])
    run(db_path, make_config(fake))
    assert rows(db_path, "SELECT first_review_at FROM changes WHERE number = ?", [pr.number]) == [
        (datetime(2026, 3, 2, 15),)]
    graphql = [q for q in fake.requests if q["path"] == "/api/graphql"]
    assert len(graphql) == 2      # the page, and one query for the rest of that PR's reviews


def test_missing_token_says_which_variable(fake, db_path, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN")
    fake.add_repo("shop/api").commit("init", "2026-03-01T00:00:00Z")
    with pytest.raises(SourceAuthError, match="GITHUB_TOKEN is not set"):
        sync(db_path, make_config(fake))
    assert fake.requests == []


def test_bad_token_stops_the_run_and_says_what_to_set(fake, db_path, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GITHUB_TOKEN", "expired-token")
    small_repo(fake)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.github]\nbase_url = "{fake.base_url}"\nrepos = ["shop/api"]\nmin_request_interval = 0\n')
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "github"]) == 1
    err = capsys.readouterr().err
    assert "401" in err and "set GITHUB_TOKEN" in err and "expired-token" not in err
    assert rows(db_path, "SELECT count(*) FROM changes") == [(0,)]
    assert "401" in sync_error(db_path, "shop/api")


def test_repo_without_access_is_named_and_the_others_land(fake, db_path):
    small_repo(fake, "shop/api")
    small_repo(fake, "shop/secret")
    fake.tokens[TOKEN] = {"hidden": {"shop/secret"}}
    report = run(db_path, make_config(fake, repos=("shop/secret", "shop/api")))
    assert report.synced == ["shop/api"]
    message = report.failed["shop/secret"]
    assert '"shop/secret" not found' in message and "repo scope" in message and "Metadata" in message
    assert rows(db_path, "SELECT DISTINCT repo FROM changes") == [("shop/api",)]
    assert "not found" in sync_error(db_path, "shop/secret")
    assert sync_error(db_path, "shop/api") is None


def test_token_lacking_a_permission_names_it(fake, db_path):
    small_repo(fake)
    fake.tokens[TOKEN] = {"forbidden": {("shop/api", "pullRequests")}}
    report = run(db_path, make_config(fake))
    assert 'grant it "Pull requests: read-only" on shop/api' in report.failed["shop/api"]
    assert rows(db_path, "SELECT count(*) FROM deployments") == [(0,)]     # nothing half-written


def test_renamed_and_deleted_repos(fake, db_path):
    small_repo(fake, "shop/old")
    small_repo(fake, "shop/gone")
    small_repo(fake, "shop/api")
    fake.rename_repo("shop/old", "shop/new")
    fake.delete_repo("shop/gone")
    report = run(db_path, make_config(fake, repos=("shop/old", "shop/gone", "shop/api")))
    assert 'was renamed to "shop/new"' in report.failed["shop/old"]
    assert '"shop/gone" not found' in report.failed["shop/gone"]
    assert report.synced == ["shop/api"]


def test_secondary_limit_and_429_are_retried_after_retry_after(fake, db_path):
    small_repo(fake)
    fake.add_fault("/api/graphql", secondary_limit(retry_after=1), too_many_requests(retry_after=1))
    started = time.monotonic()
    report = run(db_path, make_config(fake))
    assert report.synced == ["shop/api"]
    assert [q["status"] for q in fake.requests] == [403, 429, 200, 200]   # the last: Actions runs
    assert time.monotonic() - started >= 2          # both Retry-After waits were honoured


def test_retry_after_longer_than_the_cap_fails_clearly(fake, db_path, monkeypatch):
    """A 3600 s Retry-After beyond a 5 s cap stops at once: no retry, and no sleep was asked for
    (checked by recording the client's sleeps, not by timing the run)."""
    from collectors.github_client import CadenceRetry

    slept: list[float] = []
    monkeypatch.setattr(CadenceRetry, "sleep", lambda self, response=None: slept.append(1.0))
    monkeypatch.setattr(time, "sleep", slept.append)
    small_repo(fake)
    fake.add_fault("/api/graphql", too_many_requests(retry_after=3600))
    with pytest.raises(SourceRateLimitError, match="max_rate_limit_wait"):
        run(db_path, make_config(fake, max_rate_limit_wait=5))
    assert [q["status"] for q in fake.requests] == [429]
    assert not [s for s in slept if s >= 5], slept
    assert "max_rate_limit_wait" in sync_error(db_path, "shop/api")


def test_exhausted_primary_limit_stops_the_run_and_records_every_repo(fake, db_path):
    small_repo(fake, "shop/api")
    small_repo(fake, "shop/web")
    fake.add_fault("/api/graphql", primary_exhausted())
    with pytest.raises(SourceRateLimitError, match="resets at"):
        run(db_path, make_config(fake, repos=("shop/api", "shop/web"), max_rate_limit_wait=60, parallelism=1))
    assert "rate limit" in sync_error(db_path, "shop/api")
    assert "not synced" in sync_error(db_path, "shop/web")
    assert rows(db_path, "SELECT count(*) FROM changes") == [(0,)]


def test_server_error_burst_is_retried_and_a_lasting_outage_fails_one_repo(fake, db_path):
    small_repo(fake)
    fake.add_fault("/api/graphql", server_error(502), server_error(503), server_error(502))
    report = run(db_path, make_config(fake))
    # the last 200: the Actions runs listing
    assert report.synced == ["shop/api"] and [q["status"] for q in fake.requests] == [502, 503, 502, 200, 200]
    fake.add_fault("/api/graphql", *[server_error(502) for _ in range(5)])
    report = run(db_path, make_config(fake))
    assert "kept failing" in report.failed["shop/api"]


def test_graphql_partial_error_is_retried_once_then_fails_without_moving_cursors(fake, db_path):
    small_repo(fake, "shop/api")
    fake.add_fault("/api/graphql", graphql_partial("pullRequests"))
    assert run(db_path, make_config(fake)).synced == ["shop/api"]
    cursor = rows(db_path, "SELECT cursor FROM sync_state WHERE scope = 'shop/api:pulls'")
    small_repo(fake, "shop/web")
    fake.add_fault("/api/graphql", graphql_partial("deployments"), graphql_partial("deployments"))
    report = run(db_path, make_config(fake, repos=("shop/web", "shop/api"), parallelism=1))
    assert "repository.deployments" in report.failed["shop/web"]
    assert rows(db_path, "SELECT count(*) FROM changes WHERE repo = 'shop/web'") == [(0,)]
    assert rows(db_path, "SELECT count(*) FROM sync_state WHERE scope LIKE 'shop/web:%'") == [(0,)]
    assert rows(db_path, "SELECT cursor FROM sync_state WHERE scope = 'shop/api:pulls'") == cursor
    assert report.synced == ["shop/api"]


def test_off_branch_deployments_use_compare_and_flag_what_they_cannot_place(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    a = r.merge_pull("a", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    b = r.merge_pull("b", opened="2026-03-03T09:00:00Z", merged="2026-03-03T10:00:00Z")
    # a release branch cut from b (main has moved on since: diverged, merge base b)
    rc = r.add_commit("rc1", "2026-03-03T11:00:00Z", branch="rc", parents=[b.merge_oid])
    dep_rc = r.deploy(rc, "2026-03-03T12:00:00Z")
    # a hotfix branch from a (diverged, merge base a)
    hot = r.add_commit("hotfix", "2026-03-03T13:00:00Z", branch="hotfix", parents=[a.merge_oid])
    c = r.merge_pull("c", opened="2026-03-03T13:30:00Z", merged="2026-03-03T14:00:00Z")
    r.deploy(hot, "2026-03-03T15:00:00Z")
    # built on top of main's head, c: ahead
    ahead = r.add_commit("rc2", "2026-03-03T16:00:00Z", branch="rc2", parents=[c.merge_oid])
    dep_ahead = r.deploy(ahead, "2026-03-03T16:30:00Z")
    orphan = r.add_commit("imported", "2026-03-03T17:00:00Z", branch="orphan", parents=[])
    r.deploy(orphan, "2026-03-03T17:30:00Z")
    report = run(db_path, make_config(fake))
    links = rows(db_path, "SELECT change_id, deployment_id FROM deployment_changes ORDER BY change_id")
    # a and b are ancestors of the rc1 deployment (finished 12:10, before the hotfix one at 15:10);
    # c is only in rc2's history, so it ships with the "ahead" deployment.
    assert links == [(f"github:shop/api#{a.number}", f"github:shop/api:deployment:{dep_rc.id}"),
                     (f"github:shop/api#{b.number}", f"github:shop/api:deployment:{dep_rc.id}"),
                     (f"github:shop/api#{c.number}", f"github:shop/api:deployment:{dep_ahead.id}")]
    kinds = sorted(f["kind"] for f in report.flags["shop/api"])
    assert kinds == ["compare_diverged", "compare_diverged", "compare_unrelated"]
    assert len([q for q in fake.requests if "/compare/" in q["path"]]) == 4
    fake.reset_log()
    run(db_path, make_config(fake))
    assert not [q for q in fake.requests if "/compare/" in q["path"]]    # results are kept


def test_direct_pushes_between_pull_requests_are_walked_through_history(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    a = r.merge_pull("a", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    for i in range(150):                                   # pushed straight to main, no PR
        r.commit(f"direct {i}", datetime(2026, 3, 2, 11) + timedelta(minutes=i))
    dep_a = r.deploy(r.head, "2026-03-02T14:00:00Z")
    b = r.merge_pull("b", opened="2026-03-03T09:00:00Z", merged="2026-03-03T10:00:00Z",
                     merge_commit=True, commits=3)
    dep_b = r.deploy(b.merge_oid, "2026-03-03T11:00:00Z")
    run(db_path, make_config(fake))
    assert rows(db_path, "SELECT change_id, deployment_id FROM deployment_changes ORDER BY 1") == [
        (f"github:shop/api#{a.number}", f"github:shop/api:deployment:{dep_a.id}"),
        (f"github:shop/api#{b.number}", f"github:shop/api:deployment:{dep_b.id}")]
    # the first page's 100 commits end inside the direct pushes: one more history page from there;
    # and the Actions runs listing
    assert fake.counted() == 3
    # the first-parent chain skips b's branch commits: init, a, 150 pushes, b's merge commit
    assert rows(db_path, "SELECT count(*) FROM branch_commits") == [(153,)]


def test_force_push_drops_the_rewritten_commits_and_flags_it(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    a = r.merge_pull("a", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    b = r.merge_pull("b", opened="2026-03-02T11:00:00Z", merged="2026-03-02T12:00:00Z")
    config = make_config(fake)
    run(db_path, config)
    r.branches["main"] = a.merge_oid                        # b's commit is force-pushed away
    c = r.merge_pull("c", opened="2026-03-03T09:00:00Z", merged="2026-03-03T10:00:00Z")
    dep = r.deploy(c.merge_oid, "2026-03-03T11:00:00Z")
    report = run(db_path, config)
    assert {f["kind"] for f in report.flags["shop/api"]} == {"history_rewritten"}
    chain = [s for (s,) in rows(db_path, "SELECT sha FROM branch_commits ORDER BY position")]
    assert b.merge_oid not in chain and chain[-2:] == [a.merge_oid, c.merge_oid]
    assert rows(db_path, "SELECT change_id FROM deployment_changes WHERE deployment_id = ? ORDER BY 1",
                [f"github:shop/api:deployment:{dep.id}"]) == [
        (f"github:shop/api#{a.number}",), (f"github:shop/api#{c.number}",)]


def test_incident_closed_as_not_planned_later_is_removed(fake, db_path):
    r, *_ = small_repo(fake)
    config = make_config(fake)
    run(db_path, config)
    open_issue = next(i for i in r.issues.values() if i.title == "slow pages")
    open_issue.closed_at = open_issue.updated_at = datetime.fromisoformat("2026-03-06T00:00:00+00:00")
    open_issue.state_reason = "NOT_PLANNED"
    run(db_path, config)
    assert rows(db_path, "SELECT title FROM incidents") == [("checkout down",)]


def test_running_deployment_is_read_again_until_it_finishes(fake, db_path):
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-03-01T00:00:00Z")
    p = r.merge_pull("a", opened="2026-03-19T09:00:00Z", merged="2026-03-19T10:00:00Z")
    dep = r.deploy(p.merge_oid, "2026-03-19T11:00:00Z", state="IN_PROGRESS")
    config = make_config(fake)
    run(db_path, config)
    assert rows(db_path, "SELECT status FROM deployments") == [("in_progress",)]
    later = r.deploy(p.merge_oid, "2026-03-20T09:00:00Z", state="FAILURE")
    from tests.support.fake_github.model import DeploymentStatus, ts
    dep.statuses.append(DeploymentStatus("SUCCESS", ts("2026-03-19T11:20:00Z")))
    run(db_path, config)
    assert rows(db_path, "SELECT id, status, finished_at FROM deployments ORDER BY started_at") == [
        (f"github:shop/api:deployment:{dep.id}", "success", datetime(2026, 3, 19, 11, 20)),
        (f"github:shop/api:deployment:{later.id}", "failure", datetime(2026, 3, 20, 9, 10))]


def test_deploy_workflow_runs_read_in_windows_past_the_result_cap(fake, db_path, monkeypatch):
    monkeypatch.setattr(gh_workflow, "RUNS_RESULT_CAP", 30)
    monkeypatch.setattr(fake_server, "RUNS_RESULT_CAP", 30)
    r = fake.add_repo("shop/api")
    r.commit("init", "2026-01-01T00:00:00Z")
    wf = r.add_workflow("Deploy production", ".github/workflows/deploy.yml")
    other = r.add_workflow("CI", ".github/workflows/ci.yml")
    first = datetime(2026, 1, 1, 6, 0)
    for day in range(70):
        conclusion = "failure" if day % 10 == 3 else ("skipped" if day % 10 == 7 else "success")
        r.add_run(wf, r.head, first + timedelta(days=day), conclusion=conclusion)
        r.add_run(other, r.head, first + timedelta(days=day, hours=1))
    config = make_config(fake)
    run(db_path, config)
    # 70 runs: 7 failures, 7 skipped (not a deployment attempt), 56 successes
    assert rows(db_path, "SELECT status, count(*) FROM deployments GROUP BY 1 ORDER BY 1") == [
        ("failure", 7), ("success", 56)]
    assert rows(db_path, "SELECT DISTINCT environment FROM deployments") == [("production",)]
    fake.reset_log()
    run(db_path, config)
    run(db_path, config)
    assert fake.not_modified() >= 2 and fake.counted() <= 2 * 3


def test_releases_when_there_are_no_deployments_or_deploy_workflows(fake, db_path):
    r = fake.add_repo("shop/lib")
    r.commit("init", "2026-03-01T00:00:00Z")
    p = r.merge_pull("a", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    rel = r.add_release("v1.0.0", p.merge_oid, "2026-03-02T12:00:00Z")
    r.add_release("v1.1.0-rc1", p.merge_oid, "2026-03-03T12:00:00Z", prerelease=True)
    r.add_release("v2.0.0", p.merge_oid, "2026-03-04T12:00:00Z", draft=True)
    run(db_path, make_config(fake, repos=("shop/lib",)))
    assert rows(db_path, "SELECT id, service, status, finished_at FROM deployments") == [
        (f"github:shop/lib:release:{rel.id}", "lib", "success", datetime(2026, 3, 2, 12))]
    assert rows(db_path, "SELECT change_id FROM deployment_changes") == [(f"github:shop/lib#{p.number}",)]


def test_org_repositories_filtered_and_listed_conditionally(fake, db_path):
    for name in ("shop/api", "shop/web", "shop/legacy-admin"):
        fake.add_repo(name).commit("init", "2026-03-01T00:00:00Z")
    config = make_config(fake, repos=(), org="shop", exclude=["shop/legacy-*"])
    report = run(db_path, config)
    assert sorted(report.synced) == ["shop/api", "shop/web"]
    fake.reset_log()
    run(db_path, config)
    org_calls = [q for q in fake.requests if q["path"] == "/api/v3/orgs/shop/repos"]
    assert [q["status"] for q in org_calls] == [304]


def test_github_app_installation_auth(fake, db_path, monkeypatch):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fake.app_key_public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    fake.installations["shop"] = 42
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("GITHUB_APP_ID", "1234")
    monkeypatch.setenv("GITHUB_APP_PRIVATE_KEY", pem)
    small_repo(fake)
    report = sync(db_path, make_config(fake), now=NOW)
    assert report.synced == ["shop/api"]
    assert "ghs_installation_42" in fake.tokens


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"sources\.github\.deployments: must be one of"):
        GitHubSettings.from_config(parse_config({"sources": {"github": {"deployments": "tags"}}}))
    with pytest.raises(ConfigError, match=r"sources\.github\.repos: \"api\" is not OWNER/NAME"):
        GitHubSettings.from_config(parse_config({"sources": {"github": {"repos": ["api"]}}}))
    with pytest.raises(ConfigError, match=r'repo\."shop/api"\.workflow'):
        GitHubSettings.from_config(parse_config({"sources": {"github": {
            "repo": {"shop/api": {"deployments": "workflow"}}}}}))
    settings = GitHubSettings.from_config(parse_config({"sources": {"github": {
        "repos": ["shop/api"], "repo": {"shop/api": {"service": "checkout", "deployments": "releases"}}}}}))
    assert settings.for_repo("Shop/API").service == "checkout"
    assert settings.for_repo("shop/web").deployments == "auto"


def test_cli_sync_then_dora_metrics_show_the_synced_data(fake, db_path, tmp_path, capsys):
    small_repo(fake)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.github]\nbase_url = "{fake.base_url}"\nrepos = ["shop/api"]\n'
                   "min_request_interval = 0\n")
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "github"]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 repositories synced" in out and "Requests: 2" in out   # GraphQL page + Actions runs

    from metrics import dora_metrics

    con = connect(db_path)
    try:
        df = dora_metrics(con, parse_config({}), date(2026, 3, 2), date(2026, 3, 8), by="org", period="total")
    finally:
        con.close()
    row = df.iloc[0]
    assert row["deployments"] == 1 and row["changes_deployed"] == 2
    # lead times to the deploy finished 2026-03-03 11:10:
    #   #1 first commit 03-02 09:00 → 26 h 10 min = 26.1667 h;  #2 first commit 03-03 08:00 → 3.1667 h
    #   p50 of two = (26.1667 + 3.1667) / 2 = 14.6667 h
    assert row["lead_time_p50_hours"] == pytest.approx(14.6667, abs=1e-3)
    # deploy stage: #1 merged 03-02 12:00 → 23.1667 h, #2 merged 03-03 10:00 → 1.1667 h; p50 12.1667
    assert row["deploy_p50_hours"] == pytest.approx(12.1667, abs=1e-3)
    # the failed attempt of 03-02 is not a deployment; 1 incident open + 1 resolved in 2 h
    assert row["incidents"] == 2 and row["open_incidents"] == 1
    assert row["mttr_p50_hours"] == pytest.approx(2.0)


def test_sync_github_has_help(capsys):
    assert main(["sync", "github", "--help"]) == 0
    assert "GITHUB_TOKEN" in capsys.readouterr().out


def test_no_repositories_configured_is_a_config_error_before_any_request(fake, db_path):
    with pytest.raises(ConfigError, match=r"No GitHub repositories to sync.*\[sources\.github\]"):
        sync(db_path, parse_config({}))
    assert fake.requests == []


STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_cli_off_a_terminal_prints_one_timestamped_line_per_repo_event(fake, db_path, tmp_path):
    import re

    from click.testing import CliRunner

    from cadence.cli import cli

    small_repo(fake, "shop/api")
    small_repo(fake, "shop/secret")
    fake.tokens[TOKEN] = {"hidden": {"shop/secret"}}
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.github]\nbase_url = "{fake.base_url}"\nrepos = ["shop/api", "shop/secret"]\n'
                   "min_request_interval = 0\n")
    result = CliRunner().invoke(cli, ["--db", str(db_path), "--config", str(cfg), "sync", "github"])
    assert isinstance(result.exception, SourceError)                 # main() turns it into exit 1
    lines = [ln for ln in result.stderr.splitlines() if re.match(STAMP + " github ", ln)]
    api = [ln.split(" ", 1)[1] for ln in lines if " shop/api: " in ln]
    # shop/api: one GraphQL page carries 2 changes, 3 deployments (failure, staging, production) and
    # the default branch's 3 commits (init + 2 merge commits; the release branch's are not on it)
    assert api == ["github shop/api: reading",
                   "github shop/api: page 1: 2 changes, 3 deployments, 3 new commits",
                   "github shop/api: done: 2 requests; 2 changes, 3 deployments, 2 incidents written"]
    secret = [ln.split(" ", 1)[1] for ln in lines if " shop/secret: " in ln]
    assert secret[0] == "github shop/secret: reading"
    assert secret[1].startswith('github shop/secret: failed: Repository "shop/secret" not found')
    assert len(secret) == 2
    # the summary stays on stdout; no terminal control codes anywhere
    assert "1 of 2 repositories synced" in result.stdout and "rate limit left" in result.stdout
    assert "\x1b[" not in result.stderr + result.stdout


def test_on_a_terminal_each_repo_in_flight_gets_a_bar(caplog):
    import io
    import logging
    import re

    from cadence.progress import BarProgress, open_progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    handler = logging.StreamHandler(stream)
    logging.getLogger().addHandler(handler)
    try:
        progress = open_progress("github", stream)
        assert isinstance(progress, BarProgress)
        with progress:
            for repo in ("shop/api", "shop/web"):
                progress(repo, "reading", "start")
            progress("shop/api", "page 1: 2 changes", "page")
            progress("shop/web", "page 1: 5 changes", "page")
            progress("shop/web", "page 2: 9 changes", "page")
            logging.getLogger("collectors.github").warning("a log line goes above the bars")
            progress("shop/api", "done: 1 requests", "done")
            progress("shop/web", "failed: no access", "failed")
    finally:
        logging.getLogger().removeHandler(handler)
    assert handler.stream is stream                                   # the log stream is given back
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", stream.getvalue())
    frames = re.split(r"[\r\n]", screen)
    bar = "━" * 24
    # both bars on screen at once, one under the other, each with its own page count and status
    assert any(a.startswith("shop/api " + bar) and "pages: 1" in a and "page 1: 2 changes" in a
               and b.startswith("shop/web " + bar) and "pages: 2" in b and "page 2: 9 changes" in b
               for a, b in zip(frames, frames[1:]))
    assert "a log line goes above the bars" in frames
    assert "✔ github shop/api (pages: 1): done: 1 requests" in frames
    assert "✘ github shop/web (pages: 2): failed: no access" in frames
    assert "\x1b[" in stream.getvalue()                               # it really drew on a terminal


def test_off_a_terminal_progress_is_plain_lines():
    import io

    from cadence.progress import LineProgress, open_progress

    stream = io.StringIO()
    progress = open_progress("github", stream)
    assert isinstance(progress, LineProgress)
    progress.clock = lambda: "2026-03-20T12:00:00Z"
    with progress:
        progress("shop/api", "reading", "start")
    assert stream.getvalue() == "2026-03-20T12:00:00Z github shop/api: reading\n"


def test_quiet_progress_keeps_only_failures():
    import io

    from cadence.progress import open_progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    progress = open_progress("github", stream, quiet=True)   # -q wins over a terminal's bars
    progress.clock = lambda: "2026-03-20T12:00:00Z"
    with progress:
        progress("shop/api", "reading", "start")
        progress("shop/api", "page 1: 2 changes", "page")
        progress("shop/web", "failed: not found", "failed")
        progress("shop/api", "done", "done")
    assert stream.getvalue() == "2026-03-20T12:00:00Z github shop/web: failed: not found\n"


@pytest.mark.slow
def test_a_killed_sync_resumes_without_loss_or_duplicates(fake, tmp_path):
    """`cadence sync github` in its own process, killed (SIGKILL) while a request hangs in the middle
    of the second repository; the next run ends with exactly the rows and cursors of one clean sync."""
    import os
    import threading

    from tests.support.fake_github import server as fake_server_module
    from tests.support.kill_support import RUN_CLI, kill_while_held

    busy_repo(fake, "shop/api", pulls=300, deployments=60, seed=3)
    busy_repo(fake, "shop/web", pulls=300, deployments=60, start="2025-02-03T09:00:00Z", seed=4)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.github]\nbase_url = "{fake.base_url}"\nrepos = ["shop/api", "shop/web"]\n'
                   "min_request_interval = 0\nparallelism = 1\n", encoding="utf-8")
    tables = ("changes", "deployments", "deployment_changes", "incidents")

    def snapshot(db):
        got = {t: sorted(rows(db, f"SELECT * FROM {t}"), key=repr) for t in tables}
        got["cursors"] = sorted(rows(db, "SELECT scope, cursor FROM sync_state WHERE source = 'github'"))
        return got

    reference = tmp_path / "reference.duckdb"
    assert main(["--db", str(reference), "--config", str(cfg), "sync", "github"]) == 0
    expected = snapshot(reference)
    first_repo_requests = fake.counted("shop/api")
    assert first_repo_requests >= 2 and fake.counted("shop/web") >= 2   # several pages each

    # Let shop/api's requests and the first of shop/web's through, then hold the next one.
    fake.reset_log()
    release = threading.Event()
    fake.add_fault(fake_server_module.GRAPHQL_PATH,
                   *[fake_server_module.passthrough()] * (first_repo_requests + 1),
                   fake_server_module.hang(release))
    db = tmp_path / "killed.duckdb"
    kill_while_held(RUN_CLI, ["--db", str(db), "--config", str(cfg), "sync", "github"],
                    lambda: fake.hanging, release, env={**os.environ, "GITHUB_TOKEN": TOKEN})

    # What the killed run committed: shop/api whole, shop/web at most partly; never more than a clean sync.
    partial = snapshot(db)
    assert 0 < len(partial["changes"]) < len(expected["changes"])
    assert {r[0] for r in partial["changes"]} <= {r[0] for r in expected["changes"]}
    api = [r for r in expected["changes"] if r[0].startswith("github:shop/api#")]
    assert [r for r in partial["changes"] if r[0].startswith("github:shop/api#")] == api

    fake.faults.clear()
    assert main(["--db", str(db), "--config", str(cfg), "sync", "github"]) == 0
    assert snapshot(db) == expected
