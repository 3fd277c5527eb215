"""GitLab CI pipelines and their jobs → ``pipeline_runs`` / ``pipeline_jobs`` (issue 18's tables,
the definitions the GitHub Actions rows follow; docs/sources.md#gitlab).

Endpoints (REST v4):

* ``GET /projects/:id/pipelines?updated_after=&order_by=updated_at&sort=asc`` (100 a page). GitLab
  offers only offset pages here, and offset pages over a list ordered by ``updated_at`` skip a row
  whenever one that was already read is updated meanwhile (it moves to the end and the rest shift
  up). So each next page asks again from the newest ``updated_at`` read (``updated_after`` includes
  that instant; the ids already read there are skipped): a keyset walk on ``updated_at`` made of
  GitLab's own filter. Only when a whole page shares one instant does it move on with ``page=``.
* ``GET /projects/:id/jobs?pagination=keyset`` (newest first, 100 a page; retried jobs included):
  the jobs of the pipelines just read, walked from the newest until the oldest of those pipelines
  is passed. When reaching a pipeline that far back would cost more pages than asking for its jobs
  directly (a pipeline of last month retried today), the rest are read per pipeline with
  ``GET /projects/:id/pipelines/:pipeline_id/jobs?include_retried=true``. A GitLab that refuses
  keyset pagination on jobs gets offset pages instead.

Incremental: one cursor per project, scope ``GROUP/PROJECT:pipelines`` = the newest ``updated_at``
read. GitLab bumps a pipeline's ``updated_at`` on every status change, a job retried or played
included, so a pipeline still running is read again when it finishes, and its jobs with it. A
re-sync with nothing new costs one request (an empty page of pipelines) and no job request.

Mapping (GitLab retries jobs, not pipelines): a pipeline is one run, ``id`` =
``gitlab:GROUP/PROJECT:PIPELINE_ID``. A job's tries (same name, ordered by job id) are its
attempts 1, 2, ...; attempt *n* of the pipeline holds the *n*-th try of every job tried at least
*n* times. The last attempt takes the pipeline's own status; an earlier one is completed, and
failed when a job that counts (not ``allow_failure``) had failed by then — so a job that failed and
passed on retry makes the pipeline's attempt 1 a failure and attempt 2 a success on the same sha,
which is what the flaky rate counts.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from collectors.gitlab.client import PAGE, SOURCE, GitLabHTTPError, _next_link, iso, parse_time

if TYPE_CHECKING:
    from collectors.gitlab.fetch import ProjectFetcher

log = logging.getLogger(__name__)

PART = "pipelines"
MAX_PAGES = 100_000
# Jobs are created with their pipeline, but concurrent pipelines may interleave their job ids by a
# moment: the walk passes a pipeline only once a job older than it by this much is seen.
CREATION_SLACK = timedelta(minutes=5)
DEFAULT_CONFIG = ".gitlab-ci.yml"
HOSTED_HOSTS = ("gitlab.com", "www.gitlab.com")

# GitLab's pipeline/job status → (Cadence status, conclusion); docs/sources.md#gitlab.
FINISHED = {"success": "success", "failed": "failure", "canceled": "cancelled", "skipped": "skipped"}
WAITING = {"created": "queued", "waiting_for_resource": "queued", "preparing": "queued", "pending": "queued",
           "scheduled": "queued", "running": "in_progress", "canceling": "in_progress", "manual": "waiting"}
# GitLab's pipeline source → the event names the metrics know (pull-request runs give time to feedback).
EVENTS = {"merge_request_event": "merge_request", "external_pull_request_event": "pull_request"}
PLATFORMS = {"linux": "linux", "darwin": "macos", "macos": "macos", "osx": "macos", "windows": "windows"}


def run_id(project: str, pipeline_id) -> str:
    """``gitlab:group/app:1234``: source-qualified like GitHub's ``github:owner/repo:RUN_ID``."""
    return f"gitlab:{project}:{pipeline_id}"


