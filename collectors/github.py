"""GitHub → ``changes``, ``deployments``, ``deployment_changes``, ``incidents`` (+ ``branch_commits``).

API: GitHub's GraphQL API for nearly everything, through PyGithub's requester (``base_url`` works
for GitHub Enterprise Server: ``https://HOST/api/v3`` → GraphQL at ``https://HOST/api/graphql``);
REST only where GraphQL cannot serve: Actions workflow runs (``/actions/workflows/{id}/runs``),
``/compare`` for a deployment made from outside the default branch, and ``/orgs/{org}/repos``.

Per repository, one GraphQL query (``REPO_QUERY``) carries a page of every entity at once, each part
switched on or off with ``@include``; the next request fetches the next page of each part that
still needs one, so a repository costs as many requests as its longest part has pages:

* changes: merged pull requests into the default branch, newest-updated first, 100 a page, each
  with its first commit (GraphQL lists every commit of a pull request; REST stops at 250), labels
  and first reviews (a pull request whose first 10 reviews are all by its author gets one more
  query for the rest);
* deployments, by the repo's signal: ``environments`` (GitHub deployments with their statuses; time
  = the first ``success`` status), ``workflow`` (runs of a deploy workflow on the default branch,
  REST, read in date windows when a filtered query passes GitHub's 1,000-result cap) or
  ``releases`` (published, non-prerelease); ``auto`` picks the first that has data, in that order;
* incidents: issues carrying ``incident_label``; GraphQL issues exclude pull requests; issues
  closed as not planned or duplicate are skipped (and removed if synced before);
* history: the default branch's first-parent chain, stored in ``branch_commits``: followed from
  the head through each merged pull request's merge commit and its first parent, and through
  ``history`` pages (100 commits) only where a commit no pull request explains stops the walk; each merged change goes to the first successful production deployment
  whose commit is at or after its merge commit on that chain (``deployment_changes``). A
  deployment whose commit is off the chain costs one ``compare`` against the head: "ahead" ships
  everything up to the head; "diverged" (a release or hotfix branch) ships, by ancestry, exactly
  the changes up to the merge base and is flagged; unrelated histories, commits of merged side
  branches and over-large divergence are flagged in ``sync_state.details`` and never guessed.

Incremental: ``sync_state`` (source ``github``) keeps per repo a cursor for each part — scopes
``OWNER/NAME:pulls`` (latest ``updatedAt``), ``:deployments`` (latest ``createdAt``, or the oldest
still-running deployment so it is read again), ``:incidents`` (latest ``updatedAt``), ``:history``
(the head commit) — and, on scope ``OWNER/NAME``, the chosen signal, ETags and flags. A run reads
newest-first and stops at the cursor; rows, chain, links and cursors of a repo are written in one
short transaction after its pages are read, so a killed run loses nothing and a re-run duplicates
nothing. A re-sync with nothing new costs one GraphQL request per repository (REST reads are
conditional: a 304 does not count against the rate limit).
"""

from __future__ import annotations

import bisect
import fnmatch
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cadence.core.config import Config
from cadence.core.errors import CadenceError, ConfigError, SourceAuthError, SourceError, SourceRateLimitError
from collectors.github_actions import ActionsFetcher
from collectors.github_client import TOKEN_ENV, GitHubClient, GitHubHTTPError, make_auth
from collectors.pipelines import write_pipeline_rows
from warehouse import read_cursor, record_sync_error, upsert_rows, write_connection, write_cursor
from warehouse.state import read_details

log = logging.getLogger(__name__)

# ``progress(repo, message, state)`` is told of each repository event; ``state`` is one of
# PROGRESS_STATES: "start" (about to read), "page" (a GraphQL page read; message = counts so far),
# "done" (written; message = what), "failed" (message = why), "skipped" (the run stopped first).
ProgressFn = Callable[[str, str, str], None]
PROGRESS_STATES = ("start", "page", "done", "failed", "skipped")

SOURCE = "github"
DEFAULT_BASE_URL = "https://api.github.com"
SIGNALS = ("auto", "environments", "workflow", "releases")
CONFIG_KEYS = {"base_url", "repos", "org", "include", "exclude", "deployments", "workflow",
               "environments", "incident_label", "service_label_prefix", "severity_label_prefix",
               "max_rate_limit_wait", "parallelism", "since", "repo", "app_installation_id",
               "min_request_interval", "token_env", "actions"}
REPO_KEYS = {"deployments", "workflow", "environments", "environment", "service"}
REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")

PAGE = 100                    # GitHub's largest connection page
RESYNC_PULL_PAGE = 25         # a re-sync's first pages: usually little is new
RESYNC_DEPLOY_PAGE = 25
FIRST_REVIEWS = 10            # reviews read with each pull request
RUNS_RESULT_CAP = 1000        # GitHub serves at most 1,000 results of a filtered runs query
COMPARE_LIMIT = 30            # compares per repo and run; the rest wait for the next run
COMPARE_MAX_AHEAD = 250       # a deploy branch further ahead than this is flagged, not used
UNFINISHED_HORIZON = timedelta(days=3)   # a deployment running longer is not waited for
HISTORY_SLACK = timedelta(days=1)
MAX_ROUNDS = 100_000
MAX_FLAGS = 200

PERMISSION = {  # GraphQL field → the fine-grained permission that reads it
    "pullRequests": "Pull requests", "pullRequest": "Pull requests", "deployments": "Deployments",
    "environments": "Deployments", "issues": "Issues", "releases": "Contents",
    "defaultBranchRef": "Contents", "historyFrom": "Contents", "actions": "Actions",
}

