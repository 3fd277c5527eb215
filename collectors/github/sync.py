"""``sync``: every selected repository, read in parallel, each written in its own short transaction."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from cadence.core.clock import naive_utc
from cadence.core.config import Config
from cadence.core.errors import ConfigError, SourceError
from collectors.github.fetch import RepoFetcher
from collectors.github.model import SOURCE, ProgressFn, RepoAccessError, SyncReport
from collectors.github.rest import PAGE, next_link
from collectors.github.settings import REPO_NAME, GitHubSettings
from collectors.github.write import load_plan, write_result
from collectors.report import close_client, given_scopes, sync_scopes
from collectors.github_client import GitHubClient, GitHubHTTPError, make_auth
from warehouse import write_connection, write_cursor
from warehouse.state import read_details

# The source's one logger name (as before the package split): log filters and tests key on it.
log = logging.getLogger(__package__)


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
            nxt = next_link(resp.headers.get("link"))
            pages.append({"etag": resp.headers.get("etag"), "names": names, "next": nxt})
            url, params = nxt, None
        i += 1
    with write_connection(db_path) as con:
        write_cursor(con, SOURCE, scope, None, details={"pages": pages})
    return [n for p in pages for n in p["names"]]


def resolve_repos(settings: GitHubSettings, client: GitHubClient, db_path, only: Iterable[str] | None) -> list[str]:
    if only:
        return given_scopes(only, REPO_NAME, "--repo", "OWNER/NAME")
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
    now = naive_utc(now)
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
    started = time.monotonic()
    try:
        names = resolve_repos(settings, client, db_path, repos)
        report.repos = names

        def fetch_and_write(name: str):
            with db_lock, write_connection(db_path) as con:
                plan = load_plan(con, name, settings.for_repo(name))
            result = RepoFetcher(client, settings, plan, config.production_environments, now=now,
                                 progress=tell).fetch()
            with db_lock, write_connection(db_path) as con:
                return result, write_result(con, result, config.production_environments)

        def done(name: str, result, rows: dict[str, int]) -> str:
            log.info("github %s: %d requests (pages: %s); %d changes, %d deployments (%s), %d incidents, "
                     "%d links; pulls cursor now %s", name, result.requests,
                     ", ".join(f"{k} {v}" for k, v in result.pages.items()) or "-", rows["changes"],
                     rows["deployments"], result.details.get("signal"), rows["incidents"],
                     rows["deployment_changes"], result.cursors.get("pulls"))
            return (f"done: {result.requests} requests; {rows['changes']} changes, {rows['deployments']} "
                    f"deployments, {rows['incidents']} incidents written")

        sync_scopes(names, fetch_and_write, source=SOURCE, db_path=db_path, db_lock=db_lock, report=report,
                    parallelism=settings.parallelism, tell=tell, log=log, access_error=RepoAccessError,
                    done=done)
    finally:
        close_client(report, client, own_client=own_client, log=log, source="github", scopes="repos", started=started)
    return report