def is_hosted(base_url: str) -> bool:
    """GitLab.com, whose instance runners are GitLab's (billed minutes); any other instance's
    runners are the organisation's own."""
    return (urllib.parse.urlsplit(base_url).hostname or "").lower() in HOSTED_HOSTS


# -- mapping (pure) -------------------------------------------------------------------------------

def runner_os(job: dict) -> str | None:
    """The OS the job ran on: the runner manager's platform (GitLab 16.x+), else a tag naming one
    (``saas-macos-medium-m1``, ``windows``), else linux for a job a runner took; None if none did."""
    manager = job.get("runner_manager") or {}
    platform = (manager.get("platform") or "").lower()
    if platform in PLATFORMS:
        return PLATFORMS[platform]
    for tag in job.get("tag_list") or ():
        low = str(tag).lower()
        if "macos" in low or "osx" in low or "darwin" in low:
            return "macos"
        if "windows" in low:
            return "windows"
    return "linux" if job.get("runner") or manager else None


def self_hosted(job: dict, hosted: bool) -> bool:
    """On GitLab.com a job is self-hosted unless an instance (shared) runner of GitLab's ran it; on a
    self-managed GitLab every runner is the organisation's own."""
    if not hosted:
        return True
    runner = job.get("runner")
    if not runner:
        return False
    shared = runner.get("is_shared")
    if shared is None:
        shared = runner.get("runner_type") == "instance_type"
    return not shared


def _job_conclusion(job: dict, pipeline_done: bool) -> str | None:
    status = (job.get("status") or "").lower()
    if status in FINISHED:
        return FINISHED[status]
    if status == "manual" and pipeline_done:
        return "skipped"      # a manual job nobody played in a finished pipeline never ran
    return None


def _job_queued_at(job: dict) -> datetime | None:
    """When the job entered the queue: its start less ``queued_duration`` (a job of a later stage is
    created with the pipeline but queued only when its stage comes). Unknown until it starts."""
    started = parse_time(job.get("started_at"))
    waited = job.get("queued_duration")
    if started is None:
        return None
    if isinstance(waited, (int, float)) and waited >= 0:
        return started - timedelta(seconds=float(waited))
    return parse_time(job.get("created_at"))


def pipeline_rows(project: str, pipeline: dict, jobs: list[dict], *, workflow: str,
                  hosted: bool) -> tuple[list[dict], list[dict]]:
    """One GitLab pipeline and all its jobs (retried ones too) → (run attempt rows, job rows)."""
    rid = run_id(project, pipeline["id"])
    status = (pipeline.get("status") or "").lower()
    done = status in FINISHED
    created = parse_time(pipeline.get("created_at"))
    tries: dict[str, list[dict]] = defaultdict(list)
    for job in sorted(jobs, key=lambda j: int(j["id"])):
        tries[job.get("name") or str(job["id"])].append(job)
    attempts = max((len(t) for t in tries.values()), default=1)

    job_rows = []
    by_attempt: dict[int, list[dict]] = defaultdict(list)
    for name, seq in tries.items():
        for n, job in enumerate(seq, start=1):
            row = {"run_id": rid, "attempt": n, "name": name, "runner_os": runner_os(job),
                   "runner_labels": [str(t) for t in job.get("tag_list") or ()],
                   "self_hosted": self_hosted(job, hosted), "queued_at": _job_queued_at(job),
                   "started_at": parse_time(job.get("started_at")),
                   "finished_at": parse_time(job.get("finished_at")),
                   "conclusion": _job_conclusion(job, done), "url": job.get("web_url"), "source": SOURCE}
            if row["conclusion"] is None:
                row["finished_at"] = None
            job_rows.append(row)
            by_attempt[n].append(row | {"allow_failure": bool(job.get("allow_failure")),
                                        "manual": (job.get("status") or "").lower() == "manual",
                                        "created_at": parse_time(job.get("created_at"))})

    base = {"id": rid, "repo": project, "workflow": workflow, "branch": pipeline.get("ref"),
            "sha": pipeline.get("sha"), "event": EVENTS.get(pipeline.get("source"), pipeline.get("source")),
            "created_at": created, "url": pipeline.get("web_url"), "source": SOURCE}
    runs = []
    for a in range(1, attempts + 1):
        own = by_attempt.get(a, [])
        latest: dict[str, dict] = {}     # the jobs as they stood at attempt a: each name's latest try
        for k in range(1, a + 1):
            for r in by_attempt.get(k, []):
                latest[r["name"]] = r
        current = list(latest.values())
        starts = [r["started_at"] for r in own if r["started_at"] is not None]
        if a == attempts:
            conclusion = FINISHED.get(status)
            run_status = "completed" if done else WAITING.get(status, status or None)
        else:
            conclusion = _attempt_conclusion(current)
            run_status = "completed" if conclusion else "in_progress"
        finishes = [r["finished_at"] for r in current if r["finished_at"] is not None]
        finished = None
        if conclusion is not None:
            finished = (parse_time(pipeline.get("finished_at")) if a == attempts else None) or (
                max(finishes) if finishes else parse_time(pipeline.get("updated_at")))
        queued = created if a == 1 else min((r["created_at"] for r in own if r["created_at"]), default=None)
        runs.append(base | {"attempt": a, "status": run_status, "conclusion": conclusion, "queued_at": queued,
                            "started_at": (parse_time(pipeline.get("started_at")) if a == 1 else None)
                            or (min(starts) if starts else None),
                            "finished_at": finished})
    return runs, job_rows