_FRAGMENTS = """
fragment CadenceHistory on CommitHistoryConnection {
  pageInfo { hasNextPage endCursor }
  nodes { oid committedDate parents(first: 1) { nodes { oid } } }
}
fragment CadencePull on PullRequest {
  number title url createdAt updatedAt mergedAt baseRefName
  author { login }
  mergeCommit { oid committedDate parents(first: 1) { nodes { oid } } }
  labels(first: 20) { nodes { name } }
  commits(first: 1) { totalCount nodes { commit { authoredDate committedDate } } }
  reviews(first: %(reviews)d, states: [APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED]) {
    totalCount nodes { author { login } submittedAt }
  }
}
""" % {"reviews": FIRST_REVIEWS}

REPO_QUERY = """
query CadenceRepoPage(
  $owner: String!, $name: String!,
  $withHead: Boolean!, $withHistory: Boolean!, $histHead: GitObjectID,
  $withPulls: Boolean!, $prFirst: Int!, $prAfter: String,
  $withDeployments: Boolean!, $depFirst: Int!, $depAfter: String, $envs: [String!],
  $withIssues: Boolean!, $issAfter: String, $label: String!, $issSince: DateTime,
  $withReleases: Boolean!, $relAfter: String
) {
  rateLimit { remaining limit resetAt cost }
  repository(owner: $owner, name: $name) {
    nameWithOwner name createdAt isArchived
    defaultBranchRef @include(if: $withHead) {
      name
      target { ... on Commit { oid history(first: 100) { ...CadenceHistory } } }
    }
    historyFrom: object(oid: $histHead) @include(if: $withHistory) {
      ... on Commit { history(first: 100) { ...CadenceHistory } }
    }
    pullRequests(states: [MERGED], first: $prFirst, after: $prAfter,
                 orderBy: {field: UPDATED_AT, direction: DESC}) @include(if: $withPulls) {
      pageInfo { hasNextPage endCursor }
      nodes { ...CadencePull }
    }
    deployments(first: $depFirst, after: $depAfter, environments: $envs,
                orderBy: {field: CREATED_AT, direction: DESC}) @include(if: $withDeployments) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId environment commitOid createdAt state
        latestStatus { state createdAt logUrl }
        statuses(first: 20) { nodes { state createdAt } }
      }
    }
    issues(first: 100, after: $issAfter, labels: [$label], filterBy: {since: $issSince},
           orderBy: {field: UPDATED_AT, direction: DESC}) @include(if: $withIssues) {
      pageInfo { hasNextPage endCursor }
      nodes {
        number title url createdAt updatedAt closedAt state stateReason
        labels(first: 20) { nodes { name } }
      }
    }
    releases(first: 100, after: $relAfter, orderBy: {field: CREATED_AT, direction: DESC})
        @include(if: $withReleases) {
      pageInfo { hasNextPage endCursor }
      nodes { databaseId tagName isDraft isPrerelease createdAt publishedAt url tagCommit { oid } }
    }
  }
}
""" + _FRAGMENTS

REVIEWS_QUERY = """
query CadenceReviews($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviews(first: 100, after: $after, states: [APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED]) {
        pageInfo { hasNextPage endCursor }
        nodes { author { login } submittedAt }
      }
    }
  }
}
"""


