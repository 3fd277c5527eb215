"""GitHub Actions → ``pipeline_runs`` and ``pipeline_jobs`` (issue 18), part of ``cadence sync github``.

API, per repository, within the request budget of docs/performance.md (3,000 runs: at most 60
requests on a first sync, jobs included; an unchanged repository: one conditional request):

* runs: REST ``GET /repos/{o}/{r}/actions/runs?created=>=LO`` (100 a page, newest first). GitHub
  serves at most 1,000 results of a filtered listing, so a window past that is split in halves.
  Each run is its latest attempt (``run_attempt``).
* jobs: GraphQL, the run's check suite and its check runs (one check run per job), for up to
  ``RUNS_PER_QUERY`` runs a request (``nodes(ids:)`` takes 100 ids; three aliases per query): name,
  conclusion, started and completed times.
* what GraphQL lacks — runner labels, a job's queue time and the jobs of earlier attempts — comes
  from REST ``GET /actions/runs/{id}/jobs?filter=all`` for the runs that need it: re-runs (their
  earlier attempts are rebuilt from their jobs) and runs with a job name whose labels are not yet
  known (labels are remembered per workflow and job name in ``sync_state.details``). At most
  ``REST_JOB_READS`` such reads per sync and repository; the rest wait in ``details`` for the next.

Incremental: the cursor (``sync_state`` scope ``OWNER/NAME:actions``) is the creation time from
which the next listing starts: the oldest run still queued or in progress (re-read until it
finishes; a run unfinished for longer than ``UNFINISHED_HORIZON`` is not waited for), else the
newest run seen less ``RERUN_WINDOW`` (re-runs of recent runs). The listing's first page is
conditional (ETag): when nothing changed GitHub answers 304, free of rate limit, and nothing else
is asked. Runs whose attempt, status and update time are unchanged are not read again. The first
sync starts ``since`` ([sources.github]) or ``LOOKBACK_DAYS`` back. Rows and cursor are written in
the repository's one transaction (``collectors.github.write.write_result``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.github.model import SOURCE, UNFINISHED_HORIZON, iso, parse_time
from collectors.github.rest import PAGE, list_runs, next_link
from collectors.github_client import GitHubClient, GitHubHTTPError
from collectors.pipelines import runner_os_of

log = logging.getLogger(__name__)

RUNS_RESULT_CAP = 1000          # GitHub serves at most 1,000 results of a filtered runs listing
RUNS_PER_QUERY = 300            # three nodes(ids:) of 100 in one GraphQL request
NODE_IDS = 100
CHECK_RUNS = 100                # jobs read per run, every attempt's (a run with more is logged)
REST_JOB_READS = 8              # REST job reads per sync and repository (runner labels, queue times)
LOOKBACK_DAYS = 90
RERUN_WINDOW = timedelta(days=1)


JOBS_QUERY = """
query CadenceRunJobs($a: [ID!]!, $b: [ID!]!, $c: [ID!]!, $withB: Boolean!, $withC: Boolean!) {
  rateLimit { remaining limit resetAt cost }
  a: nodes(ids: $a) { ...CadenceRunJobs }
  b: nodes(ids: $b) @include(if: $withB) { ...CadenceRunJobs }
  c: nodes(ids: $c) @include(if: $withC) { ...CadenceRunJobs }
}
fragment CadenceRunJobs on WorkflowRun {
  databaseId
  checkSuite {
    checkRuns(first: %(jobs)d, filterBy: {checkType: ALL}) {
      totalCount
      nodes { databaseId name status conclusion startedAt completedAt detailsUrl }
    }
  }
}
""" % {"jobs": CHECK_RUNS}


def run_id(repo: str, ident) -> str:
    return f"{SOURCE}:{repo}:{ident}"


@dataclass
class ActionsResult:
    runs: list[dict] = field(default_factory=list)
    jobs: list[dict] = field(default_factory=list)
    cursor: str | None = None
    details: dict = field(default_factory=dict)
    requests: int = 0


class ActionsFetcher:
    """Reads one repository's new and changed workflow runs and their jobs; no database access.

    ``known`` maps a run id to (attempt, status, finished_at ISO) as stored, so unchanged runs are
    skipped; ``details`` is the repository's saved Actions state (ETags, runner labels)."""

    def __init__(self, client: GitHubClient, repo: str, *, cursor: str | None, details: dict,
                 known: dict[str, tuple], since: datetime | None, now: datetime):
        self.client, self.repo, self.now = client, repo, now
        self.cursor = parse_time(cursor)
        self.details = {k: v for k, v in details.items()}
        self.known = known
        # The first sync's start is a whole day, so that an empty repository's listing keeps one URL
        # (and its ETag) through the day.
        first = (now - timedelta(days=LOOKBACK_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
        self.lo = self.cursor or since or first
        self.result = ActionsResult()
        self.labels: dict[str, list[str]] = dict(self.details.get("labels") or {})
        self.requests_before = client.thread_requests

    def fetch(self) -> ActionsResult:
        runs, changed = self._list()
        if changed:
            todo = [r for r in runs if self._needs_read(r)]
            self._rows(todo)
            self._rest_reads(todo)
            self._fill_labels(todo)
        self._cursor(runs, changed)
        self.details["labels"] = self.labels
        self.result.details = self.details
        self.result.requests = self.client.thread_requests - self.requests_before
        return self.result

    # -- listing ---------------------------------------------------------------------------------
    def _list(self) -> tuple[list[dict], bool]:
        """(runs created since the cursor, whether the listing changed since the last sync)."""
        path = f"/repos/{self.repo}/actions/runs"
        etags = self.details.setdefault("etags", {})
        key = f"created>={iso(self.lo)}"
        def query(lo: datetime | None, hi: datetime | None) -> dict:
            return {"per_page": PAGE, "created": f"{iso(lo)}..{iso(hi)}" if hi else f">={iso(lo)}"}

        try:
            runs, etag = list_runs(self.client, path, query, self.lo, None, cap=RUNS_RESULT_CAP, start=self.lo,
                                   now=self.now, what=f"{self.repo} workflow runs", etag=etags.get(key))
        except GitHubHTTPError as exc:
            if exc.status in (403, 404):
                # Actions disabled, or a token without "Actions: read": the other parts still sync.
                log.info("github %s: Actions runs not readable (%s); skipped", self.repo, exc.status)
                self.details["actions_unreadable"] = exc.status
                return [], False
            raise
        if runs is None:
            return [], False
        if etag:
            etags[key] = etag
        for k in [k for k in etags if k != key]:   # only the current window's tag is worth keeping
            etags.pop(k)
        return runs, True

    def _needs_read(self, run: dict) -> bool:
        stored = self.known.get(run_id(self.repo, run["id"]))
        done = run.get("updated_at") if run.get("status") == "completed" else None
        return stored != (int(run.get("run_attempt") or 1), run.get("status"), done)

    # -- rows ------------------------------------------------------------------------------------
    def _rows(self, runs: list[dict]) -> None:
        jobs_of = self._graphql_jobs([r for r in runs if r.get("node_id")])
        for run in runs:
            rid = run_id(self.repo, run["id"])
            latest = int(run.get("run_attempt") or 1)
            by_attempt = _split_attempts(jobs_of.get(run["id"], []), latest)
            for attempt in range(1, latest + 1):
                job_rows = [self._job_row(rid, attempt, run, j) for j in by_attempt.get(attempt, [])]
                self.result.jobs += job_rows
                if attempt == latest:
                    self.result.runs.append(self._run_row(run, attempt, job_rows))
                elif job_rows:
                    self.result.runs.append(self._earlier_attempt(run, attempt, job_rows))

    def _run_row(self, run: dict, attempt: int, job_rows: list[dict]) -> dict:
        completed = run.get("status") == "completed"
        started = [j["started_at"] for j in job_rows if j["started_at"]]
        queued = parse_time(run.get("run_started_at")) or parse_time(run.get("created_at"))
        return {"id": run_id(self.repo, run["id"]), "attempt": attempt, "repo": self.repo,
                "workflow": run.get("name") or run.get("path") or str(run.get("workflow_id")),
                "branch": run.get("head_branch"), "sha": run.get("head_sha"), "event": run.get("event"),
                "status": run.get("status"), "conclusion": run.get("conclusion") if completed else None,
                "created_at": parse_time(run.get("created_at")), "queued_at": queued,
                "started_at": min(started) if started else queued,
                "finished_at": parse_time(run.get("updated_at")) if completed else None,
                "url": run.get("html_url") + (f"/attempts/{attempt}" if attempt > 1 else "") if run.get("html_url") else None,
                "source": SOURCE}

    def _job_row(self, rid: str, attempt: int, run: dict, job: dict) -> dict:
        labels = self.labels.get(f"{run.get('workflow_id')}/{job['name']}")
        return {"run_id": rid, "attempt": attempt, "name": job["name"],
                "runner_os": runner_os_of(labels or [], None), "runner_labels": labels or [],
                "self_hosted": "self-hosted" in [x.lower() for x in labels or []],
                "queued_at": parse_time(job.get("created_at")), "started_at": parse_time(job.get("started_at")),
                "finished_at": parse_time(job.get("completed_at")), "conclusion": job.get("conclusion"),
                "url": job.get("html_url"), "source": SOURCE}

    def _graphql_jobs(self, runs: list[dict]) -> dict[int, list[dict]]:
        """Jobs of each run's latest attempt from its check suite, RUNS_PER_QUERY runs a request."""
        out: dict[int, list[dict]] = {}
        for i in range(0, len(runs), RUNS_PER_QUERY):
            chunk = [r["node_id"] for r in runs[i:i + RUNS_PER_QUERY]]
            parts = [chunk[k:k + NODE_IDS] for k in range(0, RUNS_PER_QUERY, NODE_IDS)]
            variables = {"a": parts[0], "b": parts[1], "c": parts[2], "withB": bool(parts[1]), "withC": bool(parts[2])}
            data, errors = self.client.graphql(JOBS_QUERY, variables, what=f"{self.repo} Actions jobs")
            if errors and not data:
                raise GitHubHTTPError(502, errors[0].get("message", "GraphQL error"), f"{self.repo} Actions jobs")
            for alias in ("a", "b", "c"):
                for node in (data or {}).get(alias) or []:
                    if not node:
                        continue
                    conn = ((node.get("checkSuite") or {}).get("checkRuns") or {})
                    if conn.get("totalCount", 0) > CHECK_RUNS:
                        log.info("github %s: run %s has %d jobs; the first %d are read", self.repo,
                                 node.get("databaseId"), conn["totalCount"], CHECK_RUNS)
                    out[node["databaseId"]] = [
                        {"id": c.get("databaseId"), "name": c["name"], "started_at": c.get("startedAt"), "completed_at": c.get("completedAt"),
                         "conclusion": (c.get("conclusion") or "").lower() or None, "html_url": c.get("detailsUrl")}
                        for c in conn.get("nodes") or [] if c]
        return out

    # -- REST job reads: labels, queue times, earlier attempts -------------------------------------
    def _rest_reads(self, read: list[dict]) -> None:
        """REST job reads, at most REST_JOB_READS: first one run per (workflow, job name) whose
        runner labels are unknown, then the newest runs (their jobs' queue times)."""
        names: dict[str, set[str]] = {}
        for j in self.result.jobs:
            names.setdefault(j["run_id"], set()).add(j["name"])
        chosen, covered = [], set()
        for run in read:
            keys = {f"{run.get('workflow_id')}/{n}" for n in names.get(run_id(self.repo, run["id"]), ())}
            missing = {k for k in keys if k not in self.labels} - covered
            if missing:
                chosen.append(run)
                covered |= missing
        rest = [r for r in read if r not in chosen and r.get("status") == "completed"]
        for run in (chosen + rest)[:REST_JOB_READS]:
            self._read_jobs(run["id"], run)

    def _fill_labels(self, runs: list[dict]) -> None:
        """Runner labels learned in this sync for the jobs read through GraphQL before them."""
        workflow_of = {run_id(self.repo, r["id"]): r.get("workflow_id") for r in runs}
        for j in self.result.jobs:
            if not j["runner_labels"]:
                labels = self.labels.get(f"{workflow_of.get(j['run_id'])}/{j['name']}")
                if labels:
                    j.update(runner_labels=list(labels), runner_os=runner_os_of(labels, None),
                             self_hosted="self-hosted" in [x.lower() for x in labels])

    def _read_jobs(self, ident: int, run: dict | None) -> None:
        path = f"/repos/{self.repo}/actions/runs/{ident}/jobs"
        try:
            resp = self.client.get(path, {"filter": "all", "per_page": PAGE}, what=f"{self.repo} run {ident} jobs")
        except GitHubHTTPError as exc:
            if exc.status == 404:   # the run was deleted since it was listed
                return
            raise
        jobs = list((resp.data or {}).get("jobs", []))
        next_url = next_link(resp.headers.get("link"))
        while next_url:
            resp = self.client.get(next_url, what=f"{self.repo} run {ident} jobs")
            jobs += (resp.data or {}).get("jobs", [])
            next_url = next_link(resp.headers.get("link"))
        rid = run_id(self.repo, ident)
        wf = (run or {}).get("workflow_id")
        for j in jobs:
            if wf is not None and j.get("labels"):
                self.labels[f"{wf}/{j['name']}"] = list(j["labels"])
        latest = max((int(j.get("run_attempt") or 1) for j in jobs), default=1)
        by_attempt: dict[int, list[dict]] = {}
        for j in jobs:
            by_attempt.setdefault(int(j.get("run_attempt") or 1), []).append(j)
        # The jobs read here replace those from GraphQL (same keys) and add what GraphQL lacks.
        self.result.jobs = [x for x in self.result.jobs if x["run_id"] != rid]
        self.result.runs = [x for x in self.result.runs if not (x["id"] == rid and x["attempt"] < latest)]
        for attempt, attempt_jobs in by_attempt.items():
            rows = []
            for j in attempt_jobs:
                labels = list(j.get("labels") or [])
                rows.append({"run_id": rid, "attempt": attempt, "name": j["name"],
                             "runner_os": runner_os_of(labels, None), "runner_labels": labels,
                             "self_hosted": "self-hosted" in [x.lower() for x in labels],
                             "queued_at": parse_time(j.get("created_at")), "started_at": parse_time(j.get("started_at")),
                             "finished_at": parse_time(j.get("completed_at")), "conclusion": j.get("conclusion"),
                             "url": j.get("html_url"), "source": SOURCE})
            self.result.jobs += rows
            if attempt < latest and run is not None:
                self.result.runs.append(self._earlier_attempt(run, attempt, rows))

    def _earlier_attempt(self, run: dict, attempt: int, jobs: list[dict]) -> dict:
        """An attempt GitHub's run listing no longer shows, rebuilt from its jobs."""
        conclusions = {j["conclusion"] for j in jobs}
        conclusion = next((c for c in ("failure", "timed_out", "startup_failure", "cancelled") if c in conclusions),
                          "success" if conclusions <= {"success", "skipped", "neutral"} else None)
        finished = [j["finished_at"] for j in jobs if j["finished_at"]]
        row = self._run_row(run, attempt, jobs)
        row.update(status="completed", conclusion=conclusion,
                   queued_at=min((j["queued_at"] for j in jobs if j["queued_at"]), default=row["created_at"]),
                   finished_at=max(finished) if finished else None)
        return row

    # -- cursor ----------------------------------------------------------------------------------
    def _cursor(self, runs: list[dict], changed: bool) -> None:
        if not changed:
            self.result.cursor = iso(self.cursor) if self.cursor else None
            return
        created = [parse_time(r.get("created_at")) for r in runs if r.get("created_at")]
        if not created:   # nothing listed yet: the next sync starts where this one did
            self.result.cursor = iso(self.cursor) if self.cursor else None
            return
        unfinished = [parse_time(r["created_at"]) for r in runs if r.get("status") != "completed"
                      and self.now - parse_time(r["created_at"]) < UNFINISHED_HORIZON]
        newest = max(created, default=None)
        bound = newest - RERUN_WINDOW if newest else self.lo
        bound = max(bound, self.lo)
        if unfinished:
            bound = min(bound, min(unfinished))
        self.result.cursor = iso(bound)


def _split_attempts(jobs: list[dict], latest: int) -> dict[int, list[dict]]:
    """Check runs of every attempt, to attempts: GitHub's check runs carry no attempt number, but
    each re-run repeats its jobs, so the k runs of one job name, oldest first, are its last k
    attempts (a job re-run alone appears only in the attempts that ran it)."""
    by_name: dict[str, list[dict]] = {}
    for j in jobs:
        by_name.setdefault(j["name"], []).append(j)
    out: dict[int, list[dict]] = {}
    for name, runs in by_name.items():
        runs = sorted(runs, key=lambda j: (j.get("started_at") or "", j.get("id") or 0))[-latest:]
        for k, j in enumerate(runs):
            out.setdefault(latest - len(runs) + 1 + k, []).append(j)
    return out
