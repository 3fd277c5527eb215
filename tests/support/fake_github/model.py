"""In-memory model of the GitHub data the collector reads: repositories with a commit graph,
pull requests, deployments with statuses, issues, releases, workflows and their runs.

Builders keep tests short: ``repo.commit(...)`` appends to the default branch,
``repo.merge_pull(...)`` squash-merges a pull request (a new commit on the default branch),
``repo.deploy(...)`` records a deployment with its statuses.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_ids = itertools.count(1000)


def ts(value: str | datetime) -> datetime:
    """A UTC datetime from '2026-03-02T10:00:00Z' / '2026-03-02 10:00' or a datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.replace("Z", "+00:00")
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def make_oid(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


@dataclass
class Commit:
    oid: str
    message: str
    authored_at: datetime
    committed_at: datetime
    parents: list[str] = field(default_factory=list)


@dataclass
class Review:
    author: str
    submitted_at: datetime | None
    state: str = "APPROVED"


@dataclass
class Pull:
    number: int
    title: str
    author: str
    created_at: datetime
    updated_at: datetime
    merged_at: datetime | None
    merge_oid: str | None
    base_ref: str = "main"
    labels: list[str] = field(default_factory=list)
    commit_oids: list[str] = field(default_factory=list)   # oldest first, as GitHub lists them
    reviews: list[Review] = field(default_factory=list)
    head_oid: str = ""
    base_oid: str = ""

    @property
    def state(self) -> str:
        return "MERGED" if self.merged_at else "OPEN"


@dataclass
class DeploymentStatus:
    state: str          # SUCCESS / FAILURE / ERROR / IN_PROGRESS / QUEUED / PENDING / INACTIVE
    created_at: datetime
    log_url: str | None = None


@dataclass
class Deployment:
    id: int
    environment: str
    sha: str
    created_at: datetime
    statuses: list[DeploymentStatus] = field(default_factory=list)  # oldest first


@dataclass
class Issue:
    number: int
    title: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    state_reason: str | None = None     # COMPLETED / NOT_PLANNED / DUPLICATE / REOPENED
    labels: list[str] = field(default_factory=list)


@dataclass
class Release:
    id: int
    tag: str
    sha: str
    created_at: datetime
    published_at: datetime | None
    draft: bool = False
    prerelease: bool = False


@dataclass
class Workflow:
    id: int
    name: str
    path: str
    runs: list[dict] = field(default_factory=list)


@dataclass
class Repo:
    owner: str
    name: str
    id: int = field(default_factory=lambda: next(_ids))
    default_branch: str = "main"
    created_at: datetime = field(default_factory=lambda: ts("2024-01-01T00:00:00Z"))
    private: bool = True
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)     # name -> head oid
    pulls: dict[int, Pull] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    issues: dict[int, Issue] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    workflows: list[Workflow] = field(default_factory=list)
    _next_number: int = 1
    _history_cache: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def head(self) -> str | None:
        return self.branches.get(self.default_branch)

    # -- commits -----------------------------------------------------------------------------
    def add_commit(self, message: str, at, parents: list[str] | None = None, *,
                   authored_at=None, branch: str | None = None) -> str:
        """A commit on ``branch`` (default branch) whose first parent is that branch's head."""
        at = ts(at)
        branch = branch or self.default_branch
        if parents is None:
            parents = [self.branches[branch]] if branch in self.branches else []
        oid = make_oid(self.full_name, message, at.isoformat(), *parents, len(self.commits))
        self.commits[oid] = Commit(oid, message, ts(authored_at) if authored_at else at, at, list(parents))
        self.branches[branch] = oid
        self._history_cache.clear()
        return oid

    def commit(self, message: str, at, **kw) -> str:
        return self.add_commit(message, at, **kw)

    def history(self, oid: str) -> list[str]:
        """Ancestors of ``oid`` (itself first) in `git log` order: newest committer date first."""
        if oid in self._history_cache:
            return self._history_cache[oid]
        out, seen, heap, seq = [], {oid}, [], itertools.count()
        heapq.heappush(heap, (-self.commits[oid].committed_at.timestamp(), next(seq), oid))
        while heap:
            _, _, cur = heapq.heappop(heap)
            out.append(cur)
            for p in self.commits[cur].parents:
                if p not in seen and p in self.commits:
                    seen.add(p)
                    heapq.heappush(heap, (-self.commits[p].committed_at.timestamp(), next(seq), p))
        self._history_cache[oid] = out
        return out

    def is_ancestor(self, ancestor: str, of: str) -> bool:
        return ancestor in set(self.history(of))

    # -- pull requests -----------------------------------------------------------------------
    def merge_pull(self, title: str, *, author: str = "dev", opened, merged, first_commit=None,
                   commits: int = 1, reviews: list[tuple[str, str]] | None = None,
                   labels: list[str] | None = None, updated=None, base_ref: str | None = None,
                   number: int | None = None, merge_commit: bool = False) -> Pull:
        """Merge a pull request: its branch commits (oldest = ``first_commit``) and one new commit
        on the base branch, committed at ``merged`` — a squash commit, or with ``merge_commit`` a
        merge commit whose second parent is the branch (so `git log` lists the branch too)."""
        opened, merged = ts(opened), ts(merged)
        first_commit = ts(first_commit) if first_commit else opened
        number = number or self._take_number()
        base_ref = base_ref or self.default_branch
        base_oid = self.branches.get(base_ref, "")
        branch_oids = []
        parent = base_oid
        for i in range(commits):
            at = first_commit + timedelta(seconds=i)
            oid = make_oid(self.full_name, "pr", number, i)
            self.commits[oid] = Commit(oid, f"{title} ({i})", at, at, [parent] if parent else [])
            branch_oids.append(oid)
            parent = oid
        parents = None
        if merge_commit and branch_oids:
            parents = ([base_oid] if base_oid else []) + [branch_oids[-1]]
        merge_oid = self.add_commit(f"{title} (#{number})", merged, parents, branch=base_ref)
        pull = Pull(number=number, title=title, author=author, created_at=opened,
                    updated_at=ts(updated) if updated else merged, merged_at=merged,
                    merge_oid=merge_oid, base_ref=base_ref, labels=list(labels or []),
                    commit_oids=branch_oids,
                    reviews=[Review(a, ts(t)) for a, t in (reviews or [])],
                    head_oid=branch_oids[-1] if branch_oids else merge_oid, base_oid=base_oid)
        self.pulls[number] = pull
        return pull

    def open_pull(self, title: str, *, author: str = "dev", opened, labels=None) -> Pull:
        number = self._take_number()
        pull = Pull(number=number, title=title, author=author, created_at=ts(opened),
                    updated_at=ts(opened), merged_at=None, merge_oid=None, labels=list(labels or []))
        self.pulls[number] = pull
        return pull

    def _take_number(self) -> int:
        n = self._next_number
        self._next_number += 1
        return n

    # -- deployments, issues, releases, workflow runs ------------------------------------------
    def deploy(self, sha: str, at, *, environment: str = "production", state: str = "SUCCESS",
               finished=None, deployment_id: int | None = None) -> Deployment:
        """A deployment created at ``at``; statuses IN_PROGRESS then ``state`` at ``finished``
        (default: 10 minutes later). ``state=IN_PROGRESS`` leaves it running."""
        at = ts(at)
        dep = Deployment(deployment_id or next(_ids), environment, sha, at,
                         [DeploymentStatus("IN_PROGRESS", at + timedelta(seconds=5))])
        if state != "IN_PROGRESS":
            dep.statuses.append(DeploymentStatus(state, ts(finished) if finished else at + timedelta(minutes=10),
                                                 log_url=f"https://ci.example/{dep.id}"))
        self.deployments.append(dep)
        return dep

    def add_issue(self, title: str, *, created, closed=None, labels=("incident",),
                  state_reason: str | None = None, updated=None) -> Issue:
        created = ts(created)
        closed = ts(closed) if closed else None
        issue = Issue(self._take_number(), title, created, ts(updated) if updated else (closed or created),
                      closed, state_reason or ("COMPLETED" if closed else None), list(labels))
        self.issues[issue.number] = issue
        return issue

    def add_release(self, tag: str, sha: str, at, *, draft=False, prerelease=False) -> Release:
        rel = Release(next(_ids), tag, sha, ts(at), None if draft else ts(at), draft, prerelease)
        self.releases.append(rel)
        return rel

    def add_workflow(self, name: str, path: str) -> Workflow:
        wf = Workflow(next(_ids), name, path)
        self.workflows.append(wf)
        return wf

    def add_run(self, wf: Workflow, sha: str, at, *, conclusion: str | None = "success",
                branch: str | None = None, minutes: int = 8) -> dict:
        at = ts(at)
        rid = next(_ids)
        run = {"id": rid, "node_id": f"WFR_{rid}", "name": wf.name, "workflow_id": wf.id, "head_sha": sha,
               "head_branch": branch or self.default_branch, "event": "push",
               "status": "completed" if conclusion else "in_progress", "conclusion": conclusion,
               "created_at": iso(at), "run_started_at": iso(at), "run_attempt": 1,
               "updated_at": iso(at + timedelta(minutes=minutes)),
               "html_url": f"https://github.example/{self.full_name}/actions/runs/{rid}",
               "path": wf.path}
        wf.runs.append(run)
        return run

    # -- Actions runs with jobs and attempts (issue 18) ----------------------------------------
    def add_actions_run(self, wf: Workflow, sha: str, at, *, conclusion: str | None = "success",
                        branch: str | None = None, event: str = "push",
                        jobs: tuple = (("build", ("ubuntu-latest",), 0.5, 6),), job_conclusions=None) -> dict:
        """A workflow run whose first attempt has ``jobs`` ((name, labels, queue minutes, minutes)
        each, started one after the other's queue); ``conclusion`` None leaves it in progress."""
        run = self.add_run(wf, sha, at, conclusion=conclusion, branch=branch)
        run["event"] = event
        run["_attempts"] = []
        self._attempt(run, ts(at), conclusion, jobs, job_conclusions)
        return run

    def rerun(self, run: dict, at, *, conclusion: str | None = "success", jobs=None, job_conclusions=None) -> None:
        """A new attempt of ``run`` (same id and sha), queued at ``at``."""
        jobs = jobs or tuple((j["name"], tuple(j["labels"]), 0.5, 5) for j in run["_attempts"][-1]["jobs"])
        self._attempt(run, ts(at), conclusion, jobs, job_conclusions)

    def finish(self, run: dict, conclusion: str, at) -> None:
        """The latest attempt of an in-progress run completes at ``at``."""
        attempt = run["_attempts"][-1]
        for j in attempt["jobs"]:
            if j["status"] != "completed":
                j.update(status="completed", conclusion=conclusion, completed_at=iso(ts(at)))
        run.update(status="completed", conclusion=conclusion, updated_at=iso(ts(at)))

    def _attempt(self, run, at, conclusion, jobs, job_conclusions) -> None:
        n = len(run["_attempts"]) + 1
        out, t = [], at
        for i, (name, labels, queue, minutes) in enumerate(jobs):
            started = t + timedelta(minutes=queue)
            done = started + timedelta(minutes=minutes)
            jc = (job_conclusions or {}).get(name, conclusion)
            jid = next(_ids)
            out.append({"id": jid, "run_id": run["id"], "run_attempt": n, "name": name, "labels": list(labels),
                        "status": "completed" if conclusion else "in_progress",
                        "conclusion": jc if conclusion else None, "created_at": iso(t),
                        "started_at": iso(started), "completed_at": iso(done) if conclusion else None,
                        "html_url": f"https://github.example/{self.full_name}/actions/runs/{run['id']}/job/{jid}",
                        "runner_name": "GitHub Actions 2" if "self-hosted" not in labels else "rack-1"})
            t = done
        run["_attempts"].append({"attempt": n, "jobs": out})
        run.update(run_attempt=n, run_started_at=iso(at), status="completed" if conclusion else "in_progress",
                   conclusion=conclusion, updated_at=iso(t))

    def actions_runs(self) -> list[dict]:
        return [r for wf in self.workflows for r in wf.runs]