# -- configuration ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RepoSettings:
    """Per-repository choices (``[sources.github.repo."OWNER/NAME"]``)."""

    deployments: str = "auto"
    workflow: str | None = None
    environments: tuple[str, ...] = ()
    environment: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class GitHubSettings:
    """``[sources.github]`` validated."""

    base_url: str = DEFAULT_BASE_URL
    repos: tuple[str, ...] = ()
    org: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    incident_label: str = "incident"
    service_label_prefix: str = "service:"
    severity_label_prefix: str = "severity:"
    max_rate_limit_wait: float = 300.0
    parallelism: int = 4
    since: datetime | None = None
    app_installation_id: int | None = None
    min_request_interval: float = 0.25
    token_env: str = TOKEN_ENV            # the variable holding the token (never the token itself)
    actions: bool = True                  # GitHub Actions runs and jobs (collectors/github_actions.py)
    defaults: RepoSettings = field(default_factory=RepoSettings)
    per_repo: dict[str, RepoSettings] = field(default_factory=dict)

    def for_repo(self, name: str) -> RepoSettings:
        return self.per_repo.get(name.lower(), self.defaults)

    def selected(self, names: Iterable[str]) -> list[str]:
        """``names`` kept by the include/exclude patterns (fnmatch, case-insensitive)."""
        out = []
        for n in names:
            low = n.lower()
            if self.include and not any(fnmatch.fnmatchcase(low, p.lower()) for p in self.include):
                continue
            if any(fnmatch.fnmatchcase(low, p.lower()) for p in self.exclude):
                continue
            out.append(n)
        return out

    @classmethod
    def from_config(cls, config: Config) -> GitHubSettings:
        raw = config.source("github")
        where = f"{config.path}: sources.github" if config.path else "sources.github"

        def fail(key, problem):
            return ConfigError(f"{where}.{key}: {problem}")

        unknown = sorted(set(raw) - CONFIG_KEYS)
        if unknown:
            raise fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(CONFIG_KEYS))}")

        def strings(key, value):
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise fail(key, f"must be a list of non-empty strings, got {value!r}")
            return tuple(v.strip() for v in value)

        def number(key, value, lo, hi, kind=float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise fail(key, f"must be a number from {lo} to {hi}, got {value!r}")
            return kind(value)

        def repo_settings(prefix, body, base: RepoSettings) -> RepoSettings:
            def key(k):
                return f"{prefix}.{k}" if prefix else k

            if not isinstance(body, dict):
                raise fail(prefix, "must be a table")
            kw = dict(base.__dict__)
            if "deployments" in body:
                if body["deployments"] not in SIGNALS:
                    raise fail(key("deployments"), f"must be one of {', '.join(SIGNALS)}, got {body['deployments']!r}")
                kw["deployments"] = body["deployments"]
            for k in ("workflow", "environment", "service"):
                if k in body:
                    if not isinstance(body[k], str) or not body[k].strip():
                        raise fail(key(k), "must be a non-empty string")
                    kw[k] = body[k].strip()
            if "environments" in body:
                kw["environments"] = strings(key("environments"), body["environments"])
            if kw["deployments"] == "workflow" and not kw.get("workflow"):
                raise fail(key("workflow"), 'deployments = "workflow" needs the workflow\'s file name '
                                            '(e.g. "deploy.yml") or name')
            return RepoSettings(**kw)

        kw: dict[str, Any] = {}
        if "base_url" in raw:
            url = raw["base_url"]
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
                raise fail("base_url", f'must be an http(s) URL such as "https://github.example.com/api/v3", got {url!r}')
            kw["base_url"] = url.rstrip("/")
        if "repos" in raw:
            repos = strings("repos", raw["repos"])
            for r in repos:
                if not REPO_NAME.match(r):
                    raise fail("repos", f'"{r}" is not OWNER/NAME')
            kw["repos"] = repos
        if "org" in raw:
            if not isinstance(raw["org"], str) or not re.match(r"^[A-Za-z0-9_.-]+$", raw["org"]):
                raise fail("org", f"must be an organisation login, got {raw['org']!r}")
            kw["org"] = raw["org"]
        for key in ("include", "exclude"):
            if key in raw:
                kw[key] = strings(key, raw[key])
        for key in ("incident_label", "service_label_prefix", "severity_label_prefix"):
            if key in raw:
                if not isinstance(raw[key], str) or not raw[key].strip():
                    raise fail(key, "must be a non-empty string")
                kw[key] = raw[key].strip()
        if "max_rate_limit_wait" in raw:
            kw["max_rate_limit_wait"] = number("max_rate_limit_wait", raw["max_rate_limit_wait"], 0, 86400)
        if "min_request_interval" in raw:
            kw["min_request_interval"] = number("min_request_interval", raw["min_request_interval"], 0, 10)
        if "token_env" in raw:   # checked (and registered as a secret) by cadence.core.config
            kw["token_env"] = str(raw["token_env"])
        if "parallelism" in raw:
            kw["parallelism"] = number("parallelism", raw["parallelism"], 1, 16, int)
        if "app_installation_id" in raw:
            kw["app_installation_id"] = number("app_installation_id", raw["app_installation_id"], 1, 10**12, int)
        if "actions" in raw:
            if not isinstance(raw["actions"], bool):
                raise fail("actions", f"must be true or false, got {raw['actions']!r}")
            kw["actions"] = raw["actions"]
        if "since" in raw:
            value = raw["since"]
            if isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError as exc:
                    raise fail("since", f"must be a date YYYY-MM-DD, got {value!r}") from exc
            if isinstance(value, datetime):
                value = value.date()
            if not isinstance(value, date):
                raise fail("since", f"must be a date YYYY-MM-DD, got {value!r}")
            kw["since"] = datetime(value.year, value.month, value.day)
        defaults = repo_settings("", {k: raw[k] for k in ("deployments", "workflow", "environments")
                                      if k in raw}, RepoSettings()) if any(
            k in raw for k in ("deployments", "workflow", "environments")) else RepoSettings()
        per_repo = {}
        repo_tables = raw.get("repo", {})
        if not isinstance(repo_tables, dict):
            raise fail("repo", 'must be a table of [sources.github.repo."OWNER/NAME"] sections')
        for name, body in repo_tables.items():
            if not REPO_NAME.match(name):
                raise fail(f"repo.{name}", "section name must be OWNER/NAME")
            bad = sorted(set(body) - REPO_KEYS) if isinstance(body, dict) else []
            if bad:
                raise fail(f'repo."{name}".{bad[0]}', f"unknown key; expected one of {', '.join(sorted(REPO_KEYS))}")
            per_repo[name.lower()] = repo_settings(f'repo."{name}"', body, defaults)
        kw["defaults"] = defaults
        kw["per_repo"] = per_repo
        settings = cls(**kw)
        return settings


# -- small helpers --------------------------------------------------------------------------------

def parse_time(value: str | None) -> datetime | None:
    """GitHub's ISO 8601 → naive UTC datetime (the warehouse stores UTC without offset)."""
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def iso(dt: datetime | None) -> str | None:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ") if dt else None


def change_id(repo: str, number: int) -> str:
    return f"github:{repo}#{number}"


def deployment_id(repo: str, kind: str, ident) -> str:
    return f"github:{repo}:{kind}:{ident}"


def incident_id(repo: str, number: int) -> str:
    return f"github:{repo}:issue:{number}"


class RepoFailure(SourceError):
    """One repository could not be synced; the others carry on."""


class RepoAccessError(SourceAuthError):
    """The token cannot read (part of) one repository; the others carry on."""


@dataclass
class Page:
    after: str | None = None
    active: bool = True
    pages: int = 0


@dataclass
class RepoPlan:
    """What a repo's sync starts from: cursors, saved details and the known first-parent chain."""

    name: str
    settings: RepoSettings
    cursors: dict[str, str | None]
    details: dict
    chain: dict[str, int]
    actions_cursor: str | None = None        # collectors/github_actions.py: scope OWNER/NAME:actions
    actions_details: dict = field(default_factory=dict)
    actions_known: dict = field(default_factory=dict)


@dataclass
class RepoResult:
    name: str
    changes: list[dict] = field(default_factory=list)
    deployments: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)
    dropped_incidents: list[str] = field(default_factory=list)
    chain_rows: list[dict] = field(default_factory=list)
    chain_drop_above: int | None = None       # force-push: drop known commits above this position
    chain_reset: bool = False                 # unrelated history: drop the whole known chain
    cursors: dict[str, str | None] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    flags: list[dict] = field(default_factory=list)
    requests: int = 0
    pages: dict[str, int] = field(default_factory=dict)
    actions: Any = None                       # github_actions.ActionsResult (None: not read)


