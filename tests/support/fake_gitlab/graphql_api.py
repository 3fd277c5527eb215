"""GraphQL for the fake GitLab: the schema subset in ``schema.graphql`` (validated and executed
with graphql-core) over the in-memory model. Connections page by keyset cursors (the sort key and
id, base64 JSON, as GitLab's are), at most 100 nodes a page; an optional complexity limit answers
as GitLab does ("Query has complexity of N, which exceeds max complexity of M")."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import graphql
from graphql import GraphQLError

from tests.support.fake_gitlab.model import MergeRequest, Project, graphql_time, ts

SCHEMA_FILE = Path(__file__).with_name("schema.graphql")
MAX_PAGE = 100


@functools.lru_cache(maxsize=2)
def schema(with_deployment_filter: bool = True) -> graphql.GraphQLSchema:
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    if not with_deployment_filter:
        text = "\n".join(line for line in text.splitlines() if "DEPLOYMENT_FILTER" not in line)
    return graphql.build_schema(text)


def _encode(key) -> str:
    return base64.b64encode(json.dumps(key, default=str).encode()).decode()


def _decode(cursor: str):
    try:
        return json.loads(base64.b64decode(cursor))
    except Exception as exc:
        raise GraphQLError("Please provide a valid cursor") from exc


def connection(items: Iterable, node: Callable = lambda x: x, key: Callable = None, *, first=None, after=None,
               last=None, before=None, **_ignored) -> dict:
    """A keyset connection over ``items`` (already sorted by ``key``; default: position)."""
    items = list(items)
    keys = [list(key(x)) if key else [i] for i, x in enumerate(items)]
    idx = list(range(len(items)))
    if after:
        bound = _decode(after)
        idx = [i for i in idx if keys[i] > bound]
    if before:
        bound = _decode(before)
        idx = [i for i in idx if keys[i] < bound]
    for value in (first, last):
        if value is not None and value < 0:
            raise GraphQLError("first and last must be positive")
    has_next = has_prev = False
    if first is not None:
        has_next = len(idx) > min(first, MAX_PAGE)
        idx = idx[:min(first, MAX_PAGE)]
    if last is not None:
        has_prev = len(idx) > min(last, MAX_PAGE)
        idx = idx[-min(last, MAX_PAGE):] if min(last, MAX_PAGE) else []
    if first is None and last is None:
        has_next = len(idx) > MAX_PAGE
        idx = idx[:MAX_PAGE]
    return {"count": len(items), "nodes": [node(items[i]) for i in idx],
            "pageInfo": {"hasNextPage": has_next, "hasPreviousPage": has_prev,
                         "startCursor": _encode(keys[idx[0]]) if idx else None,
                         "endCursor": _encode(keys[idx[-1]]) if idx else None}}


def _user(name: str | None) -> dict | None:
    return {"id": f"gid://gitlab/User/{abs(hash(name)) % 10**6}", "username": name, "name": name.title(),
            "bot": name.endswith("-bot")} if name else None


def _time_arg(value):
    return ts(value) if value else None


class Resolver:
    """Builds the dict tree graphql-core executes against, lazily, for one request."""

    def __init__(self, fake, token_info: dict):
        self.fake = fake
        self.token = token_info

    def root(self) -> dict:
        return {"project": self.project, "group": self.group}

    # -- root fields ---------------------------------------------------------------------------------
    def project(self, info, fullPath: str):
        p = self.fake.find_project(fullPath, follow_moves=False)
        if p is None or not self.fake.token_can_see(self.token, p.path):
            return None
        return self._project(p)

    def group(self, info, fullPath: str):
        members = [p for p in self.fake.projects.values() if p.path.lower().startswith(fullPath.lower() + "/")]
        if not members and fullPath.lower() not in {g.lower() for g in self.fake.groups}:
            return None

        def projects(info, includeSubgroups=False, includeArchived=False, **page):
            depth = fullPath.count("/") + 1
            chosen = [p for p in members if (includeSubgroups or p.path.count("/") == depth)
                      and (includeArchived or not p.archived) and self.fake.token_can_see(self.token, p.path)]
            chosen.sort(key=lambda p: p.id)
            return connection(chosen, self._project, key=lambda p: [p.id], **page)

        return {"id": f"gid://gitlab/Group/{abs(hash(fullPath)) % 10**6}", "fullPath": fullPath,
                "projects": projects}

    # -- a project -----------------------------------------------------------------------------------
    def _project(self, p: Project) -> dict:
        def environments(info, states=None, name=None, **page):
            envs = [e for e in p.environments.values() if (not states or e.state in states)
                    and (name is None or e.name == name)]
            envs.sort(key=lambda e: e.id)
            return connection(envs, lambda e: {"id": f"gid://gitlab/Environment/{e.id}", "name": e.name,
                                               "state": e.state, "tier": e.tier.upper()},
                              key=lambda e: [e.id], **page)

        def merge_requests(info, state=None, sort=None, iids=None, targetBranches=None, updatedAfter=None,
                           deploymentId=None, **page):
            mrs = list(p.merge_requests.values())
            if state and state != "all":
                mrs = [m for m in mrs if m.state == state]
            if iids:
                mrs = [m for m in mrs if str(m.iid) in set(iids)]
            if targetBranches:
                mrs = [m for m in mrs if m.target_branch in targetBranches]
            since = _time_arg(updatedAfter)
            if since:   # GitLab's finder: updated_at >= the given time
                mrs = [m for m in mrs if m.updated_at >= since]
            if deploymentId is not None:
                dep = next((d for d in p.deployments if str(d.id) == str(deploymentId)), None)
                mrs = [m for m in mrs if dep and m.iid in dep.merge_request_iids]
            key = _sort_key(sort, "updated_at", "created_at")
            mrs.sort(key=key)
            return connection(mrs, lambda m: self._merge_request(p, m), key=key, **page)

        def merge_request(info, iid):
            m = p.merge_requests.get(int(iid)) if str(iid).isdigit() else None
            return self._merge_request(p, m) if m else None

        def issues(info, types=None, labelName=None, state=None, sort=None, updatedAfter=None, **page):
            found = list(p.issues.values())
            if types:
                found = [i for i in found if i.type in types]
            if labelName:
                found = [i for i in found if all(lb in i.labels for lb in labelName if lb)]
            if state and state != "all":
                found = [i for i in found if i.state == state]
            since = _time_arg(updatedAfter)
            if since:
                found = [i for i in found if i.updated_at >= since]
            key = _sort_key(sort, "updated_at", "created_at")
            found.sort(key=key)
            return connection(found, lambda i: {
                "id": f"gid://gitlab/Issue/{i.id}", "iid": str(i.iid), "title": i.title,
                "webUrl": f"{p.web_url}/-/issues/{i.iid}", "state": i.state, "type": i.type,
                "severity": i.severity, "createdAt": graphql_time(i.created_at),
                "updatedAt": graphql_time(i.updated_at), "closedAt": graphql_time(i.closed_at),
                "labels": lambda info, **pg: connection(i.labels, lambda t: {"id": t, "title": t}, **pg)},
                key=key, **page)

        return {"id": f"gid://gitlab/Project/{p.id}", "fullPath": p.path, "name": p.path.rsplit("/", 1)[-1],
                "path": p.path.rsplit("/", 1)[-1], "archived": p.archived, "webUrl": p.web_url,
                "environments": environments, "mergeRequests": merge_requests, "mergeRequest": merge_request,
                "issues": issues}

    def _merge_request(self, p: Project, m: MergeRequest) -> dict:
        def commits(info, **page):
            return connection(m.commits, lambda sha: {"id": sha, "sha": sha, "title": p.commits[sha].title,
                                                      "authoredDate": graphql_time(p.commits[sha].authored_at),
                                                      "committedDate": graphql_time(p.commits[sha].committed_at)},
                              **page)

        def notes(info, filter=None, **page):
            chosen = [n for n in m.notes if filter != "ONLY_COMMENTS" or not n.system]
            return connection(chosen, lambda n: {"id": f"gid://gitlab/Note/{abs(hash((m.id, n.created_at))) % 10**8}",
                                                 "body": n.body, "createdAt": graphql_time(n.created_at),
                                                 "updatedAt": graphql_time(n.created_at), "system": n.system,
                                                 "author": _user(n.author)},
                              key=lambda n: [graphql_time(n.created_at), n.body], **page)

        approvers = [n.author for n in m.notes if n.system and n.body.startswith("approved")]
        return {
            "id": f"gid://gitlab/MergeRequest/{m.id}", "iid": str(m.iid), "title": m.title,
            "webUrl": f"{p.web_url}/-/merge_requests/{m.iid}", "state": m.state,
            "createdAt": graphql_time(m.created_at), "updatedAt": graphql_time(m.updated_at),
            "mergedAt": graphql_time(m.merged_at), "sourceBranch": m.source_branch,
            "targetBranch": m.target_branch, "mergeCommitSha": m.merge_commit_sha, "diffHeadSha": m.head_sha,
            "squash": m.squash, "squashOnMerge": m.squash, "commitCount": len(m.commits), "author": _user(m.author),
            "approvedBy": lambda info, **pg: connection(approvers, _user, **pg),
            "labels": lambda info, **pg: connection(m.labels, lambda t: {"id": t, "title": t}, **pg),
            "commits": commits, "commitsWithoutMergeCommits": commits, "notes": notes,
        }


def _sort_key(sort: str | None, updated: str, created: str):
    field = updated if sort and sort.upper().startswith("UPDATED") else created
    descending = bool(sort) and sort.upper().endswith("DESC")

    def key(x):
        value = getattr(x, field).timestamp()
        return [-value, -x.id] if descending else [value, x.id]
    return key


def complexity(document: graphql.DocumentNode, variables: dict) -> int:
    """A stand-in for GitLab's query complexity: one per field, a connection's selection counted once
    per node it may return (its ``first``/``last``, at most 100)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}

    def value(node):
        if node is None:
            return None
        if isinstance(node, graphql.VariableNode):
            return variables.get(node.name.value)
        return graphql.value_from_ast_untyped(node, variables)

    def included(sel) -> bool:
        for d in sel.directives or ():
            args = {a.name.value: value(a.value) for a in d.arguments}
            if d.name.value == "include" and not args.get("if"):
                return False
            if d.name.value == "skip" and args.get("if"):
                return False
        return True

    def cost(selection_set) -> int:
        total = 0
        for sel in selection_set.selections if selection_set else ():
            if not included(sel):
                continue
            if isinstance(sel, graphql.FragmentSpreadNode):
                total += cost(fragments[sel.name.value].selection_set)
            elif isinstance(sel, graphql.InlineFragmentNode):
                total += cost(sel.selection_set)
            else:
                args = {a.name.value: value(a.value) for a in sel.arguments or ()}
                size = args.get("first") or args.get("last")
                inner = cost(sel.selection_set)
                if sel.name.value == "nodes" or size is None:
                    total += 1 + inner
                else:
                    total += 1 + inner * min(int(size), MAX_PAGE)
        return total

    ops = [d for d in document.definitions if isinstance(d, graphql.OperationDefinitionNode)]
    return sum(cost(op.selection_set) for op in ops)


def execute(fake, token_info: dict, query: str, variables: dict) -> tuple[dict, list[str]]:
    """Run one query; returns (response body, validation messages). Invalid queries are answered
    with GitLab's error shape and reported so tests fail on them."""
    s = schema(fake.deployment_filter)
    try:
        document = graphql.parse(query)
    except GraphQLError as exc:
        return {"errors": [{"message": exc.message}]}, [exc.message]
    problems = graphql.validate(s, document)
    if problems:
        messages = [p.message for p in problems]
        return {"errors": [{"message": m} for m in messages]}, messages
    if fake.max_complexity is not None:
        score = complexity(document, variables)
        if score > fake.max_complexity:
            return {"errors": [{"message": f"Query has complexity of {score}, which exceeds max complexity of "
                                           f"{fake.max_complexity}"}]}, []
    result = graphql.graphql_sync(s, query, root_value=Resolver(fake, token_info).root(),
                                  variable_values=variables)
    body: dict[str, Any] = {"data": result.data}
    if result.errors:
        body["errors"] = [{"message": e.message, "path": e.path} for e in result.errors]
    return body, []
