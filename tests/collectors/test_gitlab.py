"""GitLab collector against the fake GitLab (real HTTP on 127.0.0.1; GraphQL validated and executed
against the schema subset in tests/support/fake_gitlab/schema.graphql). One server per module; each test
builds its own small model. Expected values are worked out in comments from the scenario's times."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, SourceAuthError, SourceRateLimitError
from collectors.gitlab import parse_settings, sync
from tests.support.db import rows
from tests.support.fake_fixtures import TOKEN, fake_forge_fixtures
from tests.support.fake_fixtures import sync_gitlab as run
from tests.support.fake_gitlab import FakeGitLab, server_error, too_many_requests
from tests.support.fake_gitlab.scenarios import busy_project, two_projects
from tests.support.fake_gitlab.server import GRAPHQL_PATH, PROJECTS
from warehouse import connect



server, fake = fake_forge_fixtures(FakeGitLab, "GITLAB_TOKEN", "GitLab")


def make_config(fake, projects=("shop/api", "shop/web"), **extra):
    return parse_config({"sources": {"gitlab": {"base_url": fake.url, "projects": list(projects), **extra}}})


def state(db_path, scope, column="last_error"):
    found = rows(db_path, f"SELECT {column} FROM sync_state WHERE source = 'gitlab' AND scope = ?", [scope])
    return found[0][0] if found else None


def test_first_sync_of_a_squash_and_a_merge_commit_project(fake, db_path):
    s = two_projects(fake)
    report = run(db_path, make_config(fake))
    assert sorted(report.synced) == ["shop/api", "shop/web"] and not report.failed
    api, web = s["api"], s["web"]

    changes = rows(db_path, "SELECT id, author, labels, first_commit_at, opened_at, first_review_at, merged_at, "
                            "merge_sha FROM changes ORDER BY id")
    assert changes == [
        # ben's approval (10:00) is the first review: ana's own comment at 09:30 is not one;
        # squashed and fast-forwarded: the squash commit is what landed on main
        ("gitlab:shop/api!1", "ana", ["feature"], datetime(2026, 3, 2, 8), datetime(2026, 3, 2, 9),
         datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 11), s["a1"].squash_commit_sha),
        # reviewed only by its author: no first review
        ("gitlab:shop/api!2", "ben", ["hotfix"], datetime(2026, 3, 2, 12), datetime(2026, 3, 2, 13),
         None, datetime(2026, 3, 2, 14), s["a2"].squash_commit_sha),
        # dee's comment (09:45) comes before her approval (10:00); merge commits on main
        ("gitlab:shop/web!1", "cy", [], datetime(2026, 3, 3, 8), datetime(2026, 3, 3, 9),
         datetime(2026, 3, 3, 9, 45), datetime(2026, 3, 3, 10, 30), s["w1"].merge_commit_sha),
        ("gitlab:shop/web!2", "dee", [], datetime(2026, 3, 3, 12), datetime(2026, 3, 3, 12, 30),
         datetime(2026, 3, 3, 13), datetime(2026, 3, 3, 13, 30), s["w2"].merge_commit_sha),
    ]   # !3 of shop/api went into "release": not a change
    assert s["a1"].squash_commit_sha and s["a1"].merge_commit_sha is None and s["w1"].merge_commit_sha

    deps = rows(db_path, "SELECT id, environment, status, started_at, finished_at, sha FROM deployments "
                         "ORDER BY started_at")
    assert deps == [   # the staging deployment is not read: only production environments are
        (f"gitlab:shop/api:deployment:{s['failed'].id}", "production", "failure", datetime(2026, 3, 2, 15),
         datetime(2026, 3, 2, 15, 10), api.head),
        (f"gitlab:shop/api:deployment:{s['retried'].id}", "production", "success", datetime(2026, 3, 2, 16),
         datetime(2026, 3, 2, 16, 10), api.head),
        (f"gitlab:shop/web:deployment:{s['d1'].id}", "production", "success", datetime(2026, 3, 3, 11),
         datetime(2026, 3, 3, 11, 10), s["w1"].merge_commit_sha),
        (f"gitlab:shop/web:deployment:{s['d2'].id}", "production", "success", datetime(2026, 3, 3, 14),
         datetime(2026, 3, 3, 14, 10), s["w2"].merge_commit_sha)]

    assert rows(db_path, "SELECT deployment_id, change_id FROM deployment_changes ORDER BY change_id") == [
        # the retried deployment ships both merge requests (GitLab's own record); the failed one nothing
        (f"gitlab:shop/api:deployment:{s['retried'].id}", "gitlab:shop/api!1"),
        (f"gitlab:shop/api:deployment:{s['retried'].id}", "gitlab:shop/api!2"),
        (f"gitlab:shop/web:deployment:{s['d1'].id}", "gitlab:shop/web!1"),
        # GitLab recorded nothing for d2: the commit range since d1 holds !2's merge commit
        (f"gitlab:shop/web:deployment:{s['d2'].id}", "gitlab:shop/web!2")]

    assert rows(db_path, "SELECT id, service, severity, created_at, resolved_at, url FROM incidents ORDER BY id") == [
        ("gitlab:shop/api:issue:1", "checkout", "high", datetime(2026, 3, 2, 17), datetime(2026, 3, 2, 19),
         "https://gitlab.example/shop/api/-/issues/1"),
        ("gitlab:shop/api:issue:2", "api", None, datetime(2026, 3, 3, 9), None,
         "https://gitlab.example/shop/api/-/issues/2")]   # still open; #3 is a plain issue

    # Requests: shop/api: project, 1 GraphQL page (environments, MRs, incidents), 1 REST list of the
    # two squash commits, 1 deployments page, 1 query for the retried deployment's merge requests,
    # 1 pipelines page, 1 jobs page = 7; shop/web: project, 1 GraphQL page, 1 deployments page,
    # 1 relation query, 1 compare, 1 (empty) pipelines page = 6.
    assert fake.counted("shop/api") == 7 and fake.counted("shop/web") == 6
    # pipeline attempts: p1 2 (a retried job), p2 1, p3 1 = 4; jobs: 3 + 3 + 2 = 8 (tests/collectors/test_gitlab_pipelines.py)
    assert report.requests == 13 and report.rows == {"changes": 4, "deployments": 4, "deployment_changes": 4,
                                                     "incidents": 2, "pipeline_runs": 4, "pipeline_jobs": 8}
    scopes = dict(rows(db_path, "SELECT scope, cursor FROM sync_state WHERE source = 'gitlab' ORDER BY scope"))
    assert scopes == {"shop/api": str(api.id), "shop/api:deployments:production": "2026-03-02T16:10:00.000Z",
                      "shop/api:incidents": "2026-03-03T09:00:00.000Z",
                      "shop/api:merge_requests": "2026-03-02T14:00:00.000Z",
                      # p3's last change: its test job started at 14:05
                      "shop/api:pipelines": "2026-03-02T14:05:00.000Z",
                      "shop/web": str(web.id), "shop/web:deployments:production": "2026-03-03T14:10:00.000Z",
                      "shop/web:merge_requests": "2026-03-03T13:30:00.000Z"}   # no incident read yet: no cursor


def test_resync_with_nothing_new_costs_four_requests_and_changes_nothing(fake, db_path):
    s = two_projects(fake)
    config = make_config(fake)
    run(db_path, config)
    tables = ("changes", "deployments", "deployment_changes", "incidents", "pipeline_runs", "pipeline_jobs")
    before = {t: rows(db_path, f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}
    fake.reset_log()
    report = run(db_path, config)
    # per project: the project (304, unchanged), one GraphQL page, one deployments page, one
    # pipelines page (only the pipeline at the cursor's instant, already read: no jobs asked for)
    assert fake.counted("shop/api") == 4 and fake.counted("shop/web") == 4
    assert fake.not_modified() == 2 and report.rows == dict.fromkeys(tables, 0)
    assert {t: rows(db_path, f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables} == before

    # New work lands on the next run: a merge request, its deployment, an incident closed.
    web = s["web"]
    w3 = web.merge("search", author="cy", opened="2026-03-05T09:00:00Z", merged="2026-03-05T10:00:00Z",
                   approvals=[("dee", "2026-03-05T09:30:00Z")])
    d3 = web.deploy(web.head, "2026-03-05T11:00:00Z")
    s["i2"].closed_at = s["i2"].updated_at = datetime.fromisoformat("2026-03-05T12:00:00+00:00")
    fake.reset_log()
    report = run(db_path, config)
    assert report.rows == {"changes": 1, "deployments": 1, "deployment_changes": 1, "incidents": 1,
                           "pipeline_runs": 0, "pipeline_jobs": 0}
    assert rows(db_path, "SELECT deployment_id FROM deployment_changes WHERE change_id = ?",
                [f"gitlab:shop/web!{w3.iid}"]) == [(f"gitlab:shop/web:deployment:{d3.id}",)]
    assert rows(db_path, "SELECT resolved_at FROM incidents WHERE id = 'gitlab:shop/api:issue:2'") == [
        (datetime(2026, 3, 5, 12),)]
    assert fake.counted("shop/web") == 5       # + the new deployment's merge requests


def test_budget_first_sync_and_resync_of_a_busy_project(fake, db_path):
    busy_project(fake, merge_requests=1000, deployments=300)
    config = make_config(fake, projects=("shop/api",))
    run(db_path, config)
    first = fake.counted("shop/api")
    # project 1 + 10 GraphQL pages of 100 merge requests + 3 deployment pages + 15 relation queries
    # of 20 deployments + 1 (empty) pipelines page = 30, against a budget of 300 (one request per
    # object: ~2,600)
    assert first == 30
    assert rows(db_path, "SELECT count(*) FROM changes") == [(1000,)]
    assert rows(db_path, "SELECT count(*) FROM deployments") == [(300,)]
    # a deployment after every third merge: 300 × 3 = 900 merge requests shipped, 100 still waiting
    assert rows(db_path, "SELECT count(*), count(DISTINCT deployment_id) FROM deployment_changes") == [(900, 300)]
    assert rows(db_path, "SELECT count(*) FROM changes WHERE first_review_at IS NULL") == [(0,)]
    fake.reset_log()
    run(db_path, config)
    assert fake.counted("shop/api") <= 4


def test_merge_request_whose_first_notes_are_all_by_its_author(fake, db_path):
    p = fake.add_project("shop/api")
    p.commit("init", "2026-03-01T00:00:00Z")
    own = [("ana", f"2026-03-02T10:{m:02d}:00Z", f"note {m}") for m in range(25)]    # 25 notes by the author
    mr = p.merge("chatty", author="ana", opened="2026-03-02T09:00:00Z", merged="2026-03-03T09:00:00Z",
                 notes=own + [("ben", "2026-03-02T15:00:00Z", "lgtm")])
    run(db_path, make_config(fake, projects=("shop/api",)))
    assert rows(db_path, "SELECT first_review_at FROM changes WHERE number = ?", [mr.iid]) == [
        (datetime(2026, 3, 2, 15),)]
    graphql = [q for q in fake.requests if q["path"] == GRAPHQL_PATH]
    assert len(graphql) == 2      # the page (first 20 notes), and one query for that MR's other notes


def test_project_the_token_cannot_read_is_named_and_the_others_land(fake, db_path):
    two_projects(fake)
    fake.add_project("shop/secret").commit("init", "2026-03-01T00:00:00Z")
    fake.tokens[TOKEN] = {"hidden": {"shop/secret"}}
    report = run(db_path, make_config(fake, projects=("shop/secret", "shop/api", "shop/web")))
    assert sorted(report.synced) == ["shop/api", "shop/web"]
    message = report.failed["shop/secret"]
    assert '"shop/secret" not found, or the token cannot read it' in message and "read_api" in message
    assert rows(db_path, "SELECT DISTINCT repo FROM changes ORDER BY 1") == [("shop/api",), ("shop/web",)]
    assert "not found" in state(db_path, "shop/secret") and state(db_path, "shop/api") is None


def test_moved_and_archived_projects_say_what_to_do(fake, db_path):
    two_projects(fake)
    fake.add_project("shop/old").commit("init", "2026-03-01T00:00:00Z")
    fake.move_project("shop/old", "platform/new")
    fake.add_project("shop/legacy", archived=True).commit("init", "2026-03-01T00:00:00Z")
    report = run(db_path, make_config(fake, projects=("shop/old", "shop/legacy", "shop/api")))
    assert 'has moved to "platform/new"; update [sources.gitlab] projects' in report.failed["shop/old"]
    assert "is archived" in report.failed["shop/legacy"] and "remove it from" in report.failed["shop/legacy"]
    assert report.synced == ["shop/api"]
    # the old path was answered with a 301 to the new project, which requests followed
    assert [q["status"] for q in fake.requests if q["project"] == "platform/new"] == [301, 200]


def test_429_is_retried_after_retry_after_and_a_longer_wait_fails_clearly(fake, db_path):
    two_projects(fake)
    config = make_config(fake, projects=("shop/api",))
    fake.add_fault(GRAPHQL_PATH, too_many_requests(retry_after=1))
    fake.add_fault(PROJECTS, too_many_requests(retry_after=1))
    started = time.monotonic()
    report = run(db_path, config)
    assert report.synced == ["shop/api"]
    assert [q["status"] for q in fake.requests[:4]] == [429, 200, 429, 200]
    assert time.monotonic() - started >= 2          # both Retry-After waits were honoured

    fake.reset_log()
    fake.add_fault(PROJECTS, too_many_requests(retry_after=3600))
    started = time.monotonic()
    with pytest.raises(SourceRateLimitError, match="max_rate_limit_wait"):
        run(db_path, make_config(fake, projects=("shop/api",), max_rate_limit_wait=5))
    assert time.monotonic() - started < 5 and len(fake.requests) == 1
    assert "3600 s wait" in state(db_path, "shop/api")


def test_server_errors_are_retried_and_a_lasting_outage_fails_one_project(fake, db_path):
    two_projects(fake)
    fake.add_fault(GRAPHQL_PATH, server_error(502), server_error(503))
    report = run(db_path, make_config(fake, projects=("shop/api",)))
    assert report.synced == ["shop/api"]
    assert [q["status"] for q in fake.requests if q["path"] == GRAPHQL_PATH][:3] == [502, 503, 200]
    fake.add_fault(PROJECTS + "/shop%2Fweb", *[server_error(502) for _ in range(4)])
    report = run(db_path, make_config(fake, parallelism=1))
    assert "kept failing" in report.failed["shop/web"] and report.synced == ["shop/api"]


def test_bad_token_stops_the_run(fake, db_path, monkeypatch):
    two_projects(fake)
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-expired")
    with pytest.raises(SourceAuthError, match=r"rejected the token \(401.*set GITLAB_TOKEN"):
        run(db_path, make_config(fake, parallelism=1))
    assert "401" in state(db_path, "shop/api") and "not synced" in state(db_path, "shop/web")
    assert rows(db_path, "SELECT count(*) FROM changes") == [(0,)]


def test_missing_token_says_which_variable(fake, db_path, monkeypatch):
    monkeypatch.delenv("GITLAB_TOKEN")
    two_projects(fake)
    with pytest.raises(SourceAuthError, match="GITLAB_TOKEN is not set.*read_api"):
        sync(db_path, make_config(fake))
    assert fake.requests == []


def test_older_gitlab_without_the_deployment_relation_uses_commit_ranges(fake, db_path):
    s = two_projects(fake)
    fake.deployment_filter = False        # GitLab before 17.1: no mergeRequests(deploymentId:)
    report = run(db_path, make_config(fake))
    fake.invalid_queries.clear()          # the one query it refused, by design of this test
    # shop/api: the retried deployment is its environment's first success: nothing to compare
    # against, so no link (the metrics infer it from time); shop/web: d1 likewise, d2 by its range.
    assert rows(db_path, "SELECT deployment_id, change_id FROM deployment_changes ORDER BY 2") == [
        (f"gitlab:shop/web:deployment:{s['d2'].id}", "gitlab:shop/web!2")]
    assert state(db_path, "shop/web", "details")
    assert '"relation": "unavailable"' in state(db_path, "shop/web", "details")
    assert not report.failed


def test_too_complex_queries_are_retried_with_smaller_pages(fake, db_path):
    busy_project(fake, merge_requests=60, deployments=0)
    # The fake's stand-in for GitLab's complexity counts a connection's selection once per node it may
    # return: about 600 for the environments, 244 per merge request and 50 per issue asked for, so
    # 100 a page scores ~30,000, 50 ~15,300 and 25 ~8,000.
    fake.max_complexity = 10_000
    run(db_path, make_config(fake, projects=("shop/api",)))
    assert rows(db_path, "SELECT count(*) FROM changes") == [(60,)]
    pages = [(q["variables"]["mrFirst"], q["variables"]["issueFirst"]) for q in fake.requests
             if q["path"] == GRAPHQL_PATH]
    # refused at 100 and 50; then 60 merge requests in pages of 25: 25, 25, 10
    assert pages == [(100, 100), (50, 50), (25, 25), (25, 25), (25, 25)]


def test_running_deployment_is_read_again_when_it_finishes(fake, db_path):
    p = fake.add_project("shop/api")
    p.commit("init", "2026-03-01T00:00:00Z")
    mr = p.merge("a", opened="2026-03-19T09:00:00Z", merged="2026-03-19T10:00:00Z")
    dep = p.deploy(p.head, "2026-03-19T11:00:00Z", status="running")
    config = make_config(fake, projects=("shop/api",))
    run(db_path, config)
    assert rows(db_path, "SELECT status, finished_at FROM deployments") == [("in_progress", None)]
    p.finish(dep, "2026-03-19T11:20:00Z")
    run(db_path, config)
    assert rows(db_path, "SELECT status, finished_at FROM deployments") == [("success", datetime(2026, 3, 19, 11, 20))]
    assert rows(db_path, "SELECT change_id FROM deployment_changes") == [(f"gitlab:shop/api!{mr.iid}",)]


def test_group_projects_with_subgroups_filtered(fake, db_path):
    for path in ("shop/api", "shop/backend/billing", "shop/legacy-admin", "other/tool"):
        fake.add_project(path).commit("init", "2026-03-01T00:00:00Z")
    fake.add_project("shop/old", archived=True)
    config = make_config(fake, projects=(), groups=["shop"], exclude=["shop/legacy-*"])
    report = run(db_path, config)
    assert sorted(report.synced) == ["shop/api", "shop/backend/billing"]   # archived ones are not listed
    report = run(db_path, make_config(fake, projects=(), groups=["shop"], include_subgroups=False,
                                      exclude=["shop/legacy-*"]))
    assert report.synced == ["shop/api"]


def test_releases_when_a_project_has_no_production_environment(fake, db_path):
    p = fake.add_project("shop/lib")
    p.commit("init", "2026-03-01T00:00:00Z")
    m1 = p.merge("a", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    r1 = p.add_release("v1.0.0", p.head, "2026-03-02T12:00:00Z")
    m2 = p.merge("b", opened="2026-03-03T09:00:00Z", merged="2026-03-03T10:00:00Z")
    p.add_release("v1.1.0", p.head, "2026-03-03T12:00:00Z")
    p.add_release("v2.0.0", p.head, "2026-04-30T12:00:00Z", upcoming=True)
    run(db_path, make_config(fake, projects=("shop/lib",)))
    assert rows(db_path, "SELECT id, service, status, finished_at FROM deployments ORDER BY 1") == [
        ("gitlab:shop/lib:release:v1.0.0", "lib", "success", datetime(2026, 3, 2, 12)),
        ("gitlab:shop/lib:release:v1.1.0", "lib", "success", datetime(2026, 3, 3, 12))]
    # v1.0.0 is the first release (nothing to compare with); v1.1.0's range since v1.0.0 holds b
    assert rows(db_path, "SELECT deployment_id, change_id FROM deployment_changes") == [
        ("gitlab:shop/lib:release:v1.1.0", f"gitlab:shop/lib!{m2.iid}")]
    assert r1.sha != p.head and m1.iid == 1


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"sources\.gitlab\.deployments: must be one of"):
        parse_config({"sources": {"gitlab": {"deployments": "jobs"}}})
    with pytest.raises(ConfigError, match=r'sources\.gitlab\.projects: "api" is not GROUP/PROJECT'):
        parse_config({"sources": {"gitlab": {"projects": ["api"]}}})
    with pytest.raises(ConfigError, match=r"sources\.gitlab\.base_url: is the instance URL without /api/v4"):
        parse_config({"sources": {"gitlab": {"base_url": "https://gitlab.example.com/api/v4"}}})
    with pytest.raises(ConfigError, match=r'project\."shop/api"\.workflow: unknown key'):
        parse_config({"sources": {"gitlab": {"project": {"shop/api": {"workflow": "x"}}}}})
    with pytest.raises(ConfigError, match=r"sources\.gitlab\.token: secrets do not belong"):
        parse_config({"sources": {"gitlab": {"token": "glpat-x"}}})
    settings = parse_settings({"projects": ["shop/api"], "environments": ["prod"],
                               "project": {"shop/api": {"service": "checkout", "deployments": "releases"}}})
    assert settings.for_project("Shop/API").service == "checkout"
    assert settings.for_project("shop/web").deployments == "auto"
    assert settings.for_project("shop/web").environments == ("prod",)
    assert settings.base_url == "https://gitlab.com"


def test_no_projects_configured_is_a_config_error_before_any_request(fake, db_path):
    with pytest.raises(ConfigError, match=r"No GitLab projects to sync.*\[sources\.gitlab\]"):
        sync(db_path, parse_config({}))
    assert fake.requests == []


def test_a_tier_production_environment_with_another_name_is_synced_and_flagged(fake, db_path):
    p = fake.add_project("shop/api")
    p.commit("init", "2026-03-01T00:00:00Z")
    p.merge("a", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    p.deploy(p.head, "2026-03-02T11:00:00Z", environment="eu-west", tier="production")
    p.deploy(p.head, "2026-03-02T11:30:00Z", environment="sandbox")
    report = run(db_path, make_config(fake, projects=("shop/api",)))
    assert rows(db_path, "SELECT environment FROM deployments") == [("eu-west",)]
    assert [f["kind"] for f in report.flags["shop/api"]] == ["environment_not_counted"]
    assert "add it there" in report.flags["shop/api"][0]["message"]


def test_the_sync_state_rows_are_what_data_health_lists(fake, db_path):
    two_projects(fake)
    fake.tokens[TOKEN] = {"hidden": {"shop/web"}}
    run(db_path, make_config(fake))
    from metrics.catalog import sync_states

    con = connect(db_path)
    try:
        df = sync_states(con, parse_config({}))
    finally:
        con.close()
    gitlab = df[df["source"] == "gitlab"]
    assert set(gitlab["scope"]) == {"shop/api", "shop/api:merge_requests", "shop/api:incidents",
                                    "shop/api:deployments:production", "shop/api:pipelines", "shop/web"}
    web = gitlab[gitlab["scope"] == "shop/web"].iloc[0]
    assert "not found" in web["last_error"]


def test_since_bounds_a_first_sync(fake, db_path):
    p = fake.add_project("shop/api")
    p.commit("init", "2025-01-01T00:00:00Z")
    p.merge("old", opened="2025-01-02T09:00:00Z", merged="2025-01-02T10:00:00Z")
    new = p.merge("new", opened="2026-03-02T09:00:00Z", merged="2026-03-02T10:00:00Z")
    run(db_path, make_config(fake, projects=("shop/api",), since="2026-01-01"))
    assert rows(db_path, "SELECT number FROM changes") == [(new.iid,)]
    assert [q["variables"]["mrSince"] for q in fake.requests if q["path"] == GRAPHQL_PATH][0] == \
        "2026-01-01T00:00:00.000Z"


def test_docs_configuration_names_every_gitlab_key():
    from pathlib import Path

    from cadence.core.settings.gitlab import CONFIG_KEYS, PROJECT_KEYS

    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = text.split("### `[sources.gitlab]`", 1)[1].split("\n### ", 1)[0]
    missing = sorted(k for k in CONFIG_KEYS | PROJECT_KEYS if f"`{k}`" not in section and k != "project")
    assert not missing and '[sources.gitlab.project."GROUP/PROJECT"]' in section, missing


def test_retry_after_forms_and_a_5xx_reset_header(fake):
    """GitLab's Retry-After is seconds; an HTTP date is understood too; without it, RateLimit-Reset.
    A 5xx loses RateLimit-Reset so that python-gitlab backs off instead of waiting for the window."""
    import email.utils

    import requests

    from collectors.gitlab.client import GitLabClient, _retry_after_seconds

    in_90s = email.utils.formatdate(time.time() + 90, usegmt=True)
    assert _retry_after_seconds({"Retry-After": "7"}) == 7
    assert 85 <= _retry_after_seconds({"Retry-After": in_90s}) <= 90
    assert 55 <= _retry_after_seconds({"RateLimit-Reset": str(int(time.time()) + 60)}) <= 60
    assert _retry_after_seconds({}) is None
    client = GitLabClient(fake.url, TOKEN, max_rate_limit_wait=30)
    try:
        headers = requests.structures.CaseInsensitiveDict({"RateLimit-Reset": str(int(time.time()) + 60)})
        client._check_wait(502, headers, "a test")
        assert "RateLimit-Reset" not in headers
        headers = requests.structures.CaseInsensitiveDict({"Retry-After": in_90s})
        with pytest.raises(SourceRateLimitError, match="90 s wait|89 s wait"):
            client._check_wait(503, headers, "a test")
        headers = requests.structures.CaseInsensitiveDict({"Retry-After": email.utils.formatdate(
            time.time() + 20, usegmt=True)})
        client._check_wait(429, headers, "a test")
        assert headers["Retry-After"] in {"19", "20"}          # an int for python-gitlab's own wait
    finally:
        client.close()
