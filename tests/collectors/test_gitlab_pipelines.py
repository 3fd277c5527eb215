"""GitLab CI pipelines and jobs → ``pipeline_runs`` / ``pipeline_jobs``, against the fake GitLab over
real HTTP on 127.0.0.1 (tests/support/fake_gitlab). The scenario's times are in
``tests.support.fake_gitlab.scenarios.ci_pipelines``; expected rows are worked out from them in comments.
The fake is a self-managed GitLab (not gitlab.com), so every runner there is the organisation's own."""

from __future__ import annotations

import json
from datetime import datetime

from cadence.core.config import parse_config
from collectors.gitlab.pipelines import pipeline_rows, run_id
from tests.support.db import rows
from tests.support.fake_fixtures import fake_forge_fixtures
from tests.support.fake_fixtures import sync_gitlab as run
from tests.support.fake_gitlab import FakeGitLab, too_many_requests
from tests.support.fake_gitlab.scenarios import busy_project, two_projects

RUN_COLUMNS = ("id, attempt, workflow, branch, sha, event, status, conclusion, created_at, queued_at, "
               "started_at, finished_at")
JOB_COLUMNS = ("run_id, attempt, name, runner_os, runner_labels, self_hosted, queued_at, started_at, "
               "finished_at, conclusion")


server, fake = fake_forge_fixtures(FakeGitLab, "GITLAB_TOKEN", "GitLab")


def make_config(fake, projects=("shop/api", "shop/web")):
    return parse_config({"sources": {"gitlab": {"base_url": fake.url, "projects": list(projects)}}})


def at(hh_mm: str, day: int = 2) -> datetime:
    h, m = map(int, hh_mm.split(":"))
    return datetime(2026, 3, day, h, m)


def requests_to(fake, project_id: int, tail: str) -> int:
    return sum(1 for q in fake.requests if q["path"].startswith(f"/api/v4/projects/{project_id}/")
               and q["path"].endswith(tail))


def test_first_sync_writes_every_attempt_and_job(fake, db_path):
    s = two_projects(fake)
    report = run(db_path, make_config(fake))
    assert sorted(report.synced) == ["shop/api", "shop/web"]
    api = s["api"]
    p1, p2, p3 = (run_id("shop/api", s[k].id) for k in ("p1", "p2", "p3"))
    main_1, mr_2, main_2 = s["a1"].squash_commit_sha, s["a2"].head_sha, s["a2"].squash_commit_sha
    assert rows(db_path, f"SELECT {RUN_COLUMNS} FROM pipeline_runs ORDER BY created_at, attempt") == [
        # p1 attempt 1: build passed, test failed at 11:12 → failure; started at build's 11:01, over
        # when its last job (test, 11:12) finished
        (p1, 1, ".gitlab-ci.yml", "main", main_1, "push", "completed", "failure", at("11:00"), at("11:00"),
         at("11:01"), at("11:12")),
        # p1 attempt 2: test retried at 11:20 (queued), ran 11:21-11:26 → the pipeline's own "success";
        # created_at stays the pipeline's
        (p1, 2, ".gitlab-ci.yml", "main", main_1, "push", "completed", "success", at("11:00"), at("11:20"),
         at("11:21"), at("11:26")),
        # p2: a merge request pipeline (event merge_request); lint failed but may: success; first job
        # lint started 13:06, last ios finished 13:24
        (p2, 1, ".gitlab-ci.yml", "refs/merge-requests/2/head", mr_2, "merge_request", "completed", "success",
         at("13:05"), at("13:05"), at("13:06"), at("13:24")),
        # p3: still running; no conclusion, no finish
        (p3, 1, ".gitlab-ci.yml", "main", main_2, "push", "in_progress", None, at("14:00"), at("14:00"),
         at("14:01"), None)]
    assert rows(db_path, f"SELECT {JOB_COLUMNS} FROM pipeline_jobs ORDER BY run_id = ?, run_id = ?, attempt, name",
                [p3, p2]) == [
        # queued_at = started_at - GitLab's queued_duration: test waited from its stage's turn (11:05)
        (p1, 1, "build", "linux", [], True, at("11:00"), at("11:01"), at("11:05"), "success"),
        (p1, 1, "test", "linux", [], True, at("11:05"), at("11:07"), at("11:12"), "failure"),
        (p1, 2, "test", "linux", [], True, at("11:20"), at("11:21"), at("11:26"), "success"),
        # the runner manager's platform darwin → macos; the job's tags are its runner labels
        (p2, 1, "ios", "macos", ["saas-macos-medium-m1"], True, at("13:05"), at("13:09"), at("13:24"), "success"),
        (p2, 1, "lint", "linux", [], True, at("13:05"), at("13:06"), at("13:08"), "failure"),
        (p2, 1, "test", "linux", ["docker", "gpu"], True, at("13:05"), at("13:07"), at("13:15"), "success"),
        (p3, 1, "build", "linux", [], True, at("14:00"), at("14:01"), at("14:04"), "success"),
        (p3, 1, "test", "linux", [], True, at("14:04"), at("14:05"), None, None)]
    assert rows(db_path, "SELECT DISTINCT source, repo FROM pipeline_runs") == [("gitlab", "shop/api")]
    assert rows(db_path, "SELECT url FROM pipeline_runs WHERE id = ? AND attempt = 2", [p1]) == [
        (f"{api.web_url}/-/pipelines/{s['p1'].id}",)]
    retried = max(j.id for j in s["p1"].jobs)
    assert rows(db_path, "SELECT url FROM pipeline_jobs WHERE run_id = ? AND attempt = 2", [p1]) == [
        (f"{api.web_url}/-/jobs/{retried}",)]
    # shop/web has no pipeline: one empty page, no jobs request, no cursor
    web = s["web"]
    assert requests_to(fake, web.id, "/pipelines") == 1 and requests_to(fake, web.id, "/jobs") == 0
    assert rows(db_path, "SELECT count(*) FROM sync_state WHERE scope = 'shop/web:pipelines'") == [(0,)]
    # shop/api: one pipelines page, one keyset page of jobs (8 jobs)
    assert requests_to(fake, api.id, "/pipelines") == 1 and requests_to(fake, api.id, "/jobs") == 1
    jobs_query = next(q["query"] for q in fake.requests if q["path"].endswith(f"{api.id}/jobs"))
    assert "pagination=keyset" in jobs_query
    # the repo's default branch, where the pipeline metrics look for it (sync_state details)
    details = json.loads(rows(db_path, "SELECT details FROM sync_state WHERE scope = 'shop/api'")[0][0])
    assert details["default_branch"] == "main"


