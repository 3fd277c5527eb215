"""A fake GitLab on 127.0.0.1: REST under ``/api/v4`` and GraphQL at ``POST /api/graphql``, as a
GitLab instance serves them at ``base_url`` (``http://127.0.0.1:PORT``).

It serves GitLab's documented shapes: offset pagination headers (``X-Page``, ``X-Next-Page``,
``X-Total``...) with a ``Link`` header of absolute URLs on its own host and port; ``RateLimit-*``
headers and ``429`` with ``Retry-After`` (scripted); ``ETag`` and ``304 Not Modified``; a moved
project's old path answered with ``301`` and the new ``Location``; ``404 Project Not Found`` for a
project the token cannot read. Every request is logged so tests can count what the collector spent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

from tests.support.fake_gitlab import graphql_api
from tests.support.fake_gitlab.model import Project, rest_time, ts
from tests.support.fake_http import FakeHandler, FakeService

API = "/api/v4"
GRAPHQL_PATH = "/api/graphql"
PROJECTS = API + "/projects"


@dataclass
class Fault:
    """One scripted response, served instead of the real one."""

    status: int = 502
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)
    passthrough: bool = False            # no fault: the real response (to let requests pass first)
    hang: threading.Event | None = None  # hold the request until this is set (at most 60 s), then fail


def server_error(status: int = 502) -> Fault:
    return Fault(status=status, body="Bad Gateway" if status == 502 else {"message": "500 Internal Server Error"})


def too_many_requests(retry_after: int | str = 1) -> Fault:
    """GitLab's rate limiter: 429, plain-text body, ``Retry-After`` and ``RateLimit-*`` headers."""
    return Fault(429, "Retry later\n", {"Retry-After": str(retry_after), "RateLimit-Remaining": "0"})


def passthrough() -> Fault:
    return Fault(passthrough=True)


def hang(release: threading.Event) -> Fault:
    """A request that never answers while ``release`` is unset (a client stuck, to be killed)."""
    return Fault(502, "Bad Gateway", hang=release)


class FakeGitLab(FakeService):
    """The in-memory GitLab and its HTTP server; use as a context manager or start()/stop()."""

    thread_name = "fake-gitlab"

    def __init__(self):
        super().__init__()
        self.projects: dict[str, Project] = {}
        self.moved: dict[str, str] = {}             # old path (lower) -> new path
        self.groups: set[str] = set()
        self.tokens: dict[str, dict] = {"test-token": {}}    # token -> {"hidden": {paths}}
        self.deployment_filter = True               # False: a GitLab before 17.1 (no deploymentId)
        self.jobs_keyset = True                     # False: no keyset pagination on the jobs list (405)
        self.max_complexity: int | None = None
        self.rate_limit = 2000
        self.remaining = 2000

    # -- model --------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Empty model, faults and log (the server keeps running): one server per test module."""
        with self.lock:
            self.projects.clear()
            self.moved.clear()
            self.groups.clear()
            self.tokens = {"test-token": {}}
            self.faults.clear()
            self.requests.clear()
            self.invalid_queries.clear()
            self.hanging = 0
            self.deployment_filter = True
            self.jobs_keyset = True
            self.max_complexity = None
            self.remaining = self.rate_limit

    def add_project(self, path: str, **kw) -> Project:
        project = Project(path, **kw)
        self.projects[path.lower()] = project
        parts = path.split("/")
        self.groups.update("/".join(parts[:i]) for i in range(1, len(parts)))
        return project

    def move_project(self, old: str, new: str) -> None:
        project = self.projects.pop(old.lower())
        project.path = new
        self.projects[new.lower()] = project
        self.moved[old.lower()] = new

    def find_project(self, ref: str, follow_moves: bool = True) -> Project | None:
        ref = urllib.parse.unquote(str(ref))
        if ref.isdigit():
            return next((p for p in self.projects.values() if p.id == int(ref)), None)
        found = self.projects.get(ref.lower())
        if found is None and follow_moves and ref.lower() in self.moved:
            found = self.projects.get(self.moved[ref.lower()].lower())
        return found

    def token_can_see(self, token_info: dict, path: str) -> bool:
        return path.lower() not in {h.lower() for h in token_info.get("hidden", ())}

    # -- counts (faults: add_fault with '/api/graphql' or a REST path prefix such as '/api/v4/projects',
    # served in order to the first requests that match) ----------------------------------------------
    def counted(self, project: str | None = None) -> int:
        """Requests received (GitLab's rate limits count every one, 304s too), optionally of one project."""
        return sum(1 for r in self.requests if project is None or r["project"] == project)

    # -- server -------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.url


