"""In-memory model of the GitLab data the collector reads: projects with a commit graph, merge
requests (merge commit, squash, fast-forward) with notes, environments with their tier,
deployments with the merge requests GitLab linked to them, issues and incidents, releases.

Builders keep tests short: ``project.commit(...)`` pushes to the default branch,
``project.merge(...)`` merges a merge request with the project's merge method,
``project.deploy(...)`` records a deployment and, like GitLab, links the merge requests it shipped.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

_ids = itertools.count(5000)

PRODUCTION_NAMES = ("production", "prod", "live")
MERGE_METHODS = ("merge", "squash_merge", "squash_ff", "ff")


def ts(value: str | datetime) -> datetime:
    """A UTC datetime from '2026-03-02T10:00:00Z' / '2026-03-02 10:00' or a datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def rest_time(value: datetime | None) -> str | None:
    """REST timestamps: milliseconds and Z (``2016-08-11T07:36:40.222Z``)."""
    if value is None:
        return None
    v = value.astimezone(UTC)
    return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"


def graphql_time(value: datetime | None) -> str | None:
    """GraphQL ``Time``: ISO 8601 to the second (``2026-03-02T10:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def make_sha(*parts) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()


def guess_tier(name: str) -> str:
    """GitLab guesses a new environment's tier from its name."""
    low = name.lower()
    if low in PRODUCTION_NAMES or low.startswith("prod"):
        return "production"
    if low.startswith(("stag", "pre")):
        return "staging"
    if low.startswith(("test", "qa")):
        return "testing"
    if low.startswith(("dev", "review")):
        return "development"
    return "other"


@dataclass
class Commit:
    sha: str
    title: str
    authored_at: datetime
    committed_at: datetime
    parents: list[str] = field(default_factory=list)


@dataclass
class Note:
    author: str
    created_at: datetime
    body: str = "Looks good"
    system: bool = False


@dataclass
class MergeRequest:
    id: int
    iid: int
    title: str
    author: str
    created_at: datetime
    updated_at: datetime
    merged_at: datetime | None
    target_branch: str
    source_branch: str
    labels: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)      # newest first, as GitLab lists them
    merge_commit_sha: str | None = None
    squash_commit_sha: str | None = None
    squash: bool = False
    head_sha: str = ""
    notes: list[Note] = field(default_factory=list)        # oldest first

    @property
    def state(self) -> str:
        return "merged" if self.merged_at else "opened"

    @property
    def landed_sha(self) -> str | None:
        """The commit this merge request put on its target branch."""
        return self.merge_commit_sha or self.squash_commit_sha or (self.head_sha if self.merged_at else None)


@dataclass
class Environment:
    id: int
    name: str
    tier: str
    state: str = "available"


@dataclass
class Deployment:
    id: int
    iid: int
    environment: Environment
    sha: str
    ref: str
    status: str                  # created / running / success / failed / canceled / skipped / blocked
    created_at: datetime
    updated_at: datetime
    job_id: int
    started_at: datetime | None
    finished_at: datetime | None
    merge_request_iids: list[int] = field(default_factory=list)


@dataclass
class Issue:
    id: int
    iid: int
    title: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    type: str = "INCIDENT"       # GitLab's IssueType: ISSUE / INCIDENT / ...
    labels: list[str] = field(default_factory=list)
    severity: str = "UNKNOWN"    # IssuableSeverity

    @property
    def state(self) -> str:
        return "closed" if self.closed_at else "opened"


@dataclass
class Release:
    tag_name: str
    sha: str
    created_at: datetime
    released_at: datetime
    upcoming: bool = False


@dataclass
class Job:
    """A CI job (one try: a retry is a new job with the same name and a higher id)."""

    id: int
    name: str
    stage: str
    status: str                  # created / pending / running / success / failed / canceled / skipped / manual
    created_at: datetime
    queued_at: datetime | None   # entered the queue (its stage came); GitLab shows it as queued_duration
    started_at: datetime | None
    finished_at: datetime | None
    tags: list[str] = field(default_factory=list)
    runner: str | None = "instance"   # instance (shared) / group / project / None (no runner took it)
    platform: str | None = "linux"    # the runner manager's platform: linux / darwin / windows
    allow_failure: bool = False


