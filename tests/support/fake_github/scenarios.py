"""Seeded repositories for tests and the sync benchmark."""

from __future__ import annotations

import random
from datetime import timedelta

from tests.support.fake_github.model import Repo, ts


def busy_repo(fake, full_name: str = "shop/api", *, pulls: int = 1000, deployments: int = 300,
              start: str = "2025-01-06T09:00:00Z", seed: int = 7, merge_commits: bool = False,
              commits_per_pull: int = 1, actions: bool = False) -> Repo:
    """``pulls`` merged pull requests (squash, or merge commits), one every 6 hours, with a review
    each; a production deployment after every ``pulls/deployments``-th merge, 30 minutes after it.
    ``actions``: a ``ci`` workflow run on every merge commit (build on Linux, test on macOS), every
    10th failing first and passing when re-run an hour later."""
    rnd = random.Random(seed)
    repo = fake.add_repo(full_name)
    t0 = ts(start)
    repo.commit("initial commit", t0 - timedelta(days=1))
    every = max(1, pulls // deployments) if deployments else 0
    wf = repo.add_workflow("ci", ".github/workflows/ci.yml") if actions else None
    made = 0
    for i in range(pulls):
        merged = t0 + timedelta(hours=6 * i)
        opened = merged - timedelta(hours=rnd.randint(2, 48))
        pr = repo.merge_pull(f"change {i}", author=f"dev{i % 7}", opened=opened, merged=merged,
                             first_commit=opened - timedelta(hours=rnd.randint(1, 24)),
                             reviews=[(f"dev{(i + 1) % 7}", opened + timedelta(hours=1))],
                             labels=["hotfix"] if i % 50 == 0 else [], merge_commit=merge_commits,
                             commits=commits_per_pull)
        if wf is not None:
            jobs = (("build", ("ubuntu-latest",), 0.5, 4), ("test", ("macos-14",), 1.0, 6))
            run = repo.add_actions_run(wf, pr.merge_oid, merged, conclusion="failure" if i % 10 == 9 else "success",
                                       jobs=jobs)
            if i % 10 == 9:
                repo.rerun(run, merged + timedelta(hours=1), conclusion="success")
        if every and made < deployments and (i + 1) % every == 0:
            repo.deploy(pr.merge_oid, merged + timedelta(minutes=30))
            made += 1
    return repo


def actions_repo(fake, full_name: str = "shop/api", *, runs: int = 3000, start: str = "2026-01-01T00:00:00Z",
                 every_minutes: int = 38) -> Repo:
    """``runs`` GitHub Actions runs of three workflows (ci, lint, docs), one every ``every_minutes``,
    each with two Linux jobs; every 100th (from the 8th) fails and passes when re-run 20 minutes
    later (so 1 % of runs have a second attempt)."""
    repo = fake.add_repo(full_name)
    t0 = ts(start)
    repo.commit("init", t0)
    workflows = [repo.add_workflow(n, f".github/workflows/{n}.yml") for n in ("ci", "lint", "docs")]
    for i in range(runs):
        wf = workflows[i % 3]
        at = t0 + timedelta(minutes=every_minutes * i)
        run = repo.add_actions_run(wf, f"{i:040x}", at, conclusion="failure" if i % 100 == 7 else "success",
                                   jobs=(("build", ("ubuntu-latest",), 0.3, 3), ("test", ("ubuntu-latest",), 0.2, 5)))
        if i % 100 == 7:
            repo.rerun(run, at + timedelta(minutes=20))
    return repo