def _attempt_conclusion(current: list[dict]) -> str | None:
    """An earlier attempt's verdict from its jobs: a failed job that counts fails it (GitLab fails a
    pipeline so), else a cancelled one cancels it; unfinished jobs leave it open (a manual job
    nobody played does not: it may wait for ever)."""
    counted = [r for r in current if not r["allow_failure"]]
    if any(r["conclusion"] == "failure" for r in counted):
        return "failure"
    if any(r["conclusion"] == "cancelled" for r in counted):
        return "cancelled"
    if any(r["conclusion"] is None and not r["manual"] for r in current):
        return None
    return "success"


# -- reading (REST) -------------------------------------------------------------------------------

def read_pipelines(f: ProjectFetcher) -> None:
    """The project's pipelines updated since the cursor, with all their jobs, into ``f.result``."""
    project_id = f.project["id"]
    since = f.plan.cursors.get(PART) or iso(f.settings.since)
    read: dict[int, dict] = {}
    after, page_no = since, 1
    for _ in range(MAX_PAGES):
        params = {"order_by": "updated_at", "sort": "asc", "per_page": PAGE}
        if after:
            params["updated_after"] = after
        if page_no > 1:
            params["page"] = page_no
        try:
            resp = f.client.get(f"/projects/{project_id}/pipelines", params, what=f'pipelines of "{f.path}"')
        except GitLabHTTPError as exc:
            if exc.status not in (403, 404) or read or page_no > 1 or after != since:
                raise
            # CI/CD switched off for the project (GitLab answers 403), or the token's user may not
            # see pipelines: the project's other parts still land; Data health says why
            f.result.skipped[PART] = (
                f'GitLab refused the pipelines of "{f.path}" ({exc.status} {exc.message or "Forbidden"}): CI/CD '
                "is off for the project, or the token's user lacks Reporter access; its merge requests, "
                "deployments and incidents are synced")
            log.info("gitlab %s: %s", f.path, f.result.skipped[PART])
            return
        f._page(PART)
        page = resp.data or []
        for p in page:
            updated = parse_time(p.get("updated_at"))
            rid = run_id(f.path, p["id"])
            if f._seen_before(PART, updated, rid):
                f._note(PART, updated, rid)
                continue
            known = read.get(p["id"])
            if known is not None and parse_time(known.get("updated_at")) == updated:
                continue      # read on the previous page at the same instant
            f._note(PART, updated, rid)
            read[p["id"]] = p
        if len(page) < PAGE:
            break
        newest = iso(max(parse_time(p.get("updated_at")) for p in page))
        if newest == after:
            page_no += 1      # a whole page at one instant: move on within it
        else:
            after, page_no = newest, 1
    if not read:
        return
    jobs = _read_jobs(f, read)
    workflow_default = (f.project.get("ci_config_path") or DEFAULT_CONFIG)
    hosted = is_hosted(f.settings.base_url)
    runs_n = jobs_n = 0
    for pid, p in read.items():
        workflow = p.get("name") or workflow_default
        if p.get("source") == "parent_pipeline":
            workflow += " (child)"      # a child pipeline's verdict is its own; keep it apart
        runs, job_rows = pipeline_rows(f.path, p, jobs.get(pid, []), workflow=workflow, hosted=hosted)
        for r in runs:
            f.result.add("pipeline_runs", r)
        for j in job_rows:
            f.result.add("pipeline_jobs", j)
        runs_n += len(runs)
        jobs_n += len(job_rows)
    f.progress(f.path, f"{len(read)} pipelines: {runs_n} attempts, {jobs_n} jobs", "page")