def test_a_running_pipeline_is_read_again_when_it_finishes_and_a_retry_adds_an_attempt(fake, db_path):
    s = two_projects(fake)
    config = make_config(fake)
    run(db_path, config)
    api, p3 = s["api"], s["p3"]
    test = next(j for j in p3.jobs if j.name == "test")
    api.finish_job(p3, test, "2026-03-02T14:12:00Z", status="failed")
    api.retry(p3, "test", "2026-03-02T14:30:00Z", started=1, finished=6)
    fake.reset_log()
    report = run(db_path, config)
    rid = run_id("shop/api", p3.id)
    assert rows(db_path, f"SELECT {RUN_COLUMNS} FROM pipeline_runs WHERE id = ? ORDER BY attempt", [rid]) == [
        # attempt 1 now over: test failed at 14:12 (its build passed at 14:04) → failure at 14:12
        (rid, 1, ".gitlab-ci.yml", "main", s["a2"].squash_commit_sha, "push", "completed", "failure",
         at("14:00"), at("14:00"), at("14:01"), at("14:12")),
        # attempt 2: the retry queued 14:30, ran 14:31-14:36, and the pipeline passed
        (rid, 2, ".gitlab-ci.yml", "main", s["a2"].squash_commit_sha, "push", "completed", "success",
         at("14:00"), at("14:30"), at("14:31"), at("14:36"))]
    assert rows(db_path, "SELECT attempt, finished_at, conclusion FROM pipeline_jobs WHERE run_id = ? AND name = "
                         "'test' ORDER BY attempt", [rid]) == [(1, at("14:12"), "failure"), (2, at("14:36"), "success")]
    # only p3 is read again, whole: its 2 attempts (1 updated, 1 new) and 3 jobs (build as it was,
    # test's first try updated, its retry new)
    assert report.rows["pipeline_runs"] == 2 and report.rows["pipeline_jobs"] == 3
    # shop/api: project (304), GraphQL page, deployments page, pipelines page, jobs page = 5
    assert fake.counted("shop/api") == 5
    assert rows(db_path, "SELECT cursor FROM sync_state WHERE scope = 'shop/api:pipelines'") == [
        ("2026-03-02T14:36:00.000Z",)]
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(5,)]     # 4 + p3's second attempt


