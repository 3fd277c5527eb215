"""Seeded projects for tests and the sync benchmark."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.support.fake_gitlab.model import Project, make_sha, ts


def busy_project(fake, path: str = "shop/api", *, merge_requests: int = 1000, deployments: int = 300,
                 start: str = "2025-01-06T09:00:00Z", seed: int = 7, method: str = "merge",
                 pipelines: int = 0) -> Project:
    """``merge_requests`` merged merge requests (by ``method``), one every 6 hours, each with a
    comment and an approval by a colleague; a production deployment after every
    ``merge_requests/deployments``-th merge, 30 minutes after it, linked by GitLab to what it shipped;
    and ``pipelines`` CI pipelines (``add_pipelines``)."""
    rnd = random.Random(seed)
    project = fake.add_project(path, merge_method=method)
    t0 = ts(start)
    project.commit("initial commit", t0 - timedelta(days=1))
    every = max(1, merge_requests // deployments) if deployments else 0
    made = 0
    for i in range(merge_requests):
        merged = t0 + timedelta(hours=6 * i)
        opened = merged - timedelta(hours=rnd.randint(2, 48))
        reviewer = f"dev{(i + 1) % 7}"
        mr = project.merge(f"change {i}", author=f"dev{i % 7}", opened=opened, merged=merged,
                           first_commit=opened - timedelta(hours=rnd.randint(1, 24)),
                           notes=[(reviewer, opened + timedelta(hours=1), "nit: naming")],
                           approvals=[(reviewer, opened + timedelta(hours=2))],
                           labels=["hotfix"] if i % 50 == 0 else [])
        if every and made < deployments and (i + 1) % every == 0:
            project.deploy(mr.landed_sha if method != "merge" else project.head, merged + timedelta(minutes=30))
            made += 1
    add_pipelines(project, pipelines, start=start)
    return project


PIPELINE_JOBS = (("build", "build"), ("unit", "test"), ("integration", "test"), ("lint", "test"),
                 ("package", "deploy"))


def add_pipelines(project: Project, count: int, *, start: str = "2025-01-06T09:00:00Z") -> None:
    """``count`` finished pipelines on the default branch, one every 2 hours, of five jobs (build;
    unit, integration, lint; package: 5.5 jobs on average with retries); in every tenth the
    integration job fails once and passes on retry 10 minutes later."""
    t0 = ts(start)
    for i in range(count):
        at = t0 + timedelta(hours=2 * i)
        jobs = [{"name": "build", "stage": "build", "queued": 0, "started": 1, "finished": 4},
                {"name": "unit", "queued": 4, "started": 5, "finished": 9},
                {"name": "integration", "queued": 4, "started": 5, "finished": 12,
                 "status": "failed" if i % 10 == 0 else "success"},
                {"name": "lint", "queued": 4, "started": 6, "finished": 7},
                {"name": "package", "stage": "deploy", "queued": 12, "started": 13, "finished": 15}]
        p = project.pipeline(at, jobs=jobs, sha=make_sha(project.path, "ci", i))
        if i % 10 == 0:
            project.retry(p, "integration", at + timedelta(minutes=22), started=1, finished=8)


def two_projects(fake) -> dict:
    """Two small projects whose figures the tests work out by hand (all times UTC, 2026-03):

    shop/api (squash and fast-forward: no merge commits; the squash commits are on main):
      !1 "add cart"  ana: first commit 02 08:00, opened 09:00, her own comment 09:30, approved by ben
                     10:00, merged 11:00, label feature
      !2 "fix tax"   ben: first commit 02 12:00, opened 13:00, only his own comment 13:10 (reviewed by
                     its author only), merged 14:00, label hotfix
      !3 "backport"  into the release branch, not main: not a change
      deployments: staging 02 14:30 (not production); production 15:00 failed (15:10), retried 16:00,
                   success 16:10, which GitLab links to !1 and !2
      incidents:   #1 "checkout down" 02 17:00-19:00, label service:checkout, severity HIGH;
                   #2 "slow pages" 03 09:00, still open; #3 "typo" is a plain issue
    shop/web (merge commits):
      !1 "new header" cy: first commit 03 08:00, opened 09:00, dee comments 09:45, approves 10:00,
                     merged 10:30; deployed 11:00-11:10 (GitLab links it)
      !2 "footer"    dee: first commit 03 12:00, opened 12:30, approved by cy 13:00, merged 13:30;
                     deployed 14:00-14:10, but GitLab recorded no merge request for that deployment
                     (the commit range since 11:00's deployment finds !2's merge commit)
    """
    api = fake.add_project("shop/api", merge_method="squash_ff")
    init = api.commit("init", "2026-03-01T08:00:00Z")
    api.add_commit("release base", "2026-03-01T09:00:00Z", branch="release", parents=[init])
    a1 = api.merge("add cart", author="ana", first_commit="2026-03-02T08:00:00Z", opened="2026-03-02T09:00:00Z",
                   merged="2026-03-02T11:00:00Z", notes=[("ana", "2026-03-02T09:30:00Z", "fixed the test")],
                   approvals=[("ben", "2026-03-02T10:00:00Z")], labels=["feature"])
    a2 = api.merge("fix tax", author="ben", first_commit="2026-03-02T12:00:00Z", opened="2026-03-02T13:00:00Z",
                   merged="2026-03-02T14:00:00Z", notes=[("ben", "2026-03-02T13:10:00Z", "self-review: ok")],
                   labels=["hotfix"])
    a3 = api.merge("backport", author="ana", opened="2026-03-02T13:30:00Z", merged="2026-03-02T13:40:00Z",
                   target="release")
    staging = api.deploy(api.head, "2026-03-02T14:30:00Z", environment="staging")
    failed = api.deploy(api.head, "2026-03-02T15:00:00Z", status="failed")
    retried = api.deploy(api.head, "2026-03-02T16:00:00Z")
    i1 = api.add_issue("checkout down", created="2026-03-02T17:00:00Z", closed="2026-03-02T19:00:00Z",
                       labels=["service:checkout"], severity="HIGH")
    i2 = api.add_issue("slow pages", created="2026-03-03T09:00:00Z")
    api.add_issue("typo", created="2026-03-03T10:00:00Z", incident=False)

    web = fake.add_project("shop/web", merge_method="merge")
    web.commit("init", "2026-03-01T08:00:00Z")
    w1 = web.merge("new header", author="cy", first_commit="2026-03-03T08:00:00Z", opened="2026-03-03T09:00:00Z",
                   merged="2026-03-03T10:30:00Z", notes=[("dee", "2026-03-03T09:45:00Z", "nice")],
                   approvals=[("dee", "2026-03-03T10:00:00Z")])
    d1 = web.deploy(web.head, "2026-03-03T11:00:00Z")
    w2 = web.merge("footer", author="dee", first_commit="2026-03-03T12:00:00Z", opened="2026-03-03T12:30:00Z",
                   merged="2026-03-03T13:30:00Z", approvals=[("cy", "2026-03-03T13:00:00Z")])
    d2 = web.deploy(web.head, "2026-03-03T14:00:00Z", link=False)
    p1, p2, p3 = ci_pipelines(api, a1, a2)
    return {"api": api, "web": web, "a1": a1, "a2": a2, "a3": a3, "staging": staging, "failed": failed,
            "retried": retried, "i1": i1, "i2": i2, "w1": w1, "w2": w2, "d1": d1, "d2": d2,
            "p1": p1, "p2": p2, "p3": p3}


def ci_pipelines(api: Project, a1, a2):
    """shop/api's pipelines (shop/web has none), all 2026-03-02 UTC; "q/s/f" = queued/started/finished:

    p1 push to main at 11:00 on !1's squash commit: build q 11:00 s 11:01 f 11:05 on an instance
       runner; test q 11:05 s 11:07 failed 11:12, retried at 11:20: s 11:21 f 11:26 success.
    p2 merge request pipeline of !2 at 13:05 (refs/merge-requests/2/head): test on a project runner
       tagged docker, gpu (q 13:05 s 13:07 f 13:15); lint, allowed to fail, fails (s 13:06 f 13:08);
       ios on GitLab's macOS runner tag saas-macos-medium-m1 (s 13:09 f 13:24): passed.
    p3 push to main at 14:00 on !2's squash commit, still running: build s 14:01 f 14:04, test
       q 14:04 s 14:05 running.
    """
    p1 = api.pipeline("2026-03-02T11:00:00Z", sha=a1.squash_commit_sha, jobs=[
        {"name": "build", "stage": "build", "queued": 0, "started": 1, "finished": 5},
        {"name": "test", "queued": 5, "started": 7, "finished": 12, "status": "failed"}])
    api.retry(p1, "test", "2026-03-02T11:20:00Z", started=1, finished=6)
    p2 = api.pipeline("2026-03-02T13:05:00Z", sha=a2.head_sha, ref="refs/merge-requests/2/head",
                      source="merge_request_event", jobs=[
        {"name": "test", "queued": 0, "started": 2, "finished": 10, "runner": "project", "tags": ["docker", "gpu"]},
        {"name": "lint", "queued": 0, "started": 1, "finished": 3, "status": "failed", "allow_failure": True},
        {"name": "ios", "queued": 0, "started": 4, "finished": 19, "tags": ["saas-macos-medium-m1"],
         "platform": "darwin"}])
    p3 = api.pipeline("2026-03-02T14:00:00Z", sha=a2.squash_commit_sha, jobs=[
        {"name": "build", "stage": "build", "queued": 0, "started": 1, "finished": 4},
        {"name": "test", "queued": 4, "started": 5}])
    return p1, p2, p3