@dataclass
class SyncReport:
    """What ``sync`` did: per-table rows, failures by repo, requests and rate limit left."""

    repos: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=lambda: {"changes": 0, "deployments": 0,
                                                          "deployment_changes": 0, "incidents": 0})
    requests: int = 0
    not_modified: int = 0
    rate_remaining: int | None = None
    rate_limit: int | None = None
    flags: dict[str, list[dict]] = field(default_factory=dict)


# -- the first-parent chain ------------------------------------------------------------------------

class ChainWalker:
    """Follows first parents from the head through history pages until it meets a commit already
    stored (a normal push), the root, or a stop chosen by the caller."""

    def __init__(self, known: dict[str, int]):
        self.known = known
        self.parent: dict[str, str | None] = {}
        self.date: dict[str, datetime | None] = {}
        self.new: list[str] = []               # newest first
        self.tip: str | None = None
        self.connected_at: str | None = None
        self.reached_root = False

    def start(self, head: str) -> None:
        self.tip = head
        self._advance()

    def add_page(self, nodes: list[dict]) -> None:
        for n in nodes:
            parents = (n.get("parents") or {}).get("nodes") or []
            self.parent[n["oid"]] = parents[0]["oid"] if parents else None
            self.date[n["oid"]] = parse_time(n.get("committedDate"))
        self._advance()

    def _advance(self) -> None:
        while self.tip is not None and self.connected_at is None:
            if self.tip in self.known:
                self.connected_at = self.tip
                return
            if self.tip not in self.parent:
                return
            self.new.append(self.tip)
            self.tip = self.parent[self.tip]
        if self.tip is None:
            self.reached_root = True

    @property
    def done(self) -> bool:
        return self.connected_at is not None or self.reached_root

    def oldest_date(self) -> datetime | None:
        return self.date.get(self.new[-1]) if self.new else None

    def located(self, sha: str) -> bool:
        return sha in self.known or sha in self._new_set()

    def _new_set(self) -> set[str]:
        if getattr(self, "_cache_len", -1) != len(self.new):
            self._cache = set(self.new)
            self._cache_len = len(self.new)
        return self._cache


def attribute_changes(changes: list[tuple[str, int]], deployments: list[tuple[str, int, datetime]]
                      ) -> list[tuple[str, str]]:
    """(change id, deployment id) pairs: each change (id, merge position) goes to the deployment
    (id, position, finished_at) that finished first among those at or after its position."""
    if not deployments:
        return []
    deps = sorted(deployments, key=lambda d: d[1])
    positions = [d[1] for d in deps]
    # suffix_best[i]: the earliest-finishing deployment among deps[i:]
    suffix_best: list[tuple[datetime, str]] = [None] * len(deps)  # type: ignore[list-item]
    best = None
    for i in range(len(deps) - 1, -1, -1):
        cand = (deps[i][2], deps[i][0])
        best = cand if best is None or cand < best else best
        suffix_best[i] = best
    out = []
    for cid, pos in changes:
        i = bisect.bisect_left(positions, pos)
        if i < len(deps):
            out.append((cid, suffix_best[i][1]))
    return out


# -- reading one repository ---------------------------------------------------------------------------