def test_budget_of_a_project_with_1000_pipelines(fake, db_path):
    busy_project(fake, merge_requests=0, deployments=0, pipelines=1000)
    config = make_config(fake, projects=("shop/api",))
    project = fake.find_project("shop/api")
    run(db_path, config)
    # 1,000 pipelines of 5 jobs, every tenth with one retried job: 1,100 attempts, 5,100 jobs
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(1100,)]
    assert rows(db_path, "SELECT count(*) FROM pipeline_jobs") == [(5100,)]
    # Pipelines: each page after the first asks from the newest updated_at read and gets that
    # pipeline back (skipped): 100 + 9 × 99 = 991 after 10 pages, the 11th holds the last 9 (+1) = 11.
    # Jobs: 5,100 newest first, 100 a keyset page = 51. Baseline (a list of pipelines, then each
    # pipeline's jobs): 10 + 1,000 = 1,010.
    assert requests_to(fake, project.id, "/pipelines") == 11
    assert requests_to(fake, project.id, "/jobs") == 51
    fake.reset_log()
    run(db_path, config)
    # nothing new: one page of pipelines (the one at the cursor's instant), no jobs
    assert requests_to(fake, project.id, "/pipelines") == 1 and requests_to(fake, project.id, "/jobs") == 0
    assert fake.counted("shop/api") <= 4


def test_an_old_pipeline_retried_reads_its_jobs_directly(fake, db_path):
    busy_project(fake, merge_requests=0, deployments=0, pipelines=300)
    project = fake.find_project("shop/api")
    config = make_config(fake, projects=("shop/api",))
    run(db_path, config)
    old = project.pipelines[1]                    # 2025-01-06 11:00, five jobs, none retried yet
    project.retry(old, "lint", "2025-03-01T10:00:00Z", started=1, finished=2)
    fake.reset_log()
    report = run(db_path, config)
    # The walk's first page (the retry, then the newest pipelines' jobs, ~18 pipelines or 36 hours a
    # page) would need ~15 more pages to reach January 6th; one request for that pipeline's jobs is cheaper.
    assert requests_to(fake, project.id, "/jobs") == 2
    assert requests_to(fake, project.id, f"/pipelines/{old.id}/jobs") == 1
    rid = run_id("shop/api", old.id)
    assert rows(db_path, "SELECT attempt, conclusion, queued_at, started_at, finished_at FROM pipeline_runs "
                         "WHERE id = ? ORDER BY attempt", [rid]) == [
        # attempt 1 as before: all five passed, last (package) finished 11:15
        (1, "success", datetime(2025, 1, 6, 11), datetime(2025, 1, 6, 11, 1), datetime(2025, 1, 6, 11, 15)),
        # attempt 2: lint again, queued 03-01 10:00, ran 10:01-10:02
        (2, "success", datetime(2025, 3, 1, 10), datetime(2025, 3, 1, 10, 1), datetime(2025, 3, 1, 10, 2))]
    assert report.rows["pipeline_jobs"] == 6       # the pipeline's 5 jobs again (unchanged) + lint's retry
    assert rows(db_path, "SELECT count(*) FROM pipeline_jobs WHERE run_id = ?", [rid]) == [(6,)]


def test_a_gitlab_without_keyset_pagination_on_jobs_gets_offset_pages(fake, db_path, tmp_path):
    two_projects(fake)
    run(db_path, make_config(fake))
    expected = rows(db_path, f"SELECT {JOB_COLUMNS} FROM pipeline_jobs ORDER BY ALL")
    fake.reset()
    s = two_projects(fake)
    fake.jobs_keyset = False
    other = tmp_path / "offset.duckdb"
    run(other, make_config(fake))
    jobs = [q for q in fake.requests if q["path"].endswith(f"/{s['api'].id}/jobs")]
    # refused (405 "Keyset pagination is not yet available"), then the first offset page
    assert [q["status"] for q in jobs] == [405, 200] and "pagination" not in jobs[1]["query"]
    got = rows(other, f"SELECT {JOB_COLUMNS} FROM pipeline_jobs ORDER BY ALL")
    # the same rows, once the run ids (new fake objects, new ids) are lined up
    assert len(got) == len(expected) == 8
    assert [r[1:] for r in got] == [r[1:] for r in expected]


