"""What a GitHub sync passes around: row ids, time conversion, a repository's plan and result, the
run's report, and the errors that stop one repository."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cadence.core.errors import SourceAuthError, SourceError
from collectors.github.settings import RepoSettings
from collectors.http import parse_api_time

# ``progress(repo, message, state)`` is told of each repository event; ``state`` is one of
# PROGRESS_STATES: "start" (about to read), "page" (a GraphQL page read; message = counts so far),
# "done" (written; message = what), "failed" (message = why), "skipped" (the run stopped first).
ProgressFn = Callable[[str, str, str], None]
PROGRESS_STATES = ("start", "page", "done", "failed", "skipped")

SOURCE = "github"
UNFINISHED_HORIZON = timedelta(days=3)   # a deployment or run going longer is not waited for


parse_time = parse_api_time   # GitHub's ISO 8601 → naive UTC (the warehouse stores UTC without offset)


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
    actions_cursor: str | None = None        # collectors/github/actions.py: scope OWNER/NAME:actions
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
    actions: Any = None                       # actions.ActionsResult (None: not read)


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