class _Handler(FakeHandler):
    fake: FakeGitLab
    disable_nagle_algorithm = True    # headers and body leave at once (no 40 ms delayed-ACK stall)

    # -- plumbing -------------------------------------------------------------------------------------
    def _send(self, status: int, body, headers: dict | None = None, *, project: str | None = None,
              etag: bool = False) -> None:
        fake = self.fake
        if isinstance(body, (dict, list)):
            raw, ctype = json.dumps(body).encode(), "application/json"
        else:
            raw, ctype = (body or "").encode(), "text/plain"
        headers = dict(headers or {})
        if etag and status == 200 and self._etag(raw, headers):
            status, raw = 304, b""
        with fake.lock:
            if fake.remaining > 0:
                fake.remaining -= 1
            fake.requests.append({"method": self.command, "path": self._path, "query": self._query,
                                  "status": status, "project": project,
                                  "variables": getattr(self, "_variables", None)})
            remaining = fake.remaining
        reset = int(time.time()) + 60
        self.send_response(status)
        base = {"Content-Type": ctype, "Content-Length": str(len(raw)),
                "RateLimit-Limit": str(fake.rate_limit), "RateLimit-Observed": str(fake.rate_limit - remaining),
                "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset),
                "RateLimit-ResetTime": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(reset)),
                "Cache-Control": "max-age=0, private, must-revalidate"}
        base.update(headers)
        for k, v in base.items():
            self.send_header(k, v)
        self.end_headers()
        if raw and self.command != "HEAD":
            self.wfile.write(raw)

    def _token(self) -> dict | None:
        token = self.headers.get("PRIVATE-TOKEN")
        if token is None:
            parts = self.headers.get("Authorization", "").split(" ", 1)
            token = parts[1] if len(parts) == 2 and parts[0].lower() == "bearer" else None
        return self.fake.tokens.get(token) if token else None

    def _fault_key(self) -> str | None:
        """GitLab faults are queued under a path prefix: the first non-empty queue this path starts with."""
        return next((k for k, q in self.fake.faults.items() if q and self._path.startswith(k)), None)

    def _dispatch(self, method: str, body: bytes) -> None:
        try:
            project = self._project_of_request(body)
            token = self._token()
            if token is None:
                if self._path == GRAPHQL_PATH:
                    return self._send(401, {"errors": [{"message": "Invalid token"}]}, project=project)
                return self._send(401, {"message": "401 Unauthorized"}, project=project)
            fault = self._fault()
            if fault is not None:
                return self._send(fault.status, fault.body, fault.headers, project=project)
            if self._path == GRAPHQL_PATH and method == "POST":
                return self._graphql(body, token, project)
            if self._path.startswith(PROJECTS + "/") and method == "GET":
                return self._rest_project(token, project)
            self._send(404, {"error": "404 Not Found"}, project=project)
        except BrokenPipeError:
            pass

    def _project_of_request(self, body: bytes) -> str | None:
        """The project a request is about (for per-project counts)."""
        if self._path == GRAPHQL_PATH:
            try:
                self._variables = json.loads(body or b"{}").get("variables") or {}
            except ValueError:
                self._variables = {}
            return self._variables.get("fullPath")
        if self._path.startswith(PROJECTS + "/"):
            ref = self._path[len(PROJECTS) + 1:].split("/", 1)[0]
            found = self.fake.find_project(ref)
            return found.path if found else urllib.parse.unquote(ref)
        return None

    # -- GraphQL --------------------------------------------------------------------------------------
    def _graphql(self, body: bytes, token: dict, project: str | None) -> None:
        payload = json.loads(body or b"{}")
        result, invalid = graphql_api.execute(self.fake, token, payload.get("query", ""), self._variables or {})
        if invalid:
            with self.fake.lock:
                self.fake.invalid_queries.append((payload.get("query", ""), invalid))
        self._send(200, result, project=project)

    # -- REST -----------------------------------------------------------------------------------------
    def _rest_project(self, token: dict, project: str | None) -> None:
        rest = self._path[len(PROJECTS) + 1:]
        ref, _, sub = rest.partition("/")
        p = self.fake.find_project(ref, follow_moves=False)
        if p is None and urllib.parse.unquote(ref).lower() in self.fake.moved:
            moved = self.fake.find_project(ref)
            if moved is not None and self.fake.token_can_see(token, moved.path):
                location = f"{self.fake.url}{PROJECTS}/{moved.id}" + (f"/{sub}" if sub else "")
                return self._send(301, f"This resource has been moved permanently to {location}",
                                  {"Location": location}, project=project)
        if p is None or not self.fake.token_can_see(token, p.path):
            return self._send(404, {"message": "404 Project Not Found"}, project=project)
        if sub == "":
            return self._send(200, self._project_json(p), project=project, etag=True)
        if sub == "merge_requests":
            return self._list(self._merge_requests(p), project)
        if sub == "deployments":
            return self._list(self._deployments(p), project)
        if sub == "releases":
            return self._list(self._releases(p), project)
        if sub == "repository/compare":
            return self._compare(p, project)
        if (sub == "jobs" or sub.startswith("pipelines")) and not p.ci_enabled:
            return self._send(403, {"message": "403 Forbidden"}, project=project)
        if sub == "pipelines":
            return self._list(self._pipelines(p), project)
        if sub == "jobs":
            return self._project_jobs(p, project)
        if sub.startswith("pipelines/") and sub.endswith("/jobs"):
            pid = sub.split("/")[1]
            found = next((x for x in p.pipelines if str(x.id) == pid), None)
            if found is None:
                return self._send(404, {"message": "404 Not found"}, project=project)
            include = self._params.get("include_retried", "false") == "true"
            jobs = sorted(found.jobs if include else found.latest(), key=lambda j: j.id)
            return self._list([self._job_json(p, found, j) for j in jobs], project)
        self._send(404, {"error": "404 Not Found"}, project=project)

    # -- CI -------------------------------------------------------------------------------------------
    def _pipelines(self, p: Project) -> list[dict]:
        """``GET /projects/:id/pipelines``: ``updated_after`` includes its instant (GitLab's
        ``updated_at >= ?``); ``order_by`` id (default) or updated_at, ``sort`` desc by default."""
        pipes = list(p.pipelines)
        if "updated_after" in self._params:
            since = ts(self._params["updated_after"])
            pipes = [x for x in pipes if x.updated_at >= since]
        order = self._params.get("order_by", "id")
        keys = {"id": lambda x: x.id, "updated_at": lambda x: (x.updated_at, x.id)}
        pipes.sort(key=keys[order], reverse=self._params.get("sort", "desc") == "desc")
        return [{"id": x.id, "iid": x.iid, "project_id": p.id, "sha": x.sha, "ref": x.ref, "status": x.status,
                 "source": x.source, "created_at": rest_time(x.created_at), "updated_at": rest_time(x.updated_at),
                 "web_url": f"{p.web_url}/-/pipelines/{x.id}", "name": x.name} for x in pipes]

    def _project_jobs(self, p: Project, project: str | None) -> None:
        """``GET /projects/:id/jobs``: every job of every pipeline, retried ones too, newest first;
        ``pagination=keyset`` pages by an opaque ``cursor`` in the ``Link`` header (no X-Total)."""
        jobs = sorted(((x, j) for x in p.pipelines for j in x.jobs), key=lambda xj: xj[1].id, reverse=True)
        if self._params.get("pagination") != "keyset":
            return self._list([self._job_json(p, x, j) for x, j in jobs], project)
        if not self.fake.jobs_keyset:
            return self._send(405, {"error": "Keyset pagination is not yet available for this type of request"},
                              project=project)
        per_page = max(1, min(int(self._params.get("per_page", 20)), 100))
        cursor = self._params.get("cursor")
        if cursor:
            below = json.loads(base64.urlsafe_b64decode(cursor.encode()))["id"]
            jobs = [(x, j) for x, j in jobs if j.id < below]
        chunk = [self._job_json(p, x, j) for x, j in jobs[:per_page]]
        headers = {"X-Per-Page": str(per_page)}
        if len(jobs) > per_page:
            query = {k: v for k, v in self._multi.items() if k != "cursor"}
            query["cursor"] = [base64.urlsafe_b64encode(json.dumps({"id": chunk[-1]["id"]}).encode()).decode()]
            headers["Link"] = f'<{self.fake.url}{self._path}?{urllib.parse.urlencode(query, doseq=True)}>; rel="next"'
        self._send(200, chunk, headers, project=project)

    def _job_json(self, p: Project, x, j) -> dict:
        """A job as GitLab's jobs API shows it (``runner``, ``runner_manager``, ``tag_list``...)."""
        runner = None
        if j.runner and j.started_at:
            rid = int(hashlib.sha1(f"{p.path}|{j.runner}".encode()).hexdigest()[:4], 16)
            runner = {"id": rid, "description": f"{j.runner} runner",
                      "ip_address": None, "active": True, "paused": False, "is_shared": j.runner == "instance",
                      "runner_type": f"{j.runner}_type", "name": "gitlab-runner", "online": True, "status": "online"}
        manager = None
        if runner and j.platform:
            manager = {"id": runner["id"] + 1, "system_id": f"s_{runner['id']:012x}", "version": "17.5.0",
                       "revision": "9a8b7c6d", "platform": j.platform, "architecture": "amd64",
                       "created_at": rest_time(x.created_at), "contacted_at": rest_time(j.started_at),
                       "ip_address": "127.0.0.1", "status": "online"}
        queued = (j.started_at - j.queued_at).total_seconds() if j.started_at and j.queued_at else None
        duration = (j.finished_at - j.started_at).total_seconds() if j.finished_at and j.started_at else None
        return {"id": j.id, "name": j.name, "stage": j.stage, "status": j.status, "ref": x.ref, "tag": False,
                "allow_failure": j.allow_failure, "created_at": rest_time(j.created_at),
                "started_at": rest_time(j.started_at), "finished_at": rest_time(j.finished_at), "erased_at": None,
                "duration": duration, "queued_duration": queued, "tag_list": list(j.tags),
                "web_url": f"{p.web_url}/-/jobs/{j.id}", "coverage": None, "archived": False, "artifacts": [],
                "failure_reason": "script_failure" if j.status == "failed" else None,
                "pipeline": {"id": x.id, "project_id": p.id, "ref": x.ref, "sha": x.sha, "status": x.status},
                "commit": {"id": x.sha, "short_id": x.sha[:8]}, "user": {"username": "dev"},
                "runner": runner, "runner_manager": manager}

    def _project_json(self, p: Project) -> dict:
        name = p.path.rsplit("/", 1)[-1]
        return {"id": p.id, "name": name, "path": name, "path_with_namespace": p.path,
                "name_with_namespace": p.path.replace("/", " / "), "default_branch": p.default_branch,
                "archived": p.archived, "web_url": p.web_url, "visibility": "private",
                "ci_config_path": p.ci_config_path,
                "namespace": {"full_path": p.path.rsplit("/", 1)[0]}}

    def _list(self, items: list, project: str | None) -> None:
        """Offset pagination as GitLab serves it: ``page``/``per_page`` (max 100), the X-* headers and a
        ``Link`` header of absolute URLs."""
        per_page = max(1, min(int(self._params.get("per_page", 20)), 100))
        page = max(1, int(self._params.get("page", 1)))
        total_pages = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(n: int) -> str:
            query = {k: v for k, v in self._multi.items() if k != "page"}
            query["page"] = [str(n)]
            return f"<{self.fake.url}{self._path}?{urllib.parse.urlencode(query, doseq=True)}>"

        links = []
        if page < total_pages:
            links.append(f'{link(page + 1)}; rel="next"')
        if page > 1:
            links.append(f'{link(page - 1)}; rel="prev"')
        links += [f'{link(1)}; rel="first"', f'{link(total_pages)}; rel="last"']
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                   "X-Total-Pages": str(total_pages), "X-Next-Page": str(page + 1) if page < total_pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else "", "Link": ", ".join(links)}
        self._send(200, chunk, headers, project=project)

    def _merge_requests(self, p: Project) -> list[dict]:
        iids = {int(i) for i in self._multi.get("iids[]", [])}
        state = self._params.get("state", "all")
        out = []
        for m in sorted(p.merge_requests.values(), key=lambda m: m.created_at, reverse=True):
            if iids and m.iid not in iids:
                continue
            if state != "all" and m.state != state:
                continue
            out.append({"id": m.id, "iid": m.iid, "project_id": p.id, "title": m.title, "state": m.state,
                        "created_at": rest_time(m.created_at), "updated_at": rest_time(m.updated_at),
                        "merged_at": rest_time(m.merged_at), "target_branch": m.target_branch,
                        "source_branch": m.source_branch, "author": {"username": m.author},
                        "labels": list(m.labels), "sha": m.head_sha, "merge_commit_sha": m.merge_commit_sha,
                        "squash_commit_sha": m.squash_commit_sha, "squash": m.squash,
                        "web_url": f"{p.web_url}/-/merge_requests/{m.iid}"})
        return out

    def _deployments(self, p: Project) -> list[dict]:
        deps = list(p.deployments)
        if "environment" in self._params:
            deps = [d for d in deps if d.environment.name == self._params["environment"]]
        if "status" in self._params:
            deps = [d for d in deps if d.status == self._params["status"]]
        if "updated_after" in self._params:
            since = ts(self._params["updated_after"])
            deps = [d for d in deps if d.updated_at >= since]
        order = self._params.get("order_by", "id")
        keys = {"id": lambda d: d.id, "iid": lambda d: d.iid, "created_at": lambda d: (d.created_at, d.id),
                "updated_at": lambda d: (d.updated_at, d.id)}
        deps.sort(key=keys[order], reverse=self._params.get("sort", "asc") == "desc")
        return [{"id": d.id, "iid": d.iid, "ref": d.ref, "sha": d.sha, "status": d.status,
                 "created_at": rest_time(d.created_at), "updated_at": rest_time(d.updated_at),
                 "user": {"username": "deployer"},
                 "environment": {"id": d.environment.id, "name": d.environment.name,
                                 "external_url": f"https://{d.environment.name}.example"},
                 "deployable": {"id": d.job_id, "name": "deploy", "stage": "deploy", "ref": d.ref, "tag": False,
                                "status": d.status, "created_at": rest_time(d.created_at),
                                "started_at": rest_time(d.started_at), "finished_at": rest_time(d.finished_at),
                                "commit": {"id": d.sha, "short_id": d.sha[:8]}}} for d in deps]

    def _releases(self, p: Project) -> list[dict]:
        rels = sorted(p.releases, key=lambda r: r.released_at, reverse=self._params.get("sort", "desc") == "desc")
        return [{"tag_name": r.tag_name, "name": r.tag_name, "created_at": rest_time(r.created_at),
                 "released_at": rest_time(r.released_at), "upcoming_release": r.upcoming,
                 "commit": {"id": r.sha, "short_id": r.sha[:8]},
                 "_links": {"self": f"{p.web_url}/-/releases/{r.tag_name}"}} for r in rels]

    def _compare(self, p: Project, project: str | None) -> None:
        base, head = self._params.get("from", ""), self._params.get("to", "")
        if base not in p.commits or head not in p.commits:
            return self._send(404, {"message": "404 Ref Not Found"}, project=project)
        commits = p.compare(base, head)
        self._send(200, {"commit": None, "diffs": [], "compare_timeout": False, "compare_same_ref": base == head,
                         "web_url": f"{p.web_url}/-/compare/{base}...{head}",
                         "commits": [{"id": c.sha, "short_id": c.sha[:8], "title": c.title,
                                      "created_at": rest_time(c.committed_at)} for c in commits]},
                   project=project)


FakeGitLab.handler = _Handler
