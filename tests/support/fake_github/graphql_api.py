"""GraphQL for the fake GitHub: GitHub's real public schema (validated and executed with
graphql-core) over the in-memory model. A query GitHub would reject is rejected here too."""

from __future__ import annotations

import base64
import functools
from pathlib import Path
from typing import Any

import graphql
from graphql import GraphQLError

from tests.support.fake_github.model import Repo, iso

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "data" / "github-graphql-schema" / "schema.graphql"
PAGE_LIMIT = 100


@functools.lru_cache(maxsize=1)
def schema() -> graphql.GraphQLSchema:
    """GitHub's schema, built once per process (1.2 MB of SDL, about a second)."""
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    # The published SDL repeats a few definitions that strict validation rejects (see its README).
    return graphql.build_schema(text, assume_valid_sdl=True, assume_valid=True)


def _cursor(i: int) -> str:
    return base64.b64encode(f"cursor:v2:{i}".encode()).decode()


def _index(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1])
    except Exception as exc:
        raise GraphQLError(f"`{cursor}` does not appear to be a valid cursor.") from exc


def connection(items: list, node=lambda x: x, *, first=None, after=None, last=None, before=None,
               name: str = "nodes") -> dict:
    """A GitHub-style connection over ``items``, enforcing GitHub's paging rules."""
    if first is None and last is None:
        raise GraphQLError(f"You must provide a `first` or `last` value to properly paginate the `{name}` connection.")
    for arg, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= PAGE_LIMIT:
            raise GraphQLError(f"Requesting {value} records on the `{name}` connection exceeds the "
                               f"`{arg}` limit of {PAGE_LIMIT} records.")
    lo = _index(after) + 1 if after else 0
    hi = _index(before) if before else len(items)
    idx = list(range(lo, min(hi, len(items))))
    if first is not None:
        idx = idx[:first]
    if last is not None:
        idx = idx[-last:] if last else []
    nodes = [node(items[i]) for i in idx]
    return {
        "totalCount": len(items),
        "nodes": nodes,
        "edges": [{"cursor": _cursor(i), "node": n} for i, n in zip(idx, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": bool(idx) and idx[-1] < min(hi, len(items)) - 1,
            "hasPreviousPage": bool(idx) and idx[0] > 0,
            "startCursor": _cursor(idx[0]) if idx else None,
            "endCursor": _cursor(idx[-1]) if idx else None,
        },
    }


def _actor(login: str | None) -> dict | None:
    return {"__typename": "User", "login": login, "url": f"https://github.example/{login}"} if login else None


class Resolver:
    """Builds the dict tree graphql-core executes against, lazily, for one request."""

    def __init__(self, fake, token_info: dict):
        self.fake = fake
        self.token = token_info

    # -- root ---------------------------------------------------------------------------------
    def root(self) -> dict:
        return {"repository": self.repository, "rateLimit": self.rate_limit, "nodes": self.nodes,
                "node": lambda info, id: self.nodes(info, [id])[0],
                "viewer": {"__typename": "User", "login": self.token.get("login", "cadence-bot")}}

    def rate_limit(self, info, dryRun=False):
        return {"cost": 1, "limit": self.fake.rate_limit, "remaining": self.fake.remaining,
                "used": self.fake.rate_limit - self.fake.remaining, "nodeCount": 0,
                "resetAt": iso(self.fake.reset_at)}

    def repository(self, info, owner, name, followRenames=True):
        full = f"{owner}/{name}"
        repo = self.fake.find_repo(full, follow_renames=followRenames)
        if repo is None or not self.fake.token_can_see(self.token, repo.full_name):
            raise GraphQLError(f"Could not resolve to a Repository with the name '{full}'.",
                               extensions={"type": "NOT_FOUND"})
        return self.repo_node(repo)

    def nodes(self, info, ids):
        """Workflow runs by node id (the only node kind the collector asks for); GitHub allows at
        most 100 ids per call and answers null for an id it cannot resolve."""
        if len(ids) > PAGE_LIMIT:
            raise GraphQLError(f"You may not request more than {PAGE_LIMIT} nodes at once.")
        runs = {r.get("node_id"): (repo, r) for repo in self.fake.repos.values()
                if self.fake.token_can_see(self.token, repo.full_name) for r in repo.actions_runs()}
        return [self.run_node(*runs[i]) if i in runs else None for i in ids]

    def run_node(self, repo: Repo, run: dict) -> dict:
        attempts = run.get("_attempts") or [{"jobs": []}]

        def check_runs(info, first=None, after=None, last=None, before=None, filterBy=None):
            everything = (filterBy or {}).get("checkType") == "ALL"
            jobs = [j for a in attempts for j in a["jobs"]] if everything else attempts[-1]["jobs"]
            return connection(jobs, lambda j: {
                "__typename": "CheckRun", "databaseId": j["id"], "name": j["name"],
                "status": j["status"].upper(), "conclusion": j["conclusion"].upper() if j["conclusion"] else None,
                "startedAt": j["started_at"], "completedAt": j["completed_at"], "detailsUrl": j["html_url"],
                "url": j["html_url"]}, first=first, after=after, last=last, before=before, name="checkRuns")

        return {"__typename": "WorkflowRun", "id": run["node_id"], "databaseId": run["id"],
                "runNumber": run["id"], "event": run["event"], "createdAt": run["created_at"],
                "updatedAt": run["updated_at"], "url": run["html_url"],
                "checkSuite": {"__typename": "CheckSuite", "checkRuns": check_runs}}

    def _require(self, repo: Repo, section: str) -> None:
        if (repo.full_name, section) in self.token.get("forbidden", set()):
            raise GraphQLError("Resource not accessible by personal access token",
                               extensions={"type": "FORBIDDEN"})

    # -- repository -----------------------------------------------------------------------------
    def repo_node(self, repo: Repo) -> dict:
        head = repo.head

        def ref(info, qualifiedName):
            branch = qualifiedName.removeprefix("refs/heads/")
            oid = repo.branches.get(branch)
            return {"name": branch, "prefix": "refs/heads/", "target": self.commit_node(repo, oid)} if oid else None

        def pull_requests(info, first=None, after=None, last=None, before=None, states=None,
                          orderBy=None, baseRefName=None, headRefName=None, labels=None):
            self._require(repo, "pullRequests")
            pulls = list(repo.pulls.values())
            if states:
                pulls = [p for p in pulls if p.state in states]
            if baseRefName:
                pulls = [p for p in pulls if p.base_ref == baseRefName]
            if labels:
                pulls = [p for p in pulls if set(labels) & set(p.labels)]
            pulls = _order(pulls, orderBy, {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at"})
            return connection(pulls, lambda p: self.pull_node(repo, p), first=first, after=after,
                              last=last, before=before, name="pullRequests")

        def pull_request(info, number):
            self._require(repo, "pullRequests")
            p = repo.pulls.get(number)
            if p is None:
                raise GraphQLError(f"Could not resolve to a PullRequest with the number of {number}.",
                                   extensions={"type": "NOT_FOUND"})
            return self.pull_node(repo, p)

        def deployments(info, first=None, after=None, last=None, before=None, environments=None,
                        orderBy=None):
            self._require(repo, "deployments")
            deps = list(repo.deployments)
            if environments:
                deps = [d for d in deps if d.environment in environments]
            orderBy = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
            deps = _order(deps, orderBy, {"CREATED_AT": "created_at"})
            return connection(deps, lambda d: self.deployment_node(repo, d), first=first, after=after,
                              last=last, before=before, name="deployments")

        def environments(info, first=None, after=None, last=None, before=None, names=None,
                         orderBy=None, pinnedEnvironmentFilter=None):
            self._require(repo, "deployments")
            envs = sorted({d.environment for d in repo.deployments})
            return connection(envs, lambda e: {"name": e, "id": f"E_{e}", "databaseId": abs(hash(e)) % 10**6},
                              first=first, after=after, last=last, before=before, name="environments")

        def issues(info, first=None, after=None, last=None, before=None, labels=None, states=None,
                   orderBy=None, filterBy=None):
            self._require(repo, "issues")
            items = list(repo.issues.values())
            filterBy = filterBy or {}
            want_labels = list(labels or []) + list(filterBy.get("labels") or [])
            if want_labels:
                items = [i for i in items if set(want_labels) & set(i.labels)]
            states = states or filterBy.get("states")
            if states:
                items = [i for i in items if ("CLOSED" if i.closed_at else "OPEN") in states]
            if filterBy.get("since"):
                since = _parse(filterBy["since"])
                items = [i for i in items if i.updated_at >= since]
            items = _order(items, orderBy, {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at"})
            return connection(items, lambda i: self.issue_node(repo, i), first=first, after=after,
                              last=last, before=before, name="issues")

        def releases(info, first=None, after=None, last=None, before=None, orderBy=None):
            self._require(repo, "releases")
            rels = _order(list(repo.releases), orderBy or {"field": "CREATED_AT", "direction": "DESC"},
                          {"CREATED_AT": "created_at", "NAME": "tag"})
            return connection(rels, lambda r: {
                "databaseId": r.id, "id": f"RE_{r.id}", "tagName": r.tag, "name": r.tag,
                "isDraft": r.draft, "isPrerelease": r.prerelease, "createdAt": iso(r.created_at),
                "publishedAt": iso(r.published_at), "url": f"https://github.example/{repo.full_name}/releases/{r.tag}",
                "tagCommit": self.commit_node(repo, r.sha)},
                first=first, after=after, last=last, before=before, name="releases")

        def git_object(info, oid=None, expression=None):
            self._require(repo, "contents")
            target = oid or repo.branches.get(expression or "")
            return self.commit_node(repo, target)

        return {
            "object": git_object,
            "id": f"R_{repo.id}", "databaseId": repo.id, "name": repo.name,
            "nameWithOwner": repo.full_name, "createdAt": iso(repo.created_at),
            "isArchived": False, "isPrivate": repo.private, "isEmpty": head is None,
            "url": f"https://github.example/{repo.full_name}",
            "defaultBranchRef": ({"name": repo.default_branch, "prefix": "refs/heads/",
                                  "target": self.commit_node(repo, head)} if head else None),
            "ref": ref, "pullRequests": pull_requests, "pullRequest": pull_request,
            "deployments": deployments, "environments": environments, "issues": issues,
            "releases": releases,
        }

    def commit_node(self, repo: Repo, oid: str | None) -> dict | None:
        if oid is None or oid not in repo.commits:
            return None
        c = repo.commits[oid]

        def history(info, first=None, after=None, last=None, before=None, since=None, until=None,
                    path=None, author=None):
            self._require(repo, "contents")
            oids = repo.history(oid)
            if since:
                oids = [o for o in oids if repo.commits[o].committed_at >= _parse(since)]
            if until:
                oids = [o for o in oids if repo.commits[o].committed_at <= _parse(until)]
            return connection(oids, lambda o: self.commit_node(repo, o), first=first, after=after,
                              last=last, before=before, name="history")

        def parents(info, first=None, after=None, last=None, before=None):
            return connection(c.parents, lambda o: self.commit_node(repo, o), first=first, after=after,
                              last=last, before=before, name="parents")

        return {"__typename": "Commit", "id": f"C_{oid}", "oid": oid, "abbreviatedOid": oid[:7],
                "message": c.message, "messageHeadline": c.message.splitlines()[0],
                "authoredDate": iso(c.authored_at), "committedDate": iso(c.committed_at),
                "url": f"https://github.example/{repo.full_name}/commit/{oid}",
                "history": history, "parents": parents}

    def pull_node(self, repo: Repo, p) -> dict:
        def commits(info, first=None, after=None, last=None, before=None):
            # GraphQL lists every commit of a pull request (REST stops at 250).
            return connection(p.commit_oids, lambda o: {"id": f"PRC_{o}", "commit": self.commit_node(repo, o),
                                                        "url": ""},
                              first=first, after=after, last=last, before=before, name="commits")

        def reviews(info, first=None, after=None, last=None, before=None, states=None, author=None):
            rs = [r for r in p.reviews if not states or r.state in states]
            return connection(rs, lambda r: {"author": _actor(r.author), "state": r.state,
                                             "submittedAt": iso(r.submitted_at),
                                             "createdAt": iso(r.submitted_at)},
                              first=first, after=after, last=last, before=before, name="reviews")

        def labels(info, first=None, after=None, last=None, before=None, orderBy=None):
            return connection(p.labels, lambda n: {"name": n, "id": f"L_{n}", "color": "ededed"},
                              first=first, after=after, last=last, before=before, name="labels")

        return {"__typename": "PullRequest", "id": f"PR_{repo.id}_{p.number}", "number": p.number,
                "title": p.title, "url": f"https://github.example/{repo.full_name}/pull/{p.number}",
                "createdAt": iso(p.created_at), "updatedAt": iso(p.updated_at),
                "mergedAt": iso(p.merged_at), "merged": p.merged_at is not None, "state": p.state,
                "baseRefName": p.base_ref, "headRefOid": p.head_oid or (p.merge_oid or ""),
                "baseRefOid": p.base_oid, "author": _actor(p.author),
                "mergeCommit": self.commit_node(repo, p.merge_oid),
                "commits": commits, "reviews": reviews, "labels": labels}

    def deployment_node(self, repo: Repo, d) -> dict:
        statuses_newest_first = sorted(d.statuses, key=lambda s: s.created_at, reverse=True)

        def status_node(s):
            return {"state": s.state, "createdAt": iso(s.created_at), "updatedAt": iso(s.created_at),
                    "logUrl": s.log_url, "environmentUrl": None, "description": None}

        def statuses(info, first=None, after=None, last=None, before=None):
            # GitHub lists a deployment's statuses newest first, like the REST endpoint.
            return connection(statuses_newest_first, status_node, first=first, after=after, last=last,
                              before=before, name="statuses")

        latest = statuses_newest_first[0] if statuses_newest_first else None
        state = {"SUCCESS": "ACTIVE", "IN_PROGRESS": "IN_PROGRESS", "QUEUED": "QUEUED",
                 "FAILURE": "FAILURE", "ERROR": "ERROR", "INACTIVE": "INACTIVE",
                 "PENDING": "PENDING"}.get(latest.state if latest else "PENDING", "PENDING")
        return {"id": f"DE_{d.id}", "databaseId": d.id, "environment": d.environment,
                "originalEnvironment": d.environment, "latestEnvironment": d.environment,
                "commitOid": d.sha, "commit": self.commit_node(repo, d.sha),
                "createdAt": iso(d.created_at), "updatedAt": iso(latest.created_at if latest else d.created_at),
                "state": state, "task": "deploy", "description": None,
                "latestStatus": status_node(latest) if latest else None, "statuses": statuses}

    def issue_node(self, repo: Repo, i) -> dict:
        def labels(info, first=None, after=None, last=None, before=None, orderBy=None):
            return connection(i.labels, lambda n: {"name": n, "id": f"L_{n}", "color": "ededed"},
                              first=first, after=after, last=last, before=before, name="labels")

        return {"id": f"I_{repo.id}_{i.number}", "number": i.number, "title": i.title,
                "url": f"https://github.example/{repo.full_name}/issues/{i.number}",
                "createdAt": iso(i.created_at), "updatedAt": iso(i.updated_at),
                "closedAt": iso(i.closed_at), "closed": i.closed_at is not None,
                "state": "CLOSED" if i.closed_at else "OPEN", "stateReason": i.state_reason,
                "labels": labels}


def _parse(value: str):
    from tests.support.fake_github.model import ts

    return ts(value)


def _order(items: list, order_by: dict | None, fields: dict[str, str]) -> list:
    if not order_by:
        return items
    attr = fields[order_by["field"]]
    return sorted(items, key=lambda x: (getattr(x, attr), getattr(x, "number", getattr(x, "id", 0))),
                  reverse=order_by.get("direction", "ASC") == "DESC")


def execute(fake, token_info: dict, query: str, variables: dict | None) -> tuple[dict, list[str]]:
    """Validate and run one GraphQL request; returns (response body, validation errors)."""
    try:
        document = graphql.parse(query)
    except GraphQLError as exc:
        return {"errors": [exc.formatted]}, [exc.message]
    errors = graphql.validate(schema(), document)
    if errors:
        return {"errors": [e.formatted for e in errors]}, [e.message for e in errors]
    result = graphql.execute(schema(), document, root_value=Resolver(fake, token_info).root(),
                             variable_values=variables or {})
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        out = []
        for e in result.errors:
            d = dict(e.formatted)
            if e.extensions and "type" in e.extensions:
                d["type"] = e.extensions["type"]   # GitHub puts the error type at the top level
            out.append(d)
        body["errors"] = out
        # A variable GitHub would refuse (wrong type) is a request error, not a partial result.
        if result.data is None and any("Variable" in e.message for e in result.errors):
            return body, [e.message for e in result.errors]
    return body, []
