"""Reading one repository: the GraphQL rounds over every part, the rows they yield, the deployment
signal chosen, the chain closed and the cursors moved. No database access: the caller writes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from collectors.github.actions import ActionsFetcher
from collectors.github.chain import ChainReading, ChainWalker
from collectors.github.model import (SOURCE, UNFINISHED_HORIZON, Page, ProgressFn, RepoAccessError, RepoFailure, RepoPlan,
                                     RepoResult, change_id, deployment_id, incident_id, iso, parse_time)
from collectors.github.rest import PAGE
from collectors.github.queries import PERMISSION, REPO_QUERY, REVIEWS_QUERY
from collectors.github.settings import GitHubSettings
from collectors.github.workflow import WorkflowReading
from collectors.github_client import GitHubClient

log = logging.getLogger(__package__)

RESYNC_PULL_PAGE = 25         # a re-sync's first pages: usually little is new
RESYNC_DEPLOY_PAGE = 25
MAX_ROUNDS = 100_000
MAX_FLAGS = 200


# -- reading one repository ---------------------------------------------------------------------------

class RepoFetcher(WorkflowReading, ChainReading):
    """Reads one repository's new pages; no database access (the caller writes the result)."""

    def __init__(self, client: GitHubClient, settings: GitHubSettings, plan: RepoPlan,
                 production: tuple[str, ...], *, now: datetime,
                 progress: ProgressFn | None = None):
        self.client = client
        self.settings = settings
        self.plan = plan
        self.repo = plan.name
        self.owner, self.name = plan.name.split("/")
        self.production = {e.lower() for e in production}
        self.now = now
        self.progress = progress or (lambda repo, msg, state: None)
        self.result = RepoResult(plan.name)
        self.service = plan.settings.service or self.name
        self.signal = plan.settings.deployments
        self.default_branch: str | None = None
        self.head: str | None = None
        self.walker = ChainWalker(plan.chain)
        self.targets: dict[str, datetime | None] = {}     # shas the chain should reach, with dates
        self.details = dict(plan.details)
        self._needs_reviews: list[tuple[int, str | None]] = []   # (number, author): reviews beyond the page
        self._release_rows: list[dict] = []                       # releases, kept until the signal is chosen
        self.requests_before = client.thread_requests

    # -- the rounds ------------------------------------------------------------------------------
    def fetch(self) -> RepoResult:
        auto = self.signal == "auto"
        parts = {
            "pulls": Page(),
            "deployments": Page(active=self.signal in ("auto", "environments")),
            "issues": Page(),
            "releases": Page(active=self.signal == "releases" or (auto and self.details.get("signal") in (None, "releases"))),
            "history": Page(active=False),
        }
        self.max_seen: dict[str, datetime] = {}
        self.min_updated: datetime | None = None
        self.unfinished: list[datetime] = []
        first_round = True
        for round_no in range(MAX_ROUNDS):
            variables = self._variables(parts, first_round)
            data = self._query(variables, round_no)
            repo = data["repository"]
            if first_round:
                self._check_identity(repo)
                self._read_head(repo)
            if parts["pulls"].active:
                self._pulls(repo.get("pullRequests") or {}, parts["pulls"])
            if parts["deployments"].active:
                self._deployments(repo.get("deployments") or {}, parts["deployments"])
            if parts["issues"].active:
                self._issues(repo.get("issues") or {}, parts["issues"])
            if parts["releases"].active:
                self._releases(repo.get("releases") or {}, parts["releases"])
            if first_round:
                self._choose_signal(parts)
                if self.signal == "workflow":
                    self._workflow_runs()
                hist = ((repo.get("defaultBranchRef") or {}).get("target") or {}).get("history")
                self.walker.add_page((hist or {}).get("nodes") or [])
            elif variables["withHistory"]:
                hist = (repo.get("historyFrom") or {}).get("history") or {}
                self.walker.add_page(hist.get("nodes") or [])
                parts["history"].pages += 1
            parts["history"].active = self._history_needs_more(parts)
            first_round = False
            self.progress(self.repo, f"page {round_no + 1}: {len(self.result.changes)} changes, "
                                     f"{len(self.result.deployments)} deployments, {len(self.walker.new)} "
                                     "new commits", "page")
            if not any(p.active for p in parts.values()):
                break
        if self.signal == "releases":
            self.result.deployments.extend(self._release_rows)
        self._first_reviews_beyond_page()
        self._finish_chain()
        self._compare_off_chain()
        self._cursors(parts)
        if self.settings.actions:
            self.result.actions = ActionsFetcher(
                self.client, self.repo, cursor=self.plan.actions_cursor, details=self.plan.actions_details,
                known=self.plan.actions_known, since=self.settings.since, now=self.now).fetch()
        self.result.requests = self.client.thread_requests - self.requests_before
        self.result.pages = {k: p.pages for k, p in parts.items() if p.pages}
        return self.result

    def _variables(self, parts: dict[str, Page], first_round: bool) -> dict:
        c = self.plan.cursors
        since_issues = c.get("incidents")
        envs = list(self.plan.settings.environments) or None
        return {
            "owner": self.owner, "name": self.name,
            "withHead": first_round,
            "withHistory": (not first_round) and parts["history"].active,
            "histHead": self.walker.tip if parts["history"].active else None,
            "withPulls": parts["pulls"].active,
            "prFirst": PAGE if (parts["pulls"].pages or not c.get("pulls")) else RESYNC_PULL_PAGE,
            "prAfter": parts["pulls"].after,
            "withDeployments": parts["deployments"].active, "depAfter": parts["deployments"].after,
            "depFirst": PAGE if (parts["deployments"].pages or not c.get("deployments")) else RESYNC_DEPLOY_PAGE,
            "envs": envs,
            "withIssues": parts["issues"].active, "issAfter": parts["issues"].after,
            "label": self.settings.incident_label, "issSince": since_issues,
            "withReleases": parts["releases"].active, "relAfter": parts["releases"].after,
        }

    def _query(self, variables: dict, round_no: int) -> dict:
        what = f"{self.repo} (GraphQL page {round_no + 1})"
        for attempt in (1, 2):
            data, errors = self.client.graphql(REPO_QUERY, variables, what=what)
            if not errors:
                if not data.get("repository"):
                    raise RepoFailure(f'GitHub returned no repository for "{self.repo}"; re-run later.')
                return data
            self._raise_access(errors)
            if attempt == 1:
                # A partial error (a field GitHub failed to resolve) is usually transient: the same
                # page is asked once more before the repo is given up for this run.
                log.info("github %s: GraphQL partial error, retrying once: %s", self.repo,
                         errors[0].get("message", "")[:200])
                continue
        parts = sorted({".".join(str(p) for p in (e.get("path") or [])[:2]) for e in errors})
        raise RepoFailure(f"GitHub GraphQL returned errors for {self.repo} ({', '.join(parts) or 'query'}): "
                          f"{errors[0].get('message', '')[:200]}; nothing of this repo was written and its "
                          "cursors did not move; re-run later.")

    def _raise_access(self, errors: list[dict]) -> None:
        for e in errors:
            kind = e.get("type")
            path = e.get("path") or []
            if kind == "NOT_FOUND" and path[:1] == ["repository"] and len(path) == 1:
                raise RepoAccessError(
                    f'Repository "{self.repo}" not found: deleted, renamed away, or the token cannot see '
                    "it; check the name in [sources.github] repos and that the token has access "
                    "(fine-grained: select the repository, Metadata read; classic: repo scope).")
            if kind == "FORBIDDEN":
                part = next((str(p) for p in path[1:] if str(p) in PERMISSION), None)
                perm = PERMISSION.get(part or "", "read")
                raise RepoAccessError(
                    f'The token cannot read {part or "data"} of "{self.repo}" ({e.get("message", "forbidden")}); '
                    f'grant it "{perm}: read-only" on {self.repo} (classic tokens: the repo scope).')

    def _check_identity(self, repo: dict) -> None:
        actual = repo.get("nameWithOwner") or self.repo
        if actual.lower() != self.repo.lower():
            raise RepoFailure(f'Repository "{self.repo}" was renamed to "{actual}"; update [sources.github] '
                              f'repos (rows already synced stay under "{self.repo}").')

    def _read_head(self, repo: dict) -> None:
        ref = repo.get("defaultBranchRef")
        if not ref:
            return
        self.details["created_at"] = repo.get("createdAt")
        self.default_branch = ref.get("name")
        self.head = (ref.get("target") or {}).get("oid")
        self.details["default_branch"] = self.default_branch
        if self.head:
            self.walker.start(self.head)

    # -- parts -------------------------------------------------------------------------------------
    def _stop_at(self, key: str, times: list[datetime], cursor: str | None) -> bool:
        """Newest-first paging stops once a page reaches the cursor (or the configured ``since``)."""
        if not times:
            return True
        oldest = min(times)
        bound = parse_time(cursor)
        if bound is not None and oldest < bound:
            return True
        return self.settings.since is not None and oldest < self.settings.since

    def _advance(self, page: Page, conn: dict, stop: bool) -> None:
        info = conn.get("pageInfo") or {}
        page.pages += 1
        page.after = info.get("endCursor")
        page.active = bool(info.get("hasNextPage")) and not stop

    def _note(self, key: str, t: datetime | None) -> None:
        if t is not None and (key not in self.max_seen or t > self.max_seen[key]):
            self.max_seen[key] = t

    def _timed(self, conn: dict, key: str, field: str, times: list) -> Iterator[tuple[dict, datetime | None]]:
        """The nodes of a GraphQL connection with their time ``field``; each time is kept in ``times``
        and noted as the newest seen of ``key`` (the cursor of the next run)."""
        for n in conn.get("nodes") or []:
            if n is not None:
                t = parse_time(n.get(field))
                times.append(t)
                self._note(key, t)
                yield n, t

    def _pulls(self, conn: dict, page: Page) -> None:
        times, merges = [], []
        for n, updated in self._timed(conn, "pulls", "updatedAt", times):
            if updated and (self.min_updated is None or updated < self.min_updated):
                self.min_updated = updated
            if n.get("mergeCommit"):
                merges.append(n["mergeCommit"])
            if self.default_branch and n.get("baseRefName") != self.default_branch:
                continue
            self.result.changes.append(self._change_row(n))
        self.walker.add_page(merges)
        self._advance(page, conn, self._stop_at("pulls", times, self.plan.cursors.get("pulls")))

    def _change_row(self, n: dict) -> dict:
        author = (n.get("author") or {}).get("login")
        commits = (n.get("commits") or {}).get("nodes") or []
        first_commit = None
        if commits:
            c = commits[0].get("commit") or {}
            first_commit = parse_time(c.get("authoredDate") or c.get("committedDate"))
        reviews = n.get("reviews") or {}
        first_review = _first_review(reviews.get("nodes") or [], author)
        if first_review is None and (reviews.get("totalCount") or 0) > len(reviews.get("nodes") or []):
            self._needs_reviews.append((n["number"], author))
        merge_sha = (n.get("mergeCommit") or {}).get("oid")
        merged_at = parse_time(n.get("mergedAt"))
        if merge_sha:
            self.targets.setdefault(merge_sha, merged_at)
        return {"id": change_id(self.repo, n["number"]), "repo": self.repo, "number": n["number"],
                "title": n.get("title"), "author": author,
                "labels": [lb["name"] for lb in ((n.get("labels") or {}).get("nodes") or []) if lb],
                "first_commit_at": first_commit, "opened_at": parse_time(n.get("createdAt")),
                "first_review_at": first_review, "merged_at": merged_at, "merge_sha": merge_sha,
                "url": n.get("url"), "source": SOURCE}

    def _first_reviews_beyond_page(self) -> None:
        """Pull requests whose first reviews were all by their author: read the rest of them."""
        by_id = {r["id"]: r for r in self.result.changes}
        for number, author in self._needs_reviews:
            after, found = None, None
            while True:
                data, errors = self.client.graphql(
                    REVIEWS_QUERY, {"owner": self.owner, "name": self.name, "number": number, "after": after},
                    what=f"{self.repo}#{number} reviews")
                if errors:
                    self._raise_access(errors)
                    raise RepoFailure(f"GitHub GraphQL returned errors for {self.repo}#{number} reviews: "
                                      f"{errors[0].get('message', '')[:200]}; re-run later.")
                conn = (((data.get("repository") or {}).get("pullRequest") or {}).get("reviews") or {})
                found = _first_review(conn.get("nodes") or [], author)
                info = conn.get("pageInfo") or {}
                if found or not info.get("hasNextPage"):
                    break
                after = info.get("endCursor")
            by_id[change_id(self.repo, number)]["first_review_at"] = found

    @staticmethod
    def _deployment_status(node: dict) -> tuple[str, datetime | None]:
        """(status, finished_at): success at its first ``success`` status (a later ``inactive``
        only means a newer deployment replaced it), else what the latest status says."""
        statuses = [((s.get("state") or "").lower(), parse_time(s.get("createdAt")))
                    for s in ((node.get("statuses") or {}).get("nodes") or []) if s]
        successes = [t for st, t in statuses if st == "success" and t]
        if successes:
            return "success", min(successes)
        latest = node.get("latestStatus")
        if latest:
            state, at = (latest.get("state") or "").lower(), parse_time(latest.get("createdAt"))
        elif statuses:
            state, at = max(statuses, key=lambda x: x[1] or datetime.min)
        else:
            state, at = "pending", None
        if state in ("failure", "error"):
            return state, at
        if state == "inactive":
            return "inactive", at
        return "in_progress", None

    def _deployments(self, conn: dict, page: Page) -> None:
        times = []
        for n, created in self._timed(conn, "deployments", "createdAt", times):
            env = n.get("environment") or ""
            status, finished = self._deployment_status(n)
            if status == "in_progress" and created and self.now - created < UNFINISHED_HORIZON:
                self.unfinished.append(created)
            sha = n.get("commitOid")
            if env.lower() in self.production and status == "success" and sha:
                self.targets.setdefault(sha, created)
            self.result.deployments.append({
                "id": deployment_id(self.repo, "deployment", n["databaseId"]), "repo": self.repo,
                "service": self.service, "environment": env, "sha": sha, "status": status,
                "started_at": created, "finished_at": finished,
                "url": (n.get("latestStatus") or {}).get("logUrl"), "source": SOURCE})
        self._advance(page, conn, self._stop_at("deployments", times, self.plan.cursors.get("deployments")))

    def _issues(self, conn: dict, page: Page) -> None:
        prefix = self.settings.service_label_prefix.lower()
        sev_prefix = self.settings.severity_label_prefix.lower()
        for n, _ in self._timed(conn, "incidents", "updatedAt", []):
            iid = incident_id(self.repo, n["number"])
            if (n.get("stateReason") or "").upper() in ("NOT_PLANNED", "DUPLICATE"):
                self.result.dropped_incidents.append(iid)
                continue
            labels = [lb["name"] for lb in ((n.get("labels") or {}).get("nodes") or []) if lb]
            service = next((lb[len(prefix):].strip() for lb in labels
                            if lb.lower().startswith(prefix) and lb[len(prefix):].strip()), self.service)
            severity = next((lb[len(sev_prefix):].strip() for lb in labels
                             if lb.lower().startswith(sev_prefix) and lb[len(sev_prefix):].strip()), None)
            self.result.incidents.append({
                "id": iid, "service": service, "repo": self.repo, "title": n.get("title"),
                "severity": severity, "created_at": parse_time(n.get("createdAt")),
                "resolved_at": parse_time(n.get("closedAt")) if n.get("state") == "CLOSED" else None,
                "url": n.get("url"), "source": SOURCE})
        self._advance(page, conn, False)    # the `since` filter already returns only new ones

    def _releases(self, conn: dict, page: Page) -> None:
        times = []
        env = self.plan.settings.environment or self._production_name()
        for n, created in self._timed(conn, "releases", "createdAt", times):
            if n.get("isDraft") or n.get("isPrerelease") or not n.get("publishedAt"):
                continue
            sha = (n.get("tagCommit") or {}).get("oid")
            published = parse_time(n.get("publishedAt"))
            if sha:
                self.targets.setdefault(sha, published)
            self._release_rows.append({
                "id": deployment_id(self.repo, "release", n["databaseId"]), "repo": self.repo,
                "service": self.service, "environment": env, "sha": sha, "status": "success",
                "started_at": created, "finished_at": published, "url": n.get("url"), "source": SOURCE})
        self._advance(page, conn, self._stop_at("releases", times, self.plan.cursors.get("releases")))

    def _production_name(self) -> str:
        return self.plan.settings.environment or sorted(self.production, key=lambda e: e != "production")[0]

    def _choose_signal(self, parts: dict[str, Page]) -> None:
        """``auto``: deployments of production environments, else a deploy workflow, else releases."""
        if self.signal != "auto":
            self.details["signal"] = self.signal
            return
        has_env = any(d["environment"].lower() in self.production for d in self.result.deployments)
        if has_env or self.details.get("signal") == "environments":
            self.signal = "environments"
            parts["releases"].active = False
        else:
            # Only production deployments matter here; the rest were read to decide.
            self.result.deployments.clear()
            self.targets = {k: v for k, v in self.targets.items() if k in {c["merge_sha"] for c in self.result.changes}}
            parts["deployments"].active = False
            workflow = self._find_workflow()
            if workflow:
                self.signal = "workflow"
                parts["releases"].active = False
            else:
                self.signal = "releases"
        if self.signal != "releases":
            self._release_rows.clear()
        self.details["signal"] = self.signal
        log.info("github %s: deployments from %s", self.repo, self.signal)

    # -- cursors ---------------------------------------------------------------------------------------
    def _cursors(self, parts: dict[str, Page]) -> None:
        c, r = self.plan.cursors, self.result

        def later(key: str) -> str | None:
            seen = self.max_seen.get(key)
            old = parse_time(c.get(key))
            best = max([t for t in (seen, old) if t is not None], default=None)
            return iso(best)

        r.cursors["pulls"] = later("pulls")
        r.cursors["incidents"] = later("incidents")
        if self.signal in ("environments", "workflow"):
            r.cursors["deployments"] = (iso(min(self.unfinished)) if self.unfinished else later("deployments"))
        if self.signal == "releases":
            r.cursors["releases"] = later("releases")
        if self.head:
            r.cursors["history"] = self.head
        flags = [f for f in (self.details.get("flags") or []) if f["kind"].startswith("compare_")
                 and f["kind"] != "compare_deferred"]
        self.details["flags"] = (flags + r.flags)[-MAX_FLAGS:]
        r.details = self.details


def _first_review(nodes: list[dict], author: str | None) -> datetime | None:
    times = [parse_time(n.get("submittedAt")) for n in nodes
             if n and n.get("submittedAt") and ((n.get("author") or {}).get("login") != author or author is None)]
    times = [t for t in times if t is not None]
    return min(times) if times else None
