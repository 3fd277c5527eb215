"""A fake GitHub on 127.0.0.1: REST under ``/api/v3`` and GraphQL at ``POST /api/graphql``, the
paths GitHub Enterprise Server uses and PyGithub derives from ``base_url=http://HOST/api/v3``.

It serves rate-limit headers, absolute ``Link`` pagination URLs on its own host and port, ETags with
``304 Not Modified`` (not counted against the limit), and a per-path queue of scripted faults.
Every request is logged so tests can count what the collector spent.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from tests.support.fake_github import graphql_api
from tests.support.fake_github.model import Repo, iso, ts
from tests.support.fake_http import FakeHandler, FakeService

GRAPHQL_PATH = "/api/graphql"
REST_PREFIX = "/api/v3"
RUNS_RESULT_CAP = 1000          # GitHub serves at most 1,000 results of a filtered runs query
PR_COMMITS_REST_CAP = 250


@dataclass
class Fault:
    """One scripted response, served instead of the real one (or, for ``partial``, after it)."""

    status: int = 502
    body: dict | str | None = None
    headers: dict = field(default_factory=dict)
    partial_field: str | None = None     # GraphQL: null this field in the result and add an error
    exhaust: bool = False                # primary rate limit: remaining 0, reset in an hour
    passthrough: bool = False            # no fault: the real response (to let requests pass first)
    hang: threading.Event | None = None  # hold the request until this is set (at most 60 s), then fail
    echo_headers: bool = False           # the message quotes the request's headers, token included


def server_error(status: int = 502) -> Fault:
    return Fault(status=status, body={"message": "Server Error"} if status != 502 else "Bad Gateway")


def secondary_limit(retry_after: int | None = 1) -> Fault:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return Fault(403, {"message": "You have exceeded a secondary rate limit. Please wait a few minutes "
                                  "before you try again.",
                       "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                 headers)


def too_many_requests(retry_after: int = 1) -> Fault:
    return Fault(429, {"message": "Too Many Requests"}, {"Retry-After": str(retry_after)})


def primary_exhausted() -> Fault:
    return Fault(403, {"message": "API rate limit exceeded for user ID 1.",
                       "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"},
                 exhaust=True)


def echo_headers(status: int = 400) -> Fault:
    """An error whose message echoes the request headers, as some proxies and debug builds do: the
    Authorization header (the token) comes back in the body."""
    return Fault(status, {"message": "Problems parsing request"}, echo_headers=True)


def passthrough() -> Fault:
    return Fault(passthrough=True)


def hang(release: threading.Event) -> Fault:
    """A request that never answers while ``release`` is unset (a client stuck, to be killed)."""
    return Fault(502, "Bad Gateway", hang=release)


def graphql_partial(field_name: str, message: str = "Something went wrong while executing your query. "
                                                   "Please include `ABCD:1234` when reporting this issue.") -> Fault:
    return Fault(200, {"message": message}, partial_field=field_name)


class FakeGitHub(FakeService):
    """The in-memory GitHub and its HTTP server; use as a context manager or start()/stop()."""

    thread_name = "fake-github"

    def __init__(self, tokens: dict[str, dict] | None = None):
        super().__init__()
        self.repos: dict[str, Repo] = {}
        self.renamed: dict[str, str] = {}            # old full name -> new full name
        self.orgs: dict[str, list[str]] = defaultdict(list)
        # token -> {"login", "hidden": {repo,...}, "forbidden": {(repo, section),...}}
        self.tokens: dict[str, dict] = tokens if tokens is not None else {"test-token": {}}
        self.rate_limit = 5000
        self.remaining = 5000
        self.reset_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self.app_key_public: str | None = None      # PEM; enables GitHub App installation tokens
        self.installations: dict[str, int] = {}     # owner -> installation id

    # -- model ----------------------------------------------------------------------------------
    def reset(self, tokens: dict[str, dict] | None = None) -> None:
        """Empty model, faults and log (the server keeps running): one server per test module."""
        with self.lock:
            self.repos.clear()
            self.renamed.clear()
            self.orgs.clear()
            self.tokens = tokens if tokens is not None else {"test-token": {}}
            self.faults.clear()
            self.requests.clear()
            self.invalid_queries.clear()
            self.hanging = 0
            self.remaining = self.rate_limit
            self.app_key_public = None
            self.installations.clear()

    def add_repo(self, full_name: str, **kw) -> Repo:
        owner, name = full_name.split("/")
        repo = Repo(owner, name, **kw)
        self.repos[full_name.lower()] = repo
        self.orgs[owner].append(full_name)
        return repo

    def rename_repo(self, old: str, new: str) -> None:
        repo = self.repos.pop(old.lower())
        repo.owner, repo.name = new.split("/")
        self.repos[new.lower()] = repo
        self.renamed[old.lower()] = new
        self.orgs[old.split("/")[0]].remove(old)
        self.orgs[repo.owner].append(new)

    def delete_repo(self, full_name: str) -> None:
        self.repos.pop(full_name.lower())
        self.orgs[full_name.split("/")[0]].remove(full_name)

    def find_repo(self, full_name: str, follow_renames: bool = True) -> Repo | None:
        key = full_name.lower()
        if key in self.repos:
            return self.repos[key]
        if follow_renames and key in self.renamed:
            return self.repos.get(self.renamed[key].lower())
        return None

    def token_can_see(self, token_info: dict, full_name: str) -> bool:
        return full_name.lower() not in {h.lower() for h in token_info.get("hidden", set())}

    # -- counts ---------------------------------------------------------------------------------
    def counted(self, repo: str | None = None) -> int:
        """Requests that count against the rate limit (everything but 304s), optionally of one repo."""
        return sum(1 for r in self.requests if r["counted"] and (repo is None or r["repo"] == repo))

    # -- server ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.url + REST_PREFIX


class _Handler(FakeHandler):
    fake: FakeGitHub

    # -- plumbing -------------------------------------------------------------------------------
    def _send(self, status: int, body, headers: dict | None = None, *, counted: bool = True,
              repo: str | None = None, etag: bool = False) -> None:
        fake = self.fake
        raw = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        headers = dict(headers or {})
        if etag and status == 200 and self._etag(raw, headers):
            status, raw, counted = 304, b"", False
        with fake.lock:
            if counted and fake.remaining > 0:
                fake.remaining -= 1
            fake.requests.append({"method": self.command, "path": self._path, "query": self._query,
                                  "status": status, "counted": counted, "repo": repo,
                                  "variables": getattr(self, "_variables", None)})
            remaining = fake.remaining
        self.send_response(status)
        base = {"Content-Type": "application/json; charset=utf-8",
                "X-RateLimit-Limit": str(fake.rate_limit), "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Used": str(fake.rate_limit - remaining),
                "X-RateLimit-Reset": str(int(fake.reset_at.timestamp())),
                "X-RateLimit-Resource": "graphql" if self._path == GRAPHQL_PATH else "core",
                "Content-Length": str(len(raw))}
        base.update(headers)
        for k, v in base.items():
            self.send_header(k, v)
        self.end_headers()
        if raw:
            self.wfile.write(raw)

    def _token(self) -> dict | None:
        auth = self.headers.get("Authorization", "")
        parts = auth.split(" ", 1)
        if len(parts) != 2 or parts[0].lower() not in ("token", "bearer"):
            return None
        return self.fake.tokens.get(parts[1])

    def _serve_fault(self, fault: Fault, repo: str | None) -> None:
        headers = dict(fault.headers)
        if fault.echo_headers:
            sent = "\r\n".join(f"{k}: {v}" for k, v in self.headers.items())
            body = {"message": f"{fault.body['message']}; request was:\r\n{sent}"}
            return self._send(fault.status, body, headers, repo=repo)
        if fault.exhaust:
            with self.fake.lock:
                self.fake.remaining = 0
            headers["X-RateLimit-Reset"] = str(int(time.time()) + 3600)
        self._send(fault.status, fault.body, headers, repo=repo)

    # -- verbs ----------------------------------------------------------------------------------
    def _dispatch(self, method: str, body: bytes) -> None:
        try:
            if self._path == GRAPHQL_PATH and method == "POST":
                return self._graphql(body)
            if self._path.startswith(REST_PREFIX + "/app/installations/") and method == "POST":
                return self._installation_token()
            if self._path.startswith(REST_PREFIX + "/") and method == "GET":
                return self._rest(self._path[len(REST_PREFIX):])
            self._send(404, {"message": "Not Found"})
        except BrokenPipeError:
            pass

    # -- GraphQL --------------------------------------------------------------------------------
    def _graphql(self, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        variables = payload.get("variables") or {}
        self._variables = variables
        repo = f"{variables['owner']}/{variables['name']}" if "owner" in variables and "name" in variables else None
        token = self._token()
        if token is None:
            return self._send(401, {"message": "Bad credentials",
                                    "documentation_url": "https://docs.github.com/graphql"}, repo=repo)
        fault = self._fault()
        if fault and fault.partial_field is None:
            return self._serve_fault(fault, repo)
        result, invalid = graphql_api.execute(self.fake, token, payload.get("query", ""), variables)
        if invalid:
            with self.fake.lock:
                self.fake.invalid_queries.append((payload.get("query", ""), invalid))
        if fault and fault.partial_field:
            path = _null_field(result.get("data"), fault.partial_field)
            if path is not None:
                result.setdefault("errors", []).append({"message": fault.body["message"], "path": path,
                                                        "locations": [{"line": 1, "column": 1}]})
        self._send(200, result, repo=repo)

    # -- App installation tokens -----------------------------------------------------------------
    def _installation_token(self) -> None:
        auth = self.headers.get("Authorization", "")
        ok = False
        if auth.startswith("Bearer ") and self.fake.app_key_public:
            try:
                jwt.decode(auth[7:], self.fake.app_key_public, algorithms=["RS256"])
                ok = True
            except jwt.PyJWTError:
                ok = False
        if not ok:
            return self._send(401, {"message": "A JSON web token could not be decoded"})
        inst = self._path.rstrip("/").split("/")[-2]
        token = f"ghs_installation_{inst}"
        self.fake.tokens.setdefault(token, {"login": "cadence[bot]"})
        expires = datetime.now(UTC) + timedelta(hours=1)
        self._send(201, {"token": token, "expires_at": iso(expires), "permissions": {}})

    # -- REST -------------------------------------------------------------------------------------
    def _rest(self, path: str) -> None:
        fake = self.fake
        m = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", path)
        repo_name = f"{m.group(1)}/{m.group(2)}" if m else None
        if path.endswith("/installation") and self.headers.get("Authorization", "").startswith("Bearer "):
            owner = path.split("/")[2]
            if owner in fake.installations:
                return self._send(200, {"id": fake.installations[owner], "account": {"login": owner}})
            return self._send(404, {"message": "Not Found"})
        token = self._token()
        if token is None:
            return self._send(401, {"message": "Bad credentials",
                                    "documentation_url": "https://docs.github.com/rest"}, repo=repo_name)
        fault = self._fault()
        if fault:
            return self._serve_fault(fault, repo_name)
        if m:
            return self._repo_rest(token, repo_name, m.group(3) or "")
        m2 = re.match(r"^/orgs/([^/]+)/repos$", path)
        if m2:
            names = [n for n in fake.orgs.get(m2.group(1), []) if fake.token_can_see(token, n)]
            items = [self._repo_json(fake.find_repo(n)) for n in sorted(names)]
            return self._paginate(items, None)
        m3 = re.match(r"^/repositories/(\d+)$", path)
        if m3:
            for r in fake.repos.values():
                if r.id == int(m3.group(1)):
                    return self._send(200, self._repo_json(r), etag=True)
        return self._send(404, {"message": "Not Found"})

    def _repo_json(self, r: Repo) -> dict:
        return {"id": r.id, "name": r.name, "full_name": r.full_name, "private": r.private,
                "archived": False, "fork": False, "default_branch": r.default_branch,
                "owner": {"login": r.owner}, "html_url": f"https://github.example/{r.full_name}",
                "url": f"{self.fake.base_url}/repos/{r.full_name}", "created_at": iso(r.created_at)}

    def _repo_rest(self, token: dict, full: str, rest: str) -> None:
        fake = self.fake
        repo = fake.repos.get(full.lower())
        if repo is None and full.lower() in fake.renamed and not rest:
            target = fake.find_repo(full)
            location = f"{fake.base_url}/repositories/{target.id}"
            return self._send(301, {"message": "Moved Permanently", "url": location,
                                    "documentation_url": "https://docs.github.com/rest"},
                              {"Location": location}, repo=full)
        if repo is None or not fake.token_can_see(token, repo.full_name):
            return self._send(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
                              repo=full)
        if not rest:
            return self._send(200, self._repo_json(repo), repo=full, etag=True)
        if (repo.full_name, rest.split("/")[1]) in token.get("forbidden", set()):
            return self._send(403, {"message": "Resource not accessible by personal access token"}, repo=full)
        if rest == "/actions/workflows":
            wfs = [{"id": w.id, "name": w.name, "path": w.path, "state": "active"} for w in repo.workflows]
            return self._send(200, {"total_count": len(wfs), "workflows": wfs}, repo=full, etag=True)
        m = re.match(r"^/actions/workflows/([^/]+)/runs$", rest)
        if m:
            key = m.group(1)
            wf = next((w for w in repo.workflows if str(w.id) == key or w.path.split("/")[-1] == key), None)
            if wf is None:
                return self._send(404, {"message": "Not Found"}, repo=full)
            return self._runs(repo, wf)
        if rest == "/actions/runs":
            return self._runs(repo, None)
        m = re.match(r"^/actions/runs/(\d+)/jobs$", rest)
        if m:
            run = next((r for r in repo.actions_runs() if r["id"] == int(m.group(1))), None)
            if run is None:
                return self._send(404, {"message": "Not Found"}, repo=full)
            attempts = run.get("_attempts") or []
            if self._params.get("filter") != "all":
                attempts = attempts[-1:]
            jobs = [j for a in attempts for j in a["jobs"]]
            return self._paginate(jobs, repo.full_name, wrap=("jobs", len(jobs)))
        m = re.match(r"^/compare/(.+)\.\.\.(.+)$", rest)
        if m:
            return self._compare(repo, urllib.parse.unquote(m.group(1)), urllib.parse.unquote(m.group(2)))
        m = re.match(r"^/pulls/(\d+)/commits$", rest)
        if m and int(m.group(1)) in repo.pulls:
            oids = repo.pulls[int(m.group(1))].commit_oids[:PR_COMMITS_REST_CAP]
            return self._paginate([{"sha": o} for o in oids], full)
        return self._send(404, {"message": "Not Found"}, repo=full)

    def _runs(self, repo: Repo, wf) -> None:
        p = self._params
        runs = sorted(wf.runs if wf is not None else repo.actions_runs(),
                      key=lambda r: (r["created_at"], r["id"]), reverse=True)
        runs = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
        filtered = False
        if p.get("branch"):
            runs = [r for r in runs if r["head_branch"] == p["branch"]]
            filtered = True
        if p.get("status"):
            runs = [r for r in runs if p["status"] in (r["status"], r["conclusion"])]
            filtered = True
        if p.get("created"):
            lo, hi = _date_range(p["created"])
            runs = [r for r in runs if (lo is None or ts(r["created_at"]) >= lo)
                    and (hi is None or ts(r["created_at"]) <= hi)]
            filtered = True
        total = len(runs)
        if filtered:
            runs = runs[:RUNS_RESULT_CAP]
        self._paginate(runs, repo.full_name, wrap=("workflow_runs", total))

    def _compare(self, repo: Repo, base: str, head: str) -> None:
        def resolve(ref):
            return repo.branches.get(ref) or (ref if ref in repo.commits else None)

        b, h = resolve(base), resolve(head)
        if not b or not h:
            return self._send(404, {"message": "Not Found"}, repo=repo.full_name)
        hb, hh = repo.history(b), repo.history(h)
        common = [o for o in hh if o in set(hb)]
        if not common:
            return self._send(404, {"message": f"No common ancestor between {base} and {head}."},
                              repo=repo.full_name)
        merge_base = max(common, key=lambda o: repo.commits[o].committed_at)
        ahead = [o for o in hh if o not in set(repo.history(merge_base))]
        behind = [o for o in hb if o not in set(repo.history(merge_base))]
        status = ("identical" if b == h else "ahead" if not behind else "behind" if not ahead else "diverged")
        body = {"status": status, "ahead_by": len(ahead), "behind_by": len(behind),
                "total_commits": len(ahead),
                "base_commit": {"sha": b}, "merge_base_commit": {"sha": merge_base},
                "commits": [{"sha": o} for o in list(reversed(ahead))[:int(self._params.get("per_page", 250))]],
                "files": []}
        self._send(200, body, repo=repo.full_name, etag=True)

    def _paginate(self, items: list, repo: str | None, wrap: tuple[str, int] | None = None) -> None:
        per_page = min(int(self._params.get("per_page", 30)), 100)
        page = int(self._params.get("page", 1))
        chunk = items[(page - 1) * per_page: page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []

        def link(n):
            q = dict(self._params, page=str(n), per_page=str(per_page))
            return f"{self.fake.url}{self._path}?{urllib.parse.urlencode(q)}"

        if page < last:
            links += [f'<{link(page + 1)}>; rel="next"', f'<{link(last)}>; rel="last"']
        if page > 1:
            links += [f'<{link(1)}>; rel="first"', f'<{link(page - 1)}>; rel="prev"']
        headers = {"Link": ", ".join(links)} if links else {}
        body = {"total_count": wrap[1], wrap[0]: chunk} if wrap else chunk
        self._send(200, body, headers, repo=repo, etag=True)


def _date_range(expr: str):
    """GitHub search-style date filter: '>=2026-01-01', '<=…', '2026-01-01..2026-02-01'."""
    def day(s, end=False):
        s = s.strip()
        if "T" in s:
            return ts(s)
        d = ts(s + "T00:00:00Z")
        return d + timedelta(days=1) - timedelta(seconds=1) if end else d

    if ".." in expr:
        a, b = expr.split("..", 1)
        return (None if a in ("", "*") else day(a)), (None if b in ("", "*") else day(b, end=True))
    if expr.startswith(">="):
        return day(expr[2:]), None
    if expr.startswith(">"):
        return day(expr[1:], end=True) + timedelta(seconds=1), None
    if expr.startswith("<="):
        return None, day(expr[2:], end=True)
    if expr.startswith("<"):
        return None, day(expr[1:]) - timedelta(seconds=1)
    return day(expr), day(expr, end=True)


def _null_field(data, name: str, path=()):
    """Set the first occurrence of ``name`` in a GraphQL result to null; returns its path."""
    if isinstance(data, dict):
        for k, v in data.items():
            if k == name:
                data[k] = None
                return [*path, k]
            found = _null_field(v, name, (*path, k))
            if found is not None:
                return found
    elif isinstance(data, list):
        for i, v in enumerate(data):
            found = _null_field(v, name, (*path, i))
            if found is not None:
                return found
    return None


FakeGitHub.handler = _Handler