class RepoFetcher:
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
        self.requests_before = client.requests

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
        self.result.requests = self.client.requests - self.requests_before
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

    def _pulls(self, conn: dict, page: Page) -> None:
        times, merges = [], []
        for n in conn.get("nodes") or []:
            if n is None:
                continue
            updated = parse_time(n.get("updatedAt"))
            times.append(updated)
            self._note("pulls", updated)
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

    @property
    def _needs_reviews(self) -> list:
        if not hasattr(self, "_reviews_todo"):
            self._reviews_todo = []
        return self._reviews_todo

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
        for n in conn.get("nodes") or []:
            if n is None:
                continue
            created = parse_time(n.get("createdAt"))
            times.append(created)
            self._note("deployments", created)
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
        for n in conn.get("nodes") or []:
            if n is None:
                continue
            self._note("incidents", parse_time(n.get("updatedAt")))
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
        for n in conn.get("nodes") or []:
            if n is None:
                continue
            created = parse_time(n.get("createdAt"))
            times.append(created)
            self._note("releases", created)
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

    @property
    def _release_rows(self) -> list:
        if not hasattr(self, "_releases_seen"):
            self._releases_seen = []
        return self._releases_seen

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

    # -- workflow runs (REST) --------------------------------------------------------------------------
    def _find_workflow(self) -> dict | None:
        if hasattr(self, "_workflow"):
            return self._workflow
        self._workflow = self._lookup_workflow()
        return self._workflow

    def _lookup_workflow(self) -> dict | None:
        wanted = self.plan.settings.workflow
        etags = self.details.setdefault("etags", {})
        path = f"/repos/{self.repo}/actions/workflows"
        try:
            resp = self.client.get(path, {"per_page": 100}, etag=etags.get(path),
                                   what=f"{self.repo} workflows")
        except GitHubHTTPError as exc:
            if exc.status in (403, 404):
                if wanted:
                    raise RepoAccessError(f'The token cannot list Actions workflows of "{self.repo}" '
                                          f'({exc.status}); grant it "Actions: read-only".') from exc
                return None
            raise
        if resp.status == 304:
            workflows = self.details.get("workflows") or []
        else:
            workflows = [{"id": w["id"], "name": w["name"], "path": w["path"]}
                         for w in (resp.data or {}).get("workflows", [])]
            self.details["workflows"] = workflows
            if resp.headers.get("etag"):
                etags[path] = resp.headers["etag"]
        if wanted:
            low = wanted.lower()
            found = next((w for w in workflows if w["name"].lower() == low
                          or w["path"].lower().rsplit("/", 1)[-1] == low or str(w["id"]) == wanted), None)
            if found is None:
                raise RepoFailure(f'Workflow "{wanted}" not found in {self.repo}; set [sources.github.repo."'
                                  f'{self.repo}"] workflow to a file name such as "deploy.yml".')
            return found
        return next((w for w in workflows if "deploy" in w["name"].lower()
                     or "deploy" in w["path"].lower().rsplit("/", 1)[-1]), None)

    def _workflow_runs(self) -> None:
        workflow = self._find_workflow()
        if workflow is None or not self.default_branch:
            return
        self.details["workflow"] = {"id": workflow["id"], "name": workflow["name"]}
        path = f"/repos/{self.repo}/actions/workflows/{workflow['id']}/runs"
        cursor = self.plan.cursors.get("deployments")
        lo = parse_time(cursor) or self.settings.since
        runs = self._runs_window(path, lo, None, conditional=True)
        env = self._production_name()
        for run in runs:
            conclusion, status = run.get("conclusion"), run.get("status")
            created = parse_time(run.get("created_at"))
            self._note("deployments", created)
            if status != "completed":
                state = "in_progress"
                if created and self.now - created < UNFINISHED_HORIZON:
                    self.unfinished.append(created)
            elif conclusion == "success":
                state = "success"
            elif conclusion in ("failure", "timed_out", "startup_failure"):
                state = "failure"
            elif conclusion == "cancelled":
                state = "cancelled"
            else:   # skipped, neutral, action_required, stale: not a deployment attempt
                continue
            if state == "success" and run.get("head_sha"):
                self.targets.setdefault(run["head_sha"], created)
            self.result.deployments.append({
                "id": deployment_id(self.repo, "run", run["id"]), "repo": self.repo,
                "service": self.service, "environment": env, "sha": run.get("head_sha"),
                "status": state, "started_at": parse_time(run.get("run_started_at")) or created,
                "finished_at": parse_time(run.get("updated_at")) if status == "completed" else None,
                "url": run.get("html_url"), "source": SOURCE})

    def _runs_window(self, path: str, lo: datetime | None, hi: datetime | None, *,
                     conditional: bool = False) -> list[dict]:
        """Runs created in [lo, hi]; a window past GitHub's 1,000-result cap is split in halves."""
        params = {"branch": self.default_branch, "per_page": PAGE}
        if lo or hi:
            params["created"] = f"{iso(lo) if lo else '*'}..{iso(hi) if hi else '*'}"
        etags = self.details.setdefault("etags", {})
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        resp = self.client.get(path, params, etag=etags.get(key) if conditional else None,
                               what=f"{self.repo} workflow runs")
        if resp.status == 304:
            return []
        body = resp.data or {}
        total = body.get("total_count", 0)
        if total > RUNS_RESULT_CAP:
            start = lo or parse_time(self.details.get("created_at")) or datetime(2008, 1, 1)
            end = hi or self.now
            if end - start > timedelta(minutes=1):
                mid = start + (end - start) / 2
                log.info("github %s: %d runs %s..%s, past the %d-result cap; splitting the window",
                         self.repo, total, iso(start), iso(end), RUNS_RESULT_CAP)
                return (self._runs_window(path, mid + timedelta(seconds=1), end)
                        + self._runs_window(path, start, mid))
        if conditional and resp.headers.get("etag"):
            etags[key] = resp.headers["etag"]
        runs = list(body.get("workflow_runs", []))
        next_url = _next_link(resp.headers.get("link"))
        while next_url:
            resp = self.client.get(next_url, what=f"{self.repo} workflow runs")
            runs += (resp.data or {}).get("workflow_runs", [])
            next_url = _next_link(resp.headers.get("link"))
        return runs

    # -- history and compare ------------------------------------------------------------------------------
    def _history_needs_more(self, parts: dict[str, Page]) -> bool:
        """Whether the next request should read history from where the first-parent walk stalled.

        Merged pull requests carry their merge commit's first parent, so on a branch that only
        takes pull requests the walk goes down the chain as pull request pages arrive; history is
        read only where it stalls on a commit no pull request explains (a direct push, the commits
        of a rebase merge). While pull request pages are still coming, a stall waits for them
        unless they have already passed the stalled commit's time."""
        w = self.walker
        if w.done or w.tip is None:
            return False
        if not w.known and not (parts["pulls"].active or parts["deployments"].active
                                or parts["releases"].active):
            missing = [t for sha, t in self.targets.items() if not w.located(sha)]
            if not missing:
                return False
            dated = [t for t in missing if t is not None]
            oldest = w.oldest_date()
            if dated and oldest is not None:
                bound = min(dated) - HISTORY_SLACK
                if self.settings.since is not None:
                    bound = max(bound, self.settings.since - HISTORY_SLACK)
                if oldest < bound:
                    return False
        if parts["pulls"].active:
            child = w.oldest_date()
            if child is None or self.min_updated is None or self.min_updated >= child:
                return False    # the next pull request page may explain the stalled commit
        return True

    def _finish_chain(self) -> None:
        w, r = self.walker, self.result
        if not self.head:
            return
        new = w.new
        if w.connected_at is not None:
            base = w.known[w.connected_at]
            stale = [s for s, p in w.known.items() if p > base]
            if stale:
                r.chain_drop_above = base
                self._flag("history_rewritten", self.head,
                           f"the default branch was force-pushed: {len(stale)} commits after "
                           f"{w.connected_at[:12]} are no longer on it; their deployments are re-attributed")
        elif w.known:
            r.chain_reset = True
            base = -1
            self._flag("history_unrelated", self.head,
                       "the default branch no longer shares history with the stored one; "
                       "the stored first-parent chain was replaced")
        else:
            base = -1
        n = len(new)
        for i, sha in enumerate(new):
            r.chain_rows.append({"repo": self.repo, "sha": sha, "position": base + n - i,
                                 "committed_at": w.date.get(sha), "source": SOURCE})

    def _compare_off_chain(self) -> None:
        """A successful production deployment whose commit is not on the default branch's first
        parent chain: one compare against the head, cached by commit. Only ancestry is used (see
        the module docstring); whatever it cannot place is flagged rather than guessed."""
        if not self.head:
            return
        located = set(self.walker.known) | set(self.walker.new)
        if self.result.chain_reset:
            located = set(self.walker.new)
        cache = self.details.setdefault("compare", {})
        deps = [d for d in self.result.deployments
                if d["status"] == "success" and d["environment"].lower() in self.production
                and d["sha"] and d["sha"] not in located]
        oldest_chain = self.walker.oldest_date()
        todo = []
        for d in deps:
            if d["sha"] in cache:
                continue
            if (not self.walker.reached_root and oldest_chain and d["started_at"]
                    and d["started_at"] < oldest_chain and not self.walker.known):
                continue    # older than the history read: outside the synced range
            todo.append(d)
        seen = set()
        for d in todo:
            sha = d["sha"]
            if sha in seen:
                continue
            seen.add(sha)
            if len(seen) > COMPARE_LIMIT:
                self._flag("compare_deferred", sha, f"more than {COMPARE_LIMIT} off-branch deployments; "
                                                    "the rest are compared on the next run")
                break
            cache[sha] = self._compare(sha)
            entry = cache[sha]
            if entry["status"] != "ahead":
                self._flag(f"compare_{entry['status']}", sha, entry["note"])

    def _compare(self, sha: str) -> dict:
        path = f"/repos/{self.repo}/compare/{self.head}...{sha}"
        try:
            resp = self.client.get(path, {"per_page": 1}, what=f"{self.repo} compare {sha[:12]}")
        except GitHubHTTPError as exc:
            if exc.status == 404:
                return {"status": "unrelated", "base": None,
                        "note": f"deployed commit {sha[:12]} shares no history with {self.default_branch} "
                                f"({exc.message or 'not found'}); not attributed"}
            raise
        body = resp.data or {}
        status = body.get("status")
        ahead = body.get("ahead_by") or 0
        base = (body.get("merge_base_commit") or {}).get("sha")
        if status == "ahead" and ahead > COMPARE_MAX_AHEAD:
            return {"status": "too_large", "base": base,
                    "note": f"deployed commit {sha[:12]} is {ahead} commits ahead of {self.default_branch} "
                            f"(more than {COMPARE_MAX_AHEAD}); not attributed"}
        if status in ("ahead", "identical"):
            return {"status": "ahead", "base": base or self.head, "note": ""}
        if status == "behind":
            return {"status": "off_chain", "base": None,
                    "note": f"deployed commit {sha[:12]} is inside {self.default_branch}'s history but not on "
                            "its first-parent chain (a commit of a merged branch); not attributed"}
        if ahead > COMPARE_MAX_AHEAD or not base:
            return {"status": "too_large", "base": base,
                    "note": f"deployed commit {sha[:12]} diverged from {self.default_branch} by {ahead} "
                            f"commits (more than {COMPARE_MAX_AHEAD}); not attributed"}
        # Diverged (a release or hotfix branch cut earlier): by ancestry it ships exactly the
        # default branch's changes up to the merge base, and none merged after it.
        return {"status": "diverged", "base": base,
                "note": f"deployed commit {sha[:12]} diverged from {self.default_branch} ({ahead} ahead, "
                        f"{body.get('behind_by')} behind): credited only with changes up to the merge base "
                        f"{base[:12]}"}

    def _flag(self, kind: str, ref: str, message: str) -> None:
        log.warning("github %s: %s", self.repo, message)
        self.result.flags.append({"kind": kind, "ref": ref, "message": message})

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


