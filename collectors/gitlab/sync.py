"""``sync``: every selected GitLab project read (``fetch.ProjectFetcher``) and written, each in one
short transaction with its cursors, so a killed run loses nothing committed and repeats nothing.

A project that fails (no access, moved, archived, a persistent error) is recorded on its
``sync_state`` scope and named in the report; the others are still written. Failures that stop
every project (a rejected token, a rate-limit wait beyond the cap) stop the run after recording it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cadence.core.clock import naive_utc
from cadence.core.config import Config
from cadence.core.errors import CadenceError, ConfigError, SourceError
from collectors.gitlab.client import GitLabClient, GraphQLRejected, token_from_env
from collectors.gitlab.fetch import (
    PARTS,
    SOURCE,
    ProgressFn,
    ProjectAccessError,
    ProjectFetcher,
    ProjectPlan,
    ProjectResult,
)
from collectors.report import close_client, given_scopes, sync_scopes
from collectors.gitlab.queries import GROUP_PROJECTS_QUERY
from cadence.core.settings.gitlab import PROJECT_PATH, GitLabSettings, parse_settings
from warehouse import record_sync_skipped, upsert_rows, write_connection, write_cursor
from warehouse.state import read_details

log = logging.getLogger(__name__)

TABLES = ("changes", "deployments", "deployment_changes", "incidents", "pipeline_runs", "pipeline_jobs")


@dataclass
class SyncReport:
    """What ``sync`` did: rows per table, failures by project, requests and rate limit left."""

    projects: list[str] = field(default_factory=list)
    synced: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    requests: int = 0
    not_modified: int = 0
    rate_remaining: int | None = None
    rate_limit: int | None = None
    flags: dict[str, list[dict]] = field(default_factory=dict)

    def summary(self) -> list[str]:
        """The lines ``cadence sync gitlab`` prints."""
        rows = ", ".join(f"{n} {table}" for table, n in self.rows.items())
        left = (f"{self.rate_remaining} of {self.rate_limit}" if self.rate_remaining is not None
                else "not reported")
        lines = [f"GitLab: {len(self.synced)} of {len(self.projects)} projects synced; rows written: {rows}.",
                 f"Requests: {self.requests} (of which {self.not_modified} answered 304 Not Modified); "
                 f"rate limit left: {left}."]
        for project, flags in sorted(self.flags.items()):
            lines += [f"Flagged {project}: {f['message']}" for f in flags]
        return lines   # failures: each on its progress line, and the first in the command's error


def settings_of(config: Config) -> GitLabSettings:
    return parse_settings(config.source("gitlab"), config.path)


def make_client(settings: GitLabSettings, *, env=None, **kw) -> GitLabClient:
    """The one client for ``settings.base_url`` (token from GITLAB_TOKEN, bounded waits)."""
    kw.setdefault("max_rate_limit_wait", settings.max_rate_limit_wait)
    kw.setdefault("parallelism", settings.parallelism)
    return GitLabClient(settings.base_url, token_from_env(env), **kw)


# -- which projects -------------------------------------------------------------------------------

def list_group_projects(client: GitLabClient, group: str, subgroups: bool) -> list[str]:
    """Every unarchived project of ``group`` (and its subgroups) the token can see: GraphQL's
    cursor (keyset) pagination, 100 a page."""
    out, after = [], None
    while True:
        data, errors = client.graphql(GROUP_PROJECTS_QUERY, {"fullPath": group, "subgroups": subgroups,
                                                             "after": after}, what=f'projects of group "{group}"')
        node = data.get("group")
        if node is None:
            raise SourceError(f'Group "{group}" not found, or the token cannot see it; check [sources.gitlab] groups '
                              "and that the token's user is a member (read_api scope).")
        conn = node.get("projects") or {}
        out += [p["fullPath"] for p in conn.get("nodes") or [] if p and not p.get("archived")]
        info = conn.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return out
        after = info.get("endCursor")


def resolve_projects(settings: GitLabSettings, client: GitLabClient, only: Iterable[str] | None) -> list[str]:
    if only:
        return given_scopes(only, PROJECT_PATH, "--project", "GROUP/PROJECT")
    names = list(settings.projects)
    known = {n.lower() for n in names}
    for group in settings.groups:
        for p in list_group_projects(client, group, settings.include_subgroups):
            if p.lower() not in known:
                names.append(p)
                known.add(p.lower())
    names = settings.selected(names)
    if not names:
        raise ConfigError("sources.gitlab: no projects to sync; set projects = [\"GROUP/PROJECT\", ...] or "
                          "groups (and check include/exclude).")
    return names


# -- state in, rows out ---------------------------------------------------------------------------

def load_plan(con, path: str, settings: GitLabSettings, production: Iterable[str]) -> ProjectPlan:
    details = read_details(con, SOURCE, path)
    envs = set((details.get("production_environments") or []))
    # every part's cursor: scopes "PROJECT:PART" (a project path never holds ":")
    cursors = {scope[len(path) + 1:]: cursor for scope, cursor in con.execute(
        "SELECT scope, cursor FROM sync_state WHERE source = ? AND starts_with(scope, ?)",
        [SOURCE, path + ":"]).fetchall()}
    change_shas: dict[str, set[str]] = {}
    for cid, sha in con.execute("SELECT id, merge_sha FROM changes WHERE repo = ? AND source = ?",
                                [path, SOURCE]).fetchall():
        change_shas[cid] = {sha} if sha else set()
    successes = []
    prod = sorted({e.lower() for e in production} | {e.lower() for e in envs})
    marks = ", ".join("?" for _ in prod)
    for did, env, sha, finished in con.execute(
            f"SELECT id, environment, sha, finished_at FROM deployments WHERE repo = ? AND source = ? "
            f"AND status = 'success' AND lower(environment) IN ({marks})", [path, SOURCE, *prod]).fetchall():
        kind, ident = did.rsplit(":", 2)[-2:]
        number = int(ident) if kind == "deployment" and ident.isdigit() else None
        order = number if number is not None else (finished.replace(tzinfo=UTC).timestamp() if finished else 0)
        successes.append({"id": did, "number": number, "environment": env, "sha": sha, "order": order})
    return ProjectPlan(path, settings.for_project(path), cursors, details, change_shas, successes)


def write_result(con, result: ProjectResult) -> dict[str, int]:
    """Upsert one project's rows and links and move its cursors, in the caller's transaction."""
    path = result.path
    written = {table: upsert_rows(con, table, rows) for table, rows in result.rows.items()}
    known = {cid for (cid,) in con.execute("SELECT id FROM changes WHERE repo = ? AND source = ?",
                                           [path, SOURCE]).fetchall()}
    links = [{"deployment_id": d, "change_id": c, "source": SOURCE} for d, c in result.links if c in known]
    written["deployment_changes"] = upsert_rows(con, "deployment_changes", links)
    for part, cursor in result.cursors.items():
        if cursor is not None:
            write_cursor(con, SOURCE, f"{path}:{part}", cursor)
    for part, reason in result.skipped.items():
        record_sync_skipped(con, SOURCE, f"{path}:{part}", reason)
    write_cursor(con, SOURCE, path, str(result.details.get("project", {}).get("id") or ""),
                 rows_written=sum(written.values()), details=result.details)
    return {table: written.get(table, 0) for table in TABLES} | {
        t: n for t, n in written.items() if t not in TABLES}


# -- the sync -------------------------------------------------------------------------------------

def sync(db_path: str | Path, config: Config, *, projects: Iterable[str] | None = None,
         client: GitLabClient | None = None, now: datetime | None = None,
         progress: ProgressFn | None = None) -> SyncReport:
    """Sync every selected project; a failed project is recorded in ``sync_state`` and the others
    still land. Raises what stops every project (token, rate limit) after recording it.
    ``progress(scope, message, state)`` hears each project's start, pages and end."""
    settings = settings_of(config)
    now = naive_utc(now)
    if not (projects or settings.projects or settings.groups):
        where = f" in {config.path}" if config.path else ""
        raise ConfigError(f"No GitLab projects to sync{where}: add [sources.gitlab] with projects = "
                          '["GROUP/PROJECT", ...] or groups = ["GROUP"], or pass --project GROUP/PROJECT.')
    own_client = client is None
    client = client or make_client(settings)
    report = SyncReport()
    tell = progress or (lambda scope, msg, state: None)
    db_lock = threading.Lock()
    started = time.monotonic()
    try:
        names = resolve_projects(settings, client, projects)
        report.projects = names

        def fetch_and_write(name: str):
            with db_lock, write_connection(db_path) as con:
                plan = load_plan(con, name, settings, config.production_environments)
            result = ProjectFetcher(client, settings, plan, config.production_environments, now=now,
                                    progress=tell).fetch()
            with db_lock, write_connection(db_path) as con:
                return result, write_result(con, result)

        def explain(exc: CadenceError) -> CadenceError:
            if isinstance(exc, GraphQLRejected):
                return SourceError(f"{exc} Is this GitLab older than 17.1? Please report it.")
            return exc

        def done(name: str, result, rows: dict[str, int]) -> str:
            log.info("gitlab %s: %d requests (pages: %s); %d changes, %d deployments (%s), %d incidents, "
                     "%d links, %d pipeline attempts, %d jobs; merge_requests cursor now %s, pipelines %s",
                     name, result.requests,
                     ", ".join(f"{k} {v}" for k, v in sorted(result.pages.items())) or "-", rows["changes"],
                     rows["deployments"], result.details.get("signal"), rows["incidents"],
                     rows["deployment_changes"], rows["pipeline_runs"], rows["pipeline_jobs"],
                     result.cursors.get("merge_requests"), result.cursors.get("pipelines"))
            return (f"done: {result.requests} requests; {rows['changes']} changes, {rows['deployments']} "
                    f"deployments, {rows['incidents']} incidents, {rows['deployment_changes']} links, "
                    f"{rows['pipeline_runs']} pipeline attempts, {rows['pipeline_jobs']} jobs written")

        sync_scopes(names, fetch_and_write, source=SOURCE, db_path=db_path, db_lock=db_lock, report=report,
                    parallelism=settings.parallelism, tell=tell, log=log, access_error=ProjectAccessError,
                    done=done, explain=explain)
    finally:
        close_client(report, client, own_client=own_client, log=log, source="gitlab", scopes="projects",
                     started=started)
    return report


__all__ = ["PARTS", "SyncReport", "list_group_projects", "load_plan", "make_client", "resolve_projects",
           "settings_of", "sync", "write_result"]