def test_429_on_pipelines_and_jobs_is_waited_out(fake, db_path):
    s = two_projects(fake)
    api = s["api"]
    fake.add_fault(f"/api/v4/projects/{api.id}/pipelines", too_many_requests(retry_after=1))
    fake.add_fault(f"/api/v4/projects/{api.id}/jobs", too_many_requests(retry_after=1))
    report = run(db_path, make_config(fake))
    assert not report.failed and report.rows["pipeline_runs"] == 4 and report.rows["pipeline_jobs"] == 8
    statuses = [q["status"] for q in fake.requests if q["path"].startswith(f"/api/v4/projects/{api.id}/")
                and q["path"].endswith(("/pipelines", "/jobs"))]
    assert statuses == [429, 200, 429, 200]


def test_a_project_with_ci_switched_off_still_syncs_its_other_parts(fake, db_path):
    s = two_projects(fake)
    s["api"].ci_enabled = False
    report = run(db_path, make_config(fake))
    assert sorted(report.synced) == ["shop/api", "shop/web"] and not report.failed
    assert rows(db_path, "SELECT count(*) FROM changes WHERE repo = 'shop/api'") == [(2,)]
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(0,)]
    ((skipped, error, cursor),) = rows(db_path, "SELECT skipped, last_error, cursor FROM sync_state "
                                                "WHERE scope = 'shop/api:pipelines'")
    assert error is None and cursor is None
    assert skipped.startswith('GitLab refused the pipelines of "shop/api" (403') and "CI/CD is off" in skipped
    assert requests_to(fake, s["api"].id, "/jobs") == 0
    # switched on again: the next run reads them and the note goes
    s["api"].ci_enabled = True
    run(db_path, make_config(fake))
    assert rows(db_path, "SELECT count(*) FROM pipeline_runs") == [(4,)]
    assert rows(db_path, "SELECT skipped FROM sync_state WHERE scope = 'shop/api:pipelines'") == [(None,)]


# -- the mapping itself (no HTTP): choices documented in docs/sources.md#gitlab ----------------------

def job(id_, name, status="success", *, shared=True, platform="linux", tags=(), started="2026-03-02T10:01:00Z",
        finished="2026-03-02T10:05:00Z", allow_failure=False):
    runner = {"id": 1, "is_shared": shared, "runner_type": "instance_type" if shared else "project_type"}
    return {"id": id_, "name": name, "status": status, "allow_failure": allow_failure, "tag_list": list(tags),
            "created_at": "2026-03-02T10:00:00Z", "started_at": started, "finished_at": finished,
            "queued_duration": 30.0 if started else None, "web_url": f"https://gitlab.com/g/a/-/jobs/{id_}",
            "runner": runner if started else None,
            "runner_manager": {"platform": platform} if started and platform else None}


def pipeline(status="success", **kw):
    return {"id": 9, "sha": "abc", "ref": "main", "status": status, "source": "push",
            "created_at": "2026-03-02T10:00:00Z", "updated_at": "2026-03-02T10:05:00Z",
            "web_url": "https://gitlab.com/g/a/-/pipelines/9", **kw}


def test_gitlab_com_shared_runners_are_not_self_hosted_and_others_are():
    runs, jobs = pipeline_rows("g/a", pipeline(), [job(1, "build"), job(2, "gpu", shared=False, tags=["gpu"])],
                               workflow="ci", hosted=True)
    assert [(j["name"], j["self_hosted"], j["runner_labels"]) for j in jobs] == [
        ("build", False, []), ("gpu", True, ["gpu"])]
    # the same jobs on a self-managed GitLab: every runner is the organisation's
    _, jobs = pipeline_rows("g/a", pipeline(), [job(1, "build"), job(2, "gpu", shared=False)], workflow="ci",
                            hosted=False)
    assert [j["self_hosted"] for j in jobs] == [True, True]
    # queued 30 s before its 10:01 start (queued_duration)
    assert jobs[0]["queued_at"] == datetime(2026, 3, 2, 10, 0, 30)