@dataclass
class Pipeline:
    id: int
    iid: int
    sha: str
    ref: str
    source: str                  # push / merge_request_event / schedule / web / parent_pipeline / ...
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    jobs: list[Job] = field(default_factory=list)
    forced_status: str | None = None

    def latest(self) -> list[Job]:
        """Each name's newest try (what GitLab shows and bases the pipeline's status on)."""
        out: dict[str, Job] = {}
        for j in sorted(self.jobs, key=lambda j: j.id):
            out[j.name] = j
        return list(out.values())

    @property
    def status(self) -> str:
        if self.forced_status:
            return self.forced_status
        jobs = self.latest()
        if not jobs:
            return "failed"      # no job at all: GitLab fails a pipeline whose config yields none
        states = {j.status for j in jobs}
        if states & {"running"}:
            return "running"
        if states & {"pending", "created"}:
            return "running" if any(j.started_at for j in jobs) else "pending"
        if any(j.status == "failed" and not j.allow_failure for j in jobs):
            return "failed"
        if "canceled" in states:
            return "canceled"
        if states <= {"skipped", "manual"}:
            return "skipped"
        return "success"


@dataclass
class Project:
    path: str                                     # full path, e.g. "shop/api" or "shop/backend/api"
    id: int = field(default_factory=lambda: next(_ids))
    default_branch: str = "main"
    archived: bool = False
    merge_method: str = "merge"                   # merge / squash_merge / squash_ff / ff
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    merge_requests: dict[int, MergeRequest] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    issues: dict[int, Issue] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    ci_config_path: str | None = None
    ci_enabled: bool = True                       # False: CI/CD switched off (pipelines and jobs answer 403)
    _pipeline_iid: int = 0
    _mr_iid: int = 0
    _issue_iid: int = 0
    _deploy_iid: int = 0

    @property
    def web_url(self) -> str:
        return f"https://gitlab.example/{self.path}"

    @property
    def head(self) -> str | None:
        return self.branches.get(self.default_branch)

    # -- commits ------------------------------------------------------------------------------------
    def add_commit(self, title: str, at, parents: list[str] | None = None, *, branch: str | None = None,
                   authored_at=None) -> str:
        at = ts(at)
        branch = branch or self.default_branch
        if parents is None:
            parents = [self.branches[branch]] if branch in self.branches else []
        sha = make_sha(self.path, title, at.isoformat(), *parents, len(self.commits))
        self.commits[sha] = Commit(sha, title, ts(authored_at) if authored_at else at, at, list(parents))
        self.branches[branch] = sha
        return sha

    def commit(self, title: str, at, **kw) -> str:
        return self.add_commit(title, at, **kw)

    def ancestors(self, sha: str) -> set[str]:
        """``sha`` and every commit reachable from it."""
        out, todo = set(), [sha]
        while todo:
            cur = todo.pop()
            if cur in out or cur not in self.commits:
                continue
            out.add(cur)
            todo += self.commits[cur].parents
        return out

    def compare(self, base: str, head: str) -> list[Commit]:
        """``git log base..head``, oldest first (as GitLab's compare lists them)."""
        shas = self.ancestors(head) - self.ancestors(base)
        return sorted((self.commits[s] for s in shas), key=lambda c: (c.committed_at, c.sha))

    # -- merge requests -----------------------------------------------------------------------------
    def merge(self, title: str, *, author: str = "dev", opened, merged, first_commit=None, commits: int = 1,
              notes: list[tuple] | None = None, approvals: list[tuple[str, str]] | None = None,
              labels: list[str] | None = None, updated=None, target: str | None = None,
              method: str | None = None) -> MergeRequest:
        """Merge a merge request: its branch commits (oldest = ``first_commit``, one a minute) land on
        ``target`` at ``merged`` by the project's merge method (or ``method``). ``notes`` are
        (author, time[, body]) comments; ``approvals`` (user, time) become GitLab's system notes
        "approved this merge request"."""
        method = method or self.merge_method
        assert method in MERGE_METHODS, method
        opened, merged = ts(opened), ts(merged)
        first_commit = ts(first_commit) if first_commit else opened
        self._mr_iid += 1
        iid = self._mr_iid
        target = target or self.default_branch
        base = self.branches.get(target)
        branch_shas, parent = [], base
        for i in range(commits):
            at = first_commit + timedelta(minutes=i)
            sha = make_sha(self.path, "mr", iid, i)
            self.commits[sha] = Commit(sha, f"{title} ({i})", at, at, [parent] if parent else [])
            branch_shas.append(sha)
            parent = sha
        mr = MergeRequest(id=next(_ids), iid=iid, title=title, author=author, created_at=opened,
                          updated_at=ts(updated) if updated else merged, merged_at=merged,
                          target_branch=target, source_branch=f"feature-{iid}", labels=list(labels or []),
                          commits=list(reversed(branch_shas)), head_sha=branch_shas[-1] if branch_shas else "")
        if method == "merge":
            mr.merge_commit_sha = self.add_commit(f"Merge branch '{mr.source_branch}' into '{target}'", merged,
                                                  ([base] if base else []) + branch_shas[-1:], branch=target)
        elif method == "squash_merge":
            squash = make_sha(self.path, "squash", iid)
            self.commits[squash] = Commit(squash, title, merged, merged, [base] if base else [])
            mr.squash_commit_sha, mr.squash = squash, True
            mr.merge_commit_sha = self.add_commit(f"Merge branch '{mr.source_branch}' into '{target}'", merged,
                                                  ([base] if base else []) + [squash], branch=target)
        elif method == "squash_ff":
            mr.squash_commit_sha = self.add_commit(title, merged, branch=target)
            mr.squash = True
        else:   # ff: the branch is rebased onto the target and the target moves to its head
            parent = base
            for i, old in enumerate(branch_shas):
                c = self.commits[old]
                new = make_sha(self.path, "rebased", iid, i)
                self.commits[new] = Commit(new, c.title, c.authored_at, merged, [parent] if parent else [])
                parent = new
            self.branches[target] = parent
            mr.head_sha = parent
        for n in notes or []:
            author_, at, *body = n
            mr.notes.append(Note(author_, ts(at), body[0] if body else "Looks good"))
        for user, at in approvals or []:
            mr.notes.append(Note(user, ts(at), "approved this merge request", system=True))
        mr.notes.sort(key=lambda n: n.created_at)
        self.merge_requests[iid] = mr
        return mr

    # -- environments and deployments ---------------------------------------------------------------
    def environment(self, name: str, tier: str | None = None) -> Environment:
        env = self.environments.get(name)
        if env is None:
            env = self.environments[name] = Environment(next(_ids), name, tier or guess_tier(name))
        return env

    def deploy(self, sha: str, at, *, environment: str = "production", status: str = "success",
               minutes: int = 10, tier: str | None = None, link: bool = True,
               merge_requests: list[int] | None = None) -> Deployment:
        """A deployment of ``sha`` started at ``at`` that ends ``minutes`` later with ``status``
        (``running`` leaves it unfinished). Like GitLab, a successful one is linked to the merge
        requests merged into the default branch since the environment's previous successful
        deployment (``link=False``: GitLab recorded none; ``merge_requests``: exactly these)."""
        at = ts(at)
        env = self.environment(environment, tier)
        self._deploy_iid += 1
        done = status not in ("created", "running", "blocked")
        finished = at + timedelta(minutes=minutes) if done else None
        dep = Deployment(id=next(_ids), iid=self._deploy_iid, environment=env, sha=sha, ref=self.default_branch,
                         status=status, created_at=at, updated_at=finished or at, job_id=next(_ids),
                         started_at=at, finished_at=finished)
        if status == "success":
            if merge_requests is not None:
                dep.merge_request_iids = list(merge_requests)
            elif link:
                dep.merge_request_iids = self._shipped_since_previous(dep)
        self.deployments.append(dep)
        return dep

    def finish(self, dep: Deployment, at, status: str = "success") -> None:
        """A running deployment ends (GitLab bumps its updated_at)."""
        dep.status = status
        dep.finished_at = dep.updated_at = ts(at)
        if status == "success":
            dep.merge_request_iids = self._shipped_since_previous(dep)

    def _shipped_since_previous(self, dep: Deployment) -> list[int]:
        previous = [d for d in self.deployments if d.environment is dep.environment and d.status == "success"
                    and d.id < dep.id]
        before = self.ancestors(previous[-1].sha) if previous else set()
        now = self.ancestors(dep.sha)
        return [mr.iid for mr in self.merge_requests.values()
                if mr.merged_at and mr.target_branch == self.default_branch and mr.landed_sha in now
                and mr.landed_sha not in before]

    # -- issues and releases ------------------------------------------------------------------------
    def add_issue(self, title: str, *, created, closed=None, labels=(), incident: bool = True,
                  severity: str = "UNKNOWN", updated=None) -> Issue:
        created = ts(created)
        closed = ts(closed) if closed else None
        self._issue_iid += 1
        issue = Issue(next(_ids), self._issue_iid, title, created, ts(updated) if updated else (closed or created),
                      closed, "INCIDENT" if incident else "ISSUE", list(labels), severity)
        self.issues[issue.iid] = issue
        return issue

    def add_release(self, tag: str, sha: str, at, *, upcoming: bool = False) -> Release:
        rel = Release(tag, sha, ts(at) - timedelta(minutes=5), ts(at), upcoming)
        self.releases.append(rel)
        return rel

    # -- CI pipelines and jobs ----------------------------------------------------------------------
    def pipeline(self, at, *, jobs: list[dict], sha: str | None = None, ref: str | None = None,
                 source: str = "push", name: str | None = None, status: str | None = None) -> Pipeline:
        """A pipeline created at ``at`` with its jobs, each a dict: ``name``, ``queued``/``started``/
        ``finished`` (minutes after ``at``; None: not yet), ``status`` (default success, or running
        / pending when it has not finished / started), ``tags``, ``runner``, ``platform``,
        ``allow_failure``, ``stage``. Jobs get ids in order, all created with the pipeline."""
        at = ts(at)
        self._pipeline_iid += 1
        p = Pipeline(next(_ids), self._pipeline_iid, sha or self.head or make_sha(self.path, "ci", at),
                     ref or self.default_branch, source, at, at, name, forced_status=status)
        for spec in jobs:
            p.jobs.append(self._job(at, at, spec))
        self.pipelines.append(p)
        self._touch(p)
        return p

    def retry(self, p: Pipeline, name: str, at, **spec) -> Job:
        """Retry job ``name`` at ``at`` (a new job, same name); ``spec`` as in ``pipeline``, minutes
        after ``at``."""
        at = ts(at)
        job = self._job(p.created_at, at, {"name": name, "queued": 0, **spec},
                        base=next(j for j in p.jobs if j.name == name))
        p.jobs.append(job)
        self._touch(p)
        return job

    def finish_job(self, p: Pipeline, job: Job, at, status: str = "success") -> None:
        job.finished_at, job.status = ts(at), status
        if job.started_at is None:
            job.started_at = job.queued_at = ts(at)
        self._touch(p)

    def _job(self, created, origin, spec: dict, base: Job | None = None) -> Job:
        def at(key):
            v = spec.get(key)
            return None if v is None else origin + timedelta(minutes=v)

        queued, started, finished = at("queued"), at("started"), at("finished")
        status = spec.get("status") or ("success" if finished else "running" if started else "pending")
        created = origin if base is not None else created
        return Job(next(_ids), spec["name"], spec.get("stage", base.stage if base else "test"), status, created,
                   queued, started, finished, list(spec.get("tags", base.tags if base else [])),
                   spec.get("runner", base.runner if base else "instance"),
                   spec.get("platform", base.platform if base else "linux"),
                   spec.get("allow_failure", base.allow_failure if base else False))

    def _touch(self, p: Pipeline) -> None:
        """GitLab bumps a pipeline's updated_at whenever its status or a job changes."""
        times = [p.created_at] + [t for j in p.jobs for t in (j.created_at, j.started_at, j.finished_at) if t]
        p.updated_at = max(times)