def _read_jobs(f: ProjectFetcher, pipelines: dict[int, dict]) -> dict[int, list[dict]]:
    """All jobs of ``pipelines``: the project's job list walked newest first while that is the
    cheaper way, then per pipeline for those left (module docstring)."""
    project_id = f.project["id"]
    created = {pid: parse_time(p.get("created_at")) for pid, p in pipelines.items()}
    pending = set(pipelines)
    found: dict[int, list[dict]] = defaultdict(list)
    what = f'jobs of "{f.path}"'
    params = {"pagination": "keyset", "per_page": PAGE}
    try:
        resp = f.client.get(f"/projects/{project_id}/jobs", params, what=what)
    except GitLabHTTPError as exc:
        if exc.status not in (400, 405) or "keyset" not in (exc.message or "").lower():
            raise
        log.info("gitlab %s: this GitLab has no keyset pagination for jobs; using offset pages", f.path)
        resp = f.client.get(f"/projects/{project_id}/jobs", {"per_page": PAGE}, what=what)
    pages, start = 0, None
    while True:
        pages += 1
        f._page("pipeline_jobs")
        page = resp.data or []
        times = [t for t in (parse_time(j.get("created_at")) for j in page) if t is not None]
        for job in page:
            pid = (job.get("pipeline") or {}).get("id")
            if pid in pending:
                found[pid].append(job)
        nxt = _next_link(resp.headers.get("Link") or resp.headers.get("link"))
        if not nxt or not page:
            pending.clear()           # the whole list read: every job there is has been seen
            break
        oldest = min(times) if times else None
        if start is None and times:
            # the first page's median creation: a retry in an old pipeline (a new job, far newer than
            # the rest) must not make a page look like it covers months
            start = sorted(times)[len(times) // 2]
        if oldest is not None:
            pending -= {pid for pid in pending if created[pid] is None or oldest < created[pid] - CREATION_SLACK}
        if not pending:
            break
        if oldest is not None and start is not None and start > oldest:
            per_page = (start - oldest) / (pages - 0.5)
            target = min(created[pid] for pid in pending) - CREATION_SLACK
            if (oldest - target) / per_page > len(pending):
                break                 # walking back that far costs more than one request per pipeline
        resp = f.client.get(nxt, what=what)
    for pid in sorted(pending):
        found[pid] = []
        for page in f.client.pages(f"/projects/{project_id}/pipelines/{pid}/jobs",
                                   {"include_retried": "true", "per_page": PAGE},
                                   what=f'jobs of pipeline {pid} of "{f.path}"'):
            f._page("pipeline_jobs")
            found[pid].extend(page)
    return found