def test_runner_os_from_the_manager_else_from_tags():
    _, jobs = pipeline_rows("g/a", pipeline(), [
        job(1, "mac", platform="darwin"), job(2, "win", platform="windows"),
        job(3, "old-mac", platform=None, tags=["saas-macos-medium-m1"]), job(4, "old-win", platform=None,
                                                                            tags=["windows-2022"]),
        job(5, "old-linux", platform=None), job(6, "never", "skipped", started=None, finished=None)],
        workflow="ci", hosted=True)
    assert [(j["name"], j["runner_os"]) for j in jobs] == [
        ("mac", "macos"), ("win", "windows"), ("old-mac", "macos"), ("old-win", "windows"),
        ("old-linux", "linux"), ("never", None)]


def test_status_mapping_and_events():
    for gitlab, conclusion, status in (("success", "success", "completed"), ("failed", "failure", "completed"),
                                       ("canceled", "cancelled", "completed"), ("skipped", "skipped", "completed"),
                                       ("running", None, "in_progress"), ("pending", None, "queued"),
                                       ("manual", None, "waiting")):
        (run,), _ = pipeline_rows("g/a", pipeline(gitlab), [], workflow="ci", hosted=True)
        assert (run["conclusion"], run["status"]) == (conclusion, status), gitlab
    (run,), _ = pipeline_rows("g/a", pipeline(source="merge_request_event"), [], workflow="ci", hosted=True)
    assert run["event"] == "merge_request"
    (run,), _ = pipeline_rows("g/a", pipeline(source="schedule"), [], workflow="ci", hosted=True)
    assert run["event"] == "schedule"
    # a failed pipeline without jobs (a config error): over when GitLab last updated it, no duration
    (run,), _ = pipeline_rows("g/a", pipeline("failed"), [], workflow="ci", hosted=True)
    assert (run["started_at"], run["finished_at"]) == (None, datetime(2026, 3, 2, 10, 5))


def test_a_manual_job_nobody_played_is_skipped_once_the_pipeline_is_over():
    jobs_in = [job(1, "build"), job(2, "deploy", "manual", started=None, finished=None)]
    _, jobs = pipeline_rows("g/a", pipeline("success"), jobs_in, workflow="ci", hosted=True)
    assert [j["conclusion"] for j in jobs] == ["success", "skipped"]
    # while the pipeline waits on it, it is not over
    (run,), jobs = pipeline_rows("g/a", pipeline("manual"), jobs_in, workflow="ci", hosted=True)
    assert [j["conclusion"] for j in jobs] == ["success", None] and run["conclusion"] is None
    # build retried although it passed, deploy still waiting: attempt 1 is over (success), attempt 2
    # waits with the pipeline
    runs, _ = pipeline_rows("g/a", pipeline("manual"), jobs_in + [job(3, "build")], workflow="ci", hosted=True)
    assert [(r["attempt"], r["status"], r["conclusion"]) for r in runs] == [
        (1, "completed", "success"), (2, "waiting", None)]


def test_attempts_follow_the_tries_of_each_job():
    # build passed once; test failed twice and passed on its third try; lint (allowed to fail) failed
    jobs_in = [job(1, "build"), job(2, "test", "failed", finished="2026-03-02T10:06:00Z"),
               job(3, "lint", "failed", allow_failure=True),
               job(4, "test", "failed", started="2026-03-02T10:10:00Z", finished="2026-03-02T10:12:00Z"),
               job(5, "test", started="2026-03-02T10:20:00Z", finished="2026-03-02T10:25:00Z")]
    runs, jobs = pipeline_rows("g/a", pipeline("success"), jobs_in, workflow="ci", hosted=True)
    # attempt 1: test failed (10:06) → failure; attempt 2: its second try failed 10:12 → failure;
    # attempt 3: GitLab's own verdict, success, over at 10:25; lint never decides (allow_failure)
    assert [(r["attempt"], r["conclusion"], r["started_at"], r["finished_at"]) for r in runs] == [
        (1, "failure", datetime(2026, 3, 2, 10, 1), datetime(2026, 3, 2, 10, 6)),
        (2, "failure", datetime(2026, 3, 2, 10, 10), datetime(2026, 3, 2, 10, 12)),
        (3, "success", datetime(2026, 3, 2, 10, 20), datetime(2026, 3, 2, 10, 25))]
    assert sorted((j["attempt"], j["name"]) for j in jobs) == [
        (1, "build"), (1, "lint"), (1, "test"), (2, "test"), (3, "test")]
    assert {r["id"] for r in runs} == {"gitlab:g/a:9"}