def _next_link(link: str | None) -> str | None:
    if not link:
        return None
    for part in link.split(","):
        m = re.match(r'\s*<([^>]+)>;\s*rel="next"', part)
        if m:
            return m.group(1)
    return None


# -- writing ----------------------------------------------------------------------------------------

ENTITIES = ("pulls", "deployments", "incidents", "releases", "history")


def load_plan(con, repo: str, settings: RepoSettings) -> RepoPlan:
    cursors = {e: read_cursor(con, SOURCE, f"{repo}:{e}") for e in ENTITIES}
    details = read_details(con, SOURCE, repo)
    chain = dict(con.execute("SELECT sha, position FROM branch_commits WHERE repo = ?", [repo]).fetchall())
    known = {rid: (attempt, status, iso(finished)) for rid, attempt, status, finished in con.execute(
        "SELECT id, attempt, status, finished_at FROM pipeline_runs WHERE repo = ? AND source = ? "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY attempt DESC) = 1", [repo, SOURCE]).fetchall()}
    return RepoPlan(repo, settings, cursors, details, chain, read_cursor(con, SOURCE, f"{repo}:actions"),
                    read_details(con, SOURCE, f"{repo}:actions"), known)


def write_result(con, result: RepoResult, production: Iterable[str]) -> dict[str, int]:
    """Upsert one repo's rows, chain and links, and move its cursors, in the caller's transaction."""
    repo = result.name
    rows = {"changes": upsert_rows(con, "changes", result.changes),
            "deployments": upsert_rows(con, "deployments", result.deployments),
            "incidents": upsert_rows(con, "incidents", result.incidents)}
    for iid in result.dropped_incidents:
        con.execute("DELETE FROM incidents WHERE id = ?", [iid])
    if result.chain_reset:
        con.execute("DELETE FROM branch_commits WHERE repo = ?", [repo])
    elif result.chain_drop_above is not None:
        con.execute("DELETE FROM branch_commits WHERE repo = ? AND position > ?", [repo, result.chain_drop_above])
    upsert_rows(con, "branch_commits", result.chain_rows)
    rows["deployment_changes"] = link_deployments(con, repo, production, result.details.get("compare", {}))
    if result.actions is not None:
        rows.update(write_pipeline_rows(con, result.actions.runs, result.actions.jobs))
        write_cursor(con, SOURCE, f"{repo}:actions", result.actions.cursor,
                     rows_written=rows["pipeline_runs"] + rows["pipeline_jobs"], details=result.actions.details)
    total = sum(rows.values())
    for entity, cursor in result.cursors.items():
        if cursor is not None:
            write_cursor(con, SOURCE, f"{repo}:{entity}", cursor)
    write_cursor(con, SOURCE, repo, result.cursors.get("history"), rows_written=total, details=result.details)
    return rows


def link_deployments(con, repo: str, production: Iterable[str], compare: dict) -> int:
    """Recompute this repo's ``deployment_changes`` from the stored chain (explicit links)."""
    positions = dict(con.execute("SELECT sha, position FROM branch_commits WHERE repo = ?", [repo]).fetchall())
    envs = sorted({e.lower() for e in production})
    marks = ", ".join("?" for _ in envs)
    deps = con.execute(
        f"SELECT id, sha, finished_at FROM deployments WHERE repo = ? AND source = ? AND status = 'success' "
        f"AND finished_at IS NOT NULL AND lower(environment) IN ({marks})", [repo, SOURCE, *envs]).fetchall()
    placed = []
    for did, sha, finished in deps:
        pos = positions.get(sha)
        if pos is None:
            entry = compare.get(sha) or {}
            if entry.get("status") in ("ahead", "diverged"):
                pos = positions.get(entry.get("base"))
        if pos is not None:
            placed.append((did, pos, finished))
    changes = [(cid, positions[sha]) for cid, sha in con.execute(
        "SELECT id, merge_sha FROM changes WHERE repo = ? AND source = ? AND merge_sha IS NOT NULL",
        [repo, SOURCE]).fetchall() if sha in positions]
    pairs = attribute_changes(changes, placed)
    con.execute("DELETE FROM deployment_changes WHERE source = ? AND change_id IN "
                "(SELECT id FROM changes WHERE repo = ? AND source = ?)", [SOURCE, repo, SOURCE])
    return upsert_rows(con, "deployment_changes",
                       [{"deployment_id": d, "change_id": c, "source": SOURCE} for c, d in pairs])


# -- the sync -----------------------------------------------------------------------------------------

def list_org_repos(client: GitHubClient, db_path, org: str) -> list[str]:
    """Every repository of ``org`` the token can see; pages re-read conditionally (304 is free)."""
    scope = f"org:{org}"
    with write_connection(db_path) as con:
        cached = read_details(con, SOURCE, scope).get("pages", [])
    pages, url, params, i = [], f"/orgs/{org}/repos", {"per_page": PAGE, "type": "all"}, 0
    changed = False
    while url:
        old = cached[i] if i < len(cached) and not changed else None
        try:
            resp = client.get(url, params, etag=old["etag"] if old else None, what=f"repositories of {org}")
        except GitHubHTTPError as exc:
            if exc.status == 404:
                raise SourceError(f'Organisation "{org}" not found, or the token cannot list its repositories; '
                                  "check [sources.github] org and the token's access.") from exc
            raise
        if resp.status == 304 and old:
            pages.append(old)
            url, params = old.get("next"), None
        else:
            changed = True
            names = [r["full_name"] for r in resp.data or [] if not r.get("archived")]
            nxt = _next_link(resp.headers.get("link"))
            pages.append({"etag": resp.headers.get("etag"), "names": names, "next": nxt})
            url, params = nxt, None
        i += 1
    with write_connection(db_path) as con:
        write_cursor(con, SOURCE, scope, None, details={"pages": pages})
    return [n for p in pages for n in p["names"]]


def resolve_repos(settings: GitHubSettings, client: GitHubClient, db_path, only: Iterable[str] | None) -> list[str]:
    if only:
        names = list(only)
        for n in names:
            if not REPO_NAME.match(n):
                raise ConfigError(f'--repo "{n}" is not OWNER/NAME.')
        return names
    names = list(settings.repos)
    if settings.org:
        names += [n for n in list_org_repos(client, db_path, settings.org) if n.lower() not in
                  {m.lower() for m in names}]
    names = settings.selected(names)
    if not names:
        raise ConfigError("sources.github: no repositories to sync; set repos = [\"OWNER/NAME\", ...] or org "
                          "(and check include/exclude).")
    return names


def make_client(settings: GitHubSettings, *, owner_hint: str | None = None, env=None, **kw) -> GitHubClient:
    """The one client for ``settings.base_url``: token or App installation auth, bounded waits."""
    auth = make_auth(settings.base_url, installation_id=settings.app_installation_id,
                     owner=settings.org or owner_hint, env=env, token_env=settings.token_env)
    kw.setdefault("min_request_interval", settings.min_request_interval)
    return GitHubClient.create(settings.base_url, auth, max_rate_limit_wait=settings.max_rate_limit_wait,
                               parallelism=settings.parallelism, token_env=settings.token_env, **kw)


def sync(db_path: str | Path, config: Config, *, repos: Iterable[str] | None = None,
         client: GitHubClient | None = None, now: datetime | None = None,
         progress: ProgressFn | None = None) -> SyncReport:
    """Sync every selected repository; a failed repo is recorded in ``sync_state`` and the others
    still land. Raises on what stops every repo (credentials, rate limit) after recording it.
    ``progress`` (see ``ProgressFn``) hears each repository's start, pages, and end."""
    settings = GitHubSettings.from_config(config)
    now = now or datetime.now(UTC)
    now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    if not (repos or settings.repos or settings.org):
        where = f" in {config.path}" if config.path else ""
        raise ConfigError(f"No GitHub repositories to sync{where}: add [sources.github] with repos = "
                          '["OWNER/NAME", ...] or org = "ORG", or pass --repo OWNER/NAME.')
    owner_hint = (list(repos or settings.repos) or [""])[0].split("/")[0] or None
    own_client = client is None
    client = client or make_client(settings, owner_hint=owner_hint)
    report = SyncReport()
    tell = progress or (lambda repo, msg, state: None)
    db_lock = threading.Lock()
    fatal: list[CadenceError] = []
    started = time.monotonic()
    try:
        names = resolve_repos(settings, client, db_path, repos)
        report.repos = names

        def one(name: str) -> None:
            if fatal:
                tell(name, f"not synced: {fatal[0]}", "skipped")
                return
            repo_settings = settings.for_repo(name)
            tell(name, "reading", "start")
            try:
                with db_lock, write_connection(db_path) as con:
                    plan = load_plan(con, name, repo_settings)
                fetcher = RepoFetcher(client, settings, plan, config.production_environments, now=now,
                                      progress=tell)
                result = fetcher.fetch()
                with db_lock, write_connection(db_path) as con:
                    rows = write_result(con, result, config.production_environments)
            except CadenceError as exc:
                is_fatal = isinstance(exc, SourceRateLimitError) or (
                    isinstance(exc, SourceAuthError) and not isinstance(exc, RepoAccessError))
                if is_fatal:
                    fatal.append(exc)
                with db_lock, write_connection(db_path) as con:
                    record_sync_error(con, SOURCE, name, str(exc))
                report.failed[name] = str(exc)
                log.error("github %s: %s", name, exc)
                tell(name, f"failed: {exc}", "failed")
                return
            with db_lock:
                for k, v in rows.items():
                    report.rows[k] = report.rows.get(k, 0) + v
                report.synced.append(name)
                if result.flags:
                    report.flags[name] = result.flags
            log.info("github %s: %d requests (pages: %s); %d changes, %d deployments (%s), %d incidents, "
                     "%d links; pulls cursor now %s", name, result.requests,
                     ", ".join(f"{k} {v}" for k, v in result.pages.items()) or "-", rows["changes"],
                     rows["deployments"], result.details.get("signal"), rows["incidents"],
                     rows["deployment_changes"], result.cursors.get("pulls"))
            tell(name, f"done: {result.requests} requests; {rows['changes']} changes, {rows['deployments']} "
                       f"deployments, {rows['incidents']} incidents written", "done")

        with ThreadPoolExecutor(max_workers=settings.parallelism, thread_name_prefix="github") as pool:
            list(pool.map(one, names))
        if fatal:
            skipped = [n for n in names if n not in report.synced and n not in report.failed]
            if skipped:
                with db_lock, write_connection(db_path) as con:
                    for n in skipped:
                        record_sync_error(con, SOURCE, n, f"not synced: {fatal[0]}")
            raise fatal[0]
    finally:
        report.requests = client.requests
        report.not_modified = client.not_modified
        report.rate_remaining = client.rate_remaining
        report.rate_limit = client.rate_limit
        if own_client:
            client.close()
        log.info("github: %d repos in %.1f s, %d requests (%d not modified), rate limit left %s",
                 len(report.synced), time.monotonic() - started, report.requests, report.not_modified,
                 report.rate_remaining)
    return report
