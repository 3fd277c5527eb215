"""Reading one GitLab project: its parts, each a small declaration (``Part``) and a reader that
hides pagination. No database access here: ``ProjectFetcher.fetch`` returns a ``ProjectResult``
that ``collectors.gitlab.sync`` writes in one transaction.

Parts today: ``merge_requests`` and ``incidents`` (GraphQL, sharing one request per round),
``deployments`` (REST, per production environment, or releases) and ``pipelines`` (REST
``/projects/:id/pipelines?updated_after=`` with their jobs from the keyset-paginated
``/projects/:id/jobs``, filling ``pipeline_runs`` and ``pipeline_jobs``; ``pipelines.py``). The
writer upserts whatever tables a part fills.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cadence.core.errors import SourceAuthError, SourceError
from cadence.core.settings.gitlab import GitLabSettings, ProjectSettings
from collectors.gitlab.client import (PAGE, SOURCE, GitLabClient, GitLabHTTPError, GraphQLRejected, encode_path, iso,
                                     parse_time)
from collectors.gitlab.pipelines import read_pipelines
from collectors.gitlab.queries import (
    NOTES_FIRST,
    NOTES_QUERY,
    PROJECT_QUERY,
    deployed_merge_requests_query,
)

log = logging.getLogger(__name__)

RESYNC_MR_PAGE = 25          # a re-sync's first merge request page: usually little is new
MIN_PAGE = 5                 # smallest page tried when GitLab finds a query too complex
RELATION_BATCH = 20          # deployments whose merge requests one GraphQL query asks for
COMPARE_LIMIT = 30           # commit-range look-ups per project and run; the rest wait for the next
MAX_ROUNDS = 100_000
MAX_FLAGS = 200
REVIEW_SYSTEM_NOTES = ("approved this merge request", "requested changes")

# A deployment's status in GitLab -> Cadence's (docs/ingest.md); "skipped" is not an attempt.
DEPLOYMENT_STATUS = {"success": "success", "failed": "failure", "canceled": "cancelled",
                     "created": "in_progress", "running": "in_progress", "blocked": "in_progress"}

ProgressFn = Callable[[str, str, str], None]


# -- ids and times --------------------------------------------------------------------------------

def change_id(project: str, iid) -> str:
    """``gitlab:group/app!42``: GitLab writes a merge request reference as ``group/app!42``."""
    return f"gitlab:{project}!{iid}"


def deployment_id(project: str, kind: str, ident) -> str:
    return f"gitlab:{project}:{kind}:{ident}"


def incident_id(project: str, iid) -> str:
    return f"gitlab:{project}:issue:{iid}"


# -- errors ---------------------------------------------------------------------------------------

class ProjectFailure(SourceError):
    """One project could not be synced (moved, archived, a persistent error); the others carry on."""


class ProjectAccessError(SourceAuthError):
    """The token cannot read (part of) one project; the others carry on."""


# -- plan and result ------------------------------------------------------------------------------

@dataclass
class ProjectPlan:
    """What a project's sync starts from: cursors and saved details, and what the commit-range
    fallback needs from earlier runs (merge commits of known changes, successful deployments)."""

    path: str
    settings: ProjectSettings
    cursors: dict[str, str | None]
    details: dict
    change_shas: dict[str, set[str]] = field(default_factory=dict)         # change id -> its shas
    successes: list[dict] = field(default_factory=list)                    # earlier successful prod deployments


@dataclass
class ProjectResult:
    path: str
    rows: dict[str, list[dict]] = field(default_factory=dict)              # table -> rows to upsert
    links: list[tuple[str, str]] = field(default_factory=list)             # (deployment id, change id)
    cursors: dict[str, str | None] = field(default_factory=dict)           # part scope suffix -> cursor
    details: dict = field(default_factory=dict)
    flags: list[dict] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)                 # part -> why GitLab cannot serve it
    requests: int = 0
    pages: dict[str, int] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        self.rows.setdefault(table, []).append(row)


@dataclass(frozen=True)
class Part:
    """One kind of thing read from a project: its sync_state scope (``PROJECT:name``), the tables it
    fills, the API and cursor it uses, and its reader (None: read by the shared GraphQL rounds)."""

    name: str
    tables: tuple[str, ...]
    api: str
    cursor: str
    read: Callable[[ProjectFetcher], None] | None = None


# -- the fetcher ----------------------------------------------------------------------------------

class ProjectFetcher:
    """Reads one project's new data; pages of every part, then the deployment → change links."""

    def __init__(self, client: GitLabClient, settings: GitLabSettings, plan: ProjectPlan,
                 production: tuple[str, ...], *, now: datetime, progress: ProgressFn | None = None):
        self.client = client
        self.settings = settings
        self.plan = plan
        self.path = plan.path
        self.production = {e.lower() for e in production}
        self.now = now
        self.progress = progress or (lambda scope, msg, state: None)
        self.result = ProjectResult(plan.path)
        self.details = dict(plan.details)
        self.service = plan.settings.service or plan.path.rsplit("/", 1)[-1]
        self.project: dict = {}
        self.environments: list[dict] = []       # {"name", "tier"} from GraphQL
        self.max_seen: dict[str, datetime] = {}
        self.at_max: dict[str, set[str]] = {}    # ids updated exactly at max_seen (re-read next time)
        self.seen_changes: dict[str, dict] = {}  # change id -> row, this run
        self.new_successes: list[dict] = []      # successful prod deployments first seen as such now
        self._known_successes = {s["id"] for s in plan.successes}
        self._incident_ids: set[str] = set()
        self.started_requests = client.thread_requests

    # -- the run ------------------------------------------------------------------------------------
    def fetch(self) -> ProjectResult:
        self._read_project()
        self._graphql_rounds()
        for part in PARTS:
            if part.read is not None:
                part.read(self)
        self._links()
        self._cursors()
        self.result.requests = self.client.thread_requests - self.started_requests
        return self.result

    def _page(self, part: str) -> None:
        self.result.pages[part] = self.result.pages.get(part, 0) + 1

    def _note(self, part: str, when: datetime | None, ident: str) -> None:
        """Track the newest update time read per part, and which objects carry it."""
        if when is None:
            return
        best = self.max_seen.get(part)
        if best is None or when > best:
            self.max_seen[part] = when
            self.at_max[part] = {ident}
        elif when == best:
            self.at_max[part].add(ident)

    def _seen_before(self, part: str, when: datetime | None, ident: str) -> bool:
        """GitLab's ``updated_after`` includes the cursor's instant: what was read at exactly that
        instant last time comes back, unchanged, and is skipped (never read again)."""
        boundary = (self.details.get("boundary") or {}).get(part) or {}
        return bool(boundary) and iso(when) == boundary.get("at") and ident in set(boundary.get("ids") or ())

    # -- the project itself (REST) --------------------------------------------------------------------
    def _read_project(self) -> None:
        cached = self.details.get("project") or {}
        try:
            resp = self.client.get(f"/projects/{encode_path(self.path)}",
                                   etag=self.details.get("project_etag") if cached.get("id") else None,
                                   what=f'project "{self.path}"')
        except GitLabHTTPError as exc:
            if exc.status == 404:
                raise ProjectAccessError(
                    f'Project "{self.path}" not found, or the token cannot read it; check the path in '
                    "[sources.gitlab] projects (as in the project's URL) and that the token's user is a "
                    "member of the project with at least Reporter access (token scope read_api).") from None
            if exc.status == 403:
                raise ProjectAccessError(
                    f'The token may not read project "{self.path}" ({exc.message or "403 Forbidden"}); give '
                    "it the read_api scope, and its user Reporter access to the project.") from None
            raise
        if resp.status == 304 and cached:
            project = cached
        else:
            body = resp.data or {}
            project = {k: body.get(k) for k in ("id", "path_with_namespace", "default_branch", "archived",
                                                "web_url", "path", "ci_config_path")}
            etag = resp.headers.get("ETag") or resp.headers.get("etag")
            if etag:
                self.details["project_etag"] = etag
        actual = project.get("path_with_namespace") or self.path
        if actual.lower() != self.path.lower():
            raise ProjectFailure(
                f'Project "{self.path}" has moved to "{actual}"; update [sources.gitlab] projects (rows already '
                f'synced stay under "{self.path}").')
        if project.get("archived"):
            raise ProjectFailure(
                f'Project "{self.path}" is archived: Cadence does not read archived projects (nothing new can '
                "happen there) and keeps the rows synced before; remove it from [sources.gitlab] projects, "
                "or unarchive it.")
        self.project = project
        self.details["project"] = project
        # what the pipeline metrics take as this repo's default branch (sync_state details, as GitHub's)
        self.details["default_branch"] = project.get("default_branch")

    # -- GraphQL rounds: environments, merge requests, incidents --------------------------------------
    def _graphql_rounds(self) -> None:
        c = self.plan.cursors
        since = iso(self.settings.since)
        active = {"envs": True, "mrs": bool(self.project.get("default_branch")), "incidents": True,
                  "labelled": bool(self.settings.incident_label)}
        after: dict[str, str | None] = dict.fromkeys(active)
        limit = PAGE          # halved while GitLab finds the query too complex, for the rest of the project
        mr_first = PAGE if not c.get("merge_requests") else RESYNC_MR_PAGE
        self._needs_notes: list[tuple[str, str | None]] = []
        self._needs_squash: list[str] = []
        envs: list[dict] = []
        for round_no in range(MAX_ROUNDS):
            variables = {
                "fullPath": self.path,
                "branches": [self.project["default_branch"]] if self.project.get("default_branch") else None,
                "withEnvs": active["envs"], "envAfter": after["envs"],
                "withMrs": active["mrs"], "mrFirst": mr_first, "mrAfter": after["mrs"],
                "mrSince": c.get("merge_requests") or since, "notesFirst": NOTES_FIRST,
                "withIncidents": active["incidents"], "issueFirst": limit, "incAfter": after["incidents"],
                "incSince": c.get("incidents") or since,
                "withLabelled": active["labelled"], "labAfter": after["labelled"],
                "labels": [self.settings.incident_label] if self.settings.incident_label else None,
            }
            what = f'project "{self.path}" (GraphQL page {round_no + 1})'
            try:
                data, errors = self.client.graphql(PROJECT_QUERY, variables, what=what)
            except GraphQLRejected as exc:
                if exc.too_complex and limit > MIN_PAGE:
                    limit = max(MIN_PAGE, min(limit, mr_first) // 2)
                    mr_first = min(mr_first, limit)
                    log.info("gitlab %s: query too complex for GitLab; asking %d merge requests and issues a "
                             "page", self.path, limit)
                    continue
                raise
            if errors:
                self._graphql_errors(errors, what)
            project = data.get("project")
            if project is None:
                raise ProjectAccessError(
                    f'GitLab\'s GraphQL API shows no project "{self.path}" to this token although REST does; '
                    "check the token's read_api scope.")
            if active["envs"]:
                conn = project.get("environments") or {}
                envs += [n for n in conn.get("nodes") or [] if n]
                active["envs"], after["envs"] = self._advance(conn, "environments")
            if active["mrs"]:
                conn = project.get("mergeRequests") or {}
                for node in conn.get("nodes") or []:
                    if node:
                        self._merge_request(node)
                active["mrs"], after["mrs"] = self._advance(conn, "merge_requests")
                mr_first = limit
            for key in ("incidents", "labelled"):
                if active[key]:
                    conn = project.get(key) or {}
                    for node in conn.get("nodes") or []:
                        if node:
                            self._incident(node)
                    active[key], after[key] = self._advance(conn, "incidents")
            self.progress(self.path, f"page {round_no + 1}: {len(self.result.rows.get('changes', []))} changes, "
                                     f"{len(self.result.rows.get('incidents', []))} incidents", "page")
            if not any(active.values()):
                break
        self.environments = envs
        self._squash_commits()
        self._remaining_notes()

    def _advance(self, conn: dict, part: str) -> tuple[bool, str | None]:
        self._page(part)
        info = conn.get("pageInfo") or {}
        return bool(info.get("hasNextPage")), info.get("endCursor")

    def _graphql_errors(self, errors: list[dict], what: str) -> None:
        messages = "; ".join(str(e.get("message", ""))[:200] for e in errors[:3])
        if any("permission" in str(e.get("message", "")).lower() or "not have" in str(e.get("message", "")).lower()
               for e in errors):
            raise ProjectAccessError(f"The token may not read part of {what}: {messages}; give it the read_api "
                                     "scope and its user Reporter access to the project.")
        raise ProjectFailure(f"GitLab's GraphQL API returned errors for {what}: {messages}; nothing of this "
                             "project was written and its cursors did not move; re-run later.")

    # -- merge requests -----------------------------------------------------------------------------
    def _merge_request(self, n: dict) -> None:
        updated = parse_time(n.get("updatedAt"))
        cid = change_id(self.path, n["iid"])
        if self._seen_before("merge_requests", updated, cid):
            self._note("merge_requests", updated, cid)
            return
        self._note("merge_requests", updated, cid)
        if n.get("targetBranch") and n["targetBranch"] != self.project.get("default_branch"):
            return
        author = (n.get("author") or {}).get("username")
        commits = [parse_time(c.get("authoredDate"))
                   for key in ("oldestEnd", "newestEnd")
                   for c in ((n.get(key) or {}).get("nodes") or []) if c and c.get("authoredDate")]
        notes = n.get("notes") or {}
        first_review = _first_review(notes.get("nodes") or [], author)
        if first_review is None and (notes.get("pageInfo") or {}).get("hasNextPage"):
            self._needs_notes.append((str(n["iid"]), author))
        merge_sha = n.get("mergeCommitSha")
        if not merge_sha and n.get("squashOnMerge"):
            self._needs_squash.append(str(n["iid"]))    # fast-forward squash: REST has the squash commit
        row = {"id": cid, "repo": self.path, "number": int(n["iid"]), "title": n.get("title"),
               "author": author,
               "labels": [lb["title"] for lb in ((n.get("labels") or {}).get("nodes") or []) if lb],
               "first_commit_at": min(commits) if commits else None,
               "opened_at": parse_time(n.get("createdAt")), "first_review_at": first_review,
               "merged_at": parse_time(n.get("mergedAt")),
               "merge_sha": merge_sha or (None if n.get("squashOnMerge") else n.get("diffHeadSha")),
               "url": n.get("webUrl"), "source": SOURCE}
        self.result.add("changes", row)
        self.seen_changes[cid] = row

    def _squash_commits(self) -> None:
        """Merge requests squashed and fast-forwarded have no merge commit; their commit on the
        default branch is the squash commit, which only REST carries (one list per 100)."""
        todo = self._needs_squash
        by_iid = {str(r["number"]): r for r in self.result.rows.get("changes", [])}
        for i in range(0, len(todo), PAGE):
            chunk = todo[i:i + PAGE]
            params = {"iids[]": chunk, "state": "merged", "per_page": PAGE}
            for page in self.client.pages(f"/projects/{self.project['id']}/merge_requests", params,
                                          what=f'squash commits of "{self.path}"'):
                self._page("merge_requests")
                for mr in page:
                    row = by_iid.get(str(mr.get("iid")))
                    if row is not None:
                        row["merge_sha"] = mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or mr.get("sha")

    def _remaining_notes(self) -> None:
        """Merge requests whose first NOTES_FIRST notes hold no review: read the rest of them."""
        rows = {str(r["number"]): r for r in self.result.rows.get("changes", [])}
        for iid, author in self._needs_notes:
            after, found = None, None
            while True:
                data, errors = self.client.graphql(NOTES_QUERY, {"fullPath": self.path, "iid": iid, "after": after},
                                                   what=f"notes of {self.path}!{iid}")
                if errors:
                    self._graphql_errors(errors, f"notes of {self.path}!{iid}")
                conn = (((data.get("project") or {}).get("mergeRequest") or {}).get("notes") or {})
                self._page("merge_requests")
                found = _first_review(conn.get("nodes") or [], author)
                info = conn.get("pageInfo") or {}
                if found or not info.get("hasNextPage"):
                    break
                after = info.get("endCursor")
            rows[iid]["first_review_at"] = found

    # -- incidents ------------------------------------------------------------------------------------
    def _incident(self, n: dict) -> None:
        updated = parse_time(n.get("updatedAt"))
        iid_ = incident_id(self.path, n["iid"])
        if self._seen_before("incidents", updated, iid_) or iid_ in self._incident_ids:
            self._note("incidents", updated, iid_)     # (an incident may also carry incident_label)
            return
        self._note("incidents", updated, iid_)
        self._incident_ids.add(iid_)
        labels = [lb["title"] for lb in ((n.get("labels") or {}).get("nodes") or []) if lb]
        prefix = self.settings.service_label_prefix.lower()
        sev_prefix = self.settings.severity_label_prefix.lower()
        service = next((lb[len(prefix):].strip() for lb in labels
                        if lb.lower().startswith(prefix) and lb[len(prefix):].strip()), self.service)
        severity = (n.get("severity") or "").lower()
        if severity in ("", "unknown"):
            severity = next((lb[len(sev_prefix):].strip() for lb in labels
                             if lb.lower().startswith(sev_prefix) and lb[len(sev_prefix):].strip()), None)
        self.result.add("incidents", {
            "id": iid_, "service": service, "repo": self.path, "title": n.get("title"), "severity": severity,
            "created_at": parse_time(n.get("createdAt")),
            "resolved_at": parse_time(n.get("closedAt")) if (n.get("state") or "").lower() == "closed" else None,
            "url": n.get("webUrl"), "source": SOURCE})

    # -- deployments (REST) --------------------------------------------------------------------------
    def production_environments(self) -> list[str]:
        """This project's production environments: the configured list, else those of tier
        production or named in ``production_environments``."""
        if self.plan.settings.environments:
            wanted = set(self.plan.settings.environments)
            return sorted({e["name"] for e in self.environments if e["name"].lower() in wanted} | (
                wanted - {e["name"].lower() for e in self.environments}))
        return sorted({e["name"] for e in self.environments
                       if (e.get("tier") or "").lower() == "production" or e["name"].lower() in self.production})

    def signal(self) -> str:
        chosen = self.plan.settings.deployments
        if chosen == "auto":
            chosen = "environments" if self.production_environments() else "releases"
        self.details["signal"] = chosen
        return chosen

    def read_deployments(self) -> None:
        if self.signal() == "releases":
            self._releases()
            return
        envs = self.production_environments()
        self.details["production_environments"] = envs
        for env in envs:
            if env.lower() not in self.production and not self.plan.settings.environments:
                self._flag("environment_not_counted", env,
                           f'environment "{env}" has GitLab tier production but is not in production_environments: '
                           "its deployments are synced, and the metrics count them once you add it there")
        for env in envs:
            part = f"deployments:{env}"
            since = self.plan.cursors.get(part) or iso(self.settings.since)
            params = {"environment": env, "order_by": "updated_at", "sort": "asc", "per_page": PAGE}
            if since:
                params["updated_after"] = since
            for page in self.client.pages(f"/projects/{self.project['id']}/deployments", params,
                                          what=f'deployments of "{self.path}" to {env}'):
                self._page(part)
                for d in page:
                    self._deployment(d, part)
            self.progress(self.path, f"{env}: {len(self.result.rows.get('deployments', []))} deployments", "page")

    def _deployment(self, d: dict, part: str) -> None:
        updated = parse_time(d.get("updated_at"))
        did = deployment_id(self.path, "deployment", d["id"])
        if self._seen_before(part, updated, did):
            self._note(part, updated, did)
            return
        self._note(part, updated, did)
        status = DEPLOYMENT_STATUS.get((d.get("status") or "").lower())
        if status is None:
            return
        job = d.get("deployable") or {}
        env = (d.get("environment") or {}).get("name") or part.split(":", 1)[1]
        finished = parse_time(job.get("finished_at"))
        if finished is None and status in ("success", "failure", "cancelled"):
            finished = updated
        web = self.project.get("web_url")
        row = {"id": did, "repo": self.path, "service": self.service, "environment": env, "sha": d.get("sha"),
               "status": status, "started_at": parse_time(job.get("started_at")) or parse_time(d.get("created_at")),
               "finished_at": finished if status != "in_progress" else None,
               "url": f"{web}/-/jobs/{job['id']}" if web and job.get("id") else None, "source": SOURCE}
        self.result.add("deployments", row)
        if status == "success" and did not in self._known_successes:
            self.new_successes.append({"id": did, "number": int(d["id"]), "environment": env,
                                       "sha": d.get("sha"), "order": int(d["id"])})

    def _releases(self) -> None:
        """Published releases as deployments (no production environment in the project)."""
        env = self.plan.settings.environment or sorted(self.production, key=lambda e: e != "production")[0]
        cursor = parse_time(self.plan.cursors.get("releases")) or self.settings.since
        params = {"order_by": "released_at", "sort": "desc", "per_page": PAGE}
        for page in self.client.pages(f"/projects/{self.project['id']}/releases", params,
                                      what=f'releases of "{self.path}"'):
            self._page("releases")
            done = False
            for rel in page:
                released = parse_time(rel.get("released_at"))
                if cursor is not None and released is not None and released < cursor:
                    done = True
                    break
                did = deployment_id(self.path, "release", rel.get("tag_name"))
                if self._seen_before("releases", released, did):
                    self._note("releases", released, did)
                    continue
                self._note("releases", released, did)
                if rel.get("upcoming_release") or released is None or released > self.now:
                    continue
                sha = (rel.get("commit") or {}).get("id")
                self.result.add("deployments", {
                    "id": did, "repo": self.path, "service": self.service, "environment": env, "sha": sha,
                    "status": "success", "started_at": parse_time(rel.get("created_at")) or released,
                    "finished_at": released, "url": ((rel.get("_links") or {}).get("self")), "source": SOURCE})
                if did not in self._known_successes:
                    self.new_successes.append({"id": did, "number": None, "environment": env, "sha": sha,
                                               "order": released.timestamp()})
            if done:
                break

    # -- which deployment shipped which change ---------------------------------------------------------
    def _links(self) -> None:
        """GitLab's own record (the merge requests of a deployment) for each newly successful
        production deployment; where it has none, the commit range since the environment's
        previous successful deployment (REST compare), matched on the changes' merge commits."""
        pending = [p for p in (self.details.get("pending_links") or [])
                   if p["id"] not in {s["id"] for s in self.new_successes}]
        todo = pending + self.new_successes
        if not todo:
            self.details["pending_links"] = []
            return
        found: dict[str, list[str]] = {}
        numbered = [t for t in todo if t.get("number") is not None]
        if numbered and self.details.get("relation") != "unavailable":
            found = self._deployed_merge_requests(numbered)
        compares = 0
        deferred = []
        for t in todo:
            iids = found.get(t["id"]) or []
            if iids:
                self.result.links += [(t["id"], change_id(self.path, i)) for i in iids]
                continue
            prev = self._previous_success(t)
            if prev is None or not prev.get("sha") or not t.get("sha"):
                continue      # the environment's first deployment: nothing to compare against
            if prev["sha"] == t["sha"]:
                continue      # a redeploy of the same commit ships nothing new
            if compares >= COMPARE_LIMIT:
                deferred.append(t)
                continue
            compares += 1
            shas = self._compare(prev["sha"], t["sha"])
            if shas is None:
                continue
            for cid, change_shas in self._all_change_shas().items():
                if change_shas & shas:
                    self.result.links.append((t["id"], cid))
        if deferred:
            self._flag("compare_deferred", deferred[0]["id"],
                       f"more than {COMPARE_LIMIT} deployments need a commit range; "
                       f"{len(deferred)} are linked on the next run")
        self.details["pending_links"] = deferred

    def _deployed_merge_requests(self, todo: list[dict]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        batch = RELATION_BATCH
        queue = [(t, None) for t in todo]
        while queue:
            chunk, queue = queue[:batch], queue[batch:]
            variables: dict[str, Any] = {"fullPath": self.path}
            for i, (t, cursor) in enumerate(chunk):
                variables[f"d{i}"] = str(t["number"])
                variables[f"a{i}"] = cursor
            what = f'merge requests of deployments of "{self.path}"'
            try:
                data, errors = self.client.graphql(deployed_merge_requests_query(len(chunk)), variables, what=what)
            except GraphQLRejected as exc:
                if exc.too_complex and batch > 1:
                    queue = chunk + queue
                    batch = max(1, batch // 2)
                    continue
                if any("deploymentId" in m for m in exc.messages):
                    # GitLab before 17.1 has no deploymentId filter in GraphQL: use commit ranges.
                    log.info("gitlab %s: this GitLab cannot list a deployment's merge requests over GraphQL; "
                             "using commit ranges", self.path)
                    self.details["relation"] = "unavailable"
                    return out
                raise
            if errors:
                self._graphql_errors(errors, what)
            self._page("deployment_changes")
            project = data.get("project") or {}
            for i, (t, _cursor) in enumerate(chunk):
                conn = project.get(f"d{i}") or {}
                out.setdefault(t["id"], []).extend(str(n["iid"]) for n in conn.get("nodes") or [] if n)
                info = conn.get("pageInfo") or {}
                if info.get("hasNextPage"):
                    queue.append((t, info.get("endCursor")))
        return out

    def _previous_success(self, t: dict) -> dict | None:
        """The environment's latest successful deployment before ``t`` (GitLab's order: id; releases:
        release time)."""
        candidates = [s for s in self.plan.successes + self.new_successes
                      if s["environment"] == t["environment"] and s["order"] < t["order"]]
        return max(candidates, key=lambda s: s["order"]) if candidates else None

    def _all_change_shas(self) -> dict[str, set[str]]:
        shas = {cid: set(v) for cid, v in self.plan.change_shas.items()}
        for cid, row in self.seen_changes.items():
            shas[cid] = {row["merge_sha"]} if row.get("merge_sha") else set()
        return shas

    def _compare(self, base: str, head: str) -> set[str] | None:
        try:
            resp = self.client.get(f"/projects/{self.project['id']}/repository/compare",
                                   {"from": base, "to": head, "straight": "false"},
                                   what=f'compare {base[:12]}...{head[:12]} of "{self.path}"')
        except GitLabHTTPError as exc:
            self._flag("compare_failed", head, f"cannot compare {base[:12]}...{head[:12]} ({exc.status} "
                                               f"{exc.message}); the deployment of {head[:12]} is not linked")
            return None
        self._page("deployment_changes")
        return {c.get("id") for c in ((resp.data or {}).get("commits") or []) if c.get("id")}

    def _flag(self, kind: str, ref: str, message: str) -> None:
        log.warning("gitlab %s: %s", self.path, message)
        self.result.flags.append({"kind": kind, "ref": ref, "message": message})

    # -- cursors ------------------------------------------------------------------------------------
    def _cursors(self) -> None:
        r, c = self.result, self.plan.cursors
        boundary = dict(self.details.get("boundary") or {})
        # every part that read something (a new part's cursor needs nothing more), and the old cursors
        for part in sorted(set(self.max_seen) | {p for p, v in c.items() if v is not None}):
            seen, old = self.max_seen.get(part), parse_time(c.get(part))
            best = max([t for t in (seen, old) if t is not None], default=None)
            r.cursors[part] = iso(best)
            if seen is not None and (old is None or seen >= old):
                boundary[part] = {"at": iso(seen), "ids": sorted(self.at_max.get(part, ()))}
        for env in self.details.get("production_environments") or []:
            r.cursors.setdefault(f"deployments:{env}", c.get(f"deployments:{env}"))
        self.details["boundary"] = boundary
        self.details["flags"] = ((self.details.get("flags") or []) + r.flags)[-MAX_FLAGS:]
        r.details = self.details


def _first_review(notes: list[dict], author: str | None) -> datetime | None:
    """The first approval or note by someone other than the author (system notes other than an
    approval or a change request are GitLab's own activity, not a review). GitLab lists a
    noteable's notes oldest first, so the first page holds the earliest ones."""
    times = []
    for n in notes:
        if not n or not n.get("createdAt"):
            continue
        who = (n.get("author") or {}).get("username")
        if author is not None and who == author:
            continue
        if n.get("system") and not (n.get("body") or "").strip().lower().startswith(REVIEW_SYSTEM_NOTES):
            continue
        times.append(parse_time(n["createdAt"]))
    return min(times) if times else None


def _read_pipelines(fetcher: ProjectFetcher) -> None:
    read_pipelines(fetcher)


PARTS: tuple[Part, ...] = (
    Part("merge_requests", ("changes",), "graphql", "latest updatedAt read (sort UPDATED_ASC, updatedAfter)"),
    Part("incidents", ("incidents",), "graphql", "latest updatedAt read (issues of type INCIDENT, and incident_label)"),
    Part("deployments", ("deployments", "deployment_changes"), "rest",
         "per production environment: latest updated_at read (order_by=updated_at, updated_after)",
         ProjectFetcher.read_deployments),
    Part("pipelines", ("pipeline_runs", "pipeline_jobs"), "rest",
         "latest updated_at read (order_by=updated_at, updated_after); jobs of the pipelines read",
         _read_pipelines),
)
