"""REST reads shared by the repository fetcher and GitHub Actions: ``Link`` paging and the workflow
runs listing, which GitHub caps at ``cap`` results per filtered query (so a window past it is read
in halves)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from collectors.github.model import iso
from collectors.github_client import GitHubClient

log = logging.getLogger(__package__)

PAGE = 100                    # GitHub's largest page, REST and GraphQL

RunsQuery = Callable[[datetime | None, datetime | None], dict]


def next_link(link: str | None) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None on the last page."""
    if not link:
        return None
    for part in link.split(","):
        m = re.match(r'\s*<([^>]+)>;\s*rel="next"', part)
        if m:
            return m.group(1)
    return None


def list_runs(client: GitHubClient, path: str, query: RunsQuery, lo: datetime | None,
              hi: datetime | None, *, cap: int, start: datetime, now: datetime, what: str,
              etag: str | None = None) -> tuple[list[dict] | None, str | None]:
    """Workflow runs created in [lo, hi] (None: open), every page, newest first.

    ``query(lo, hi)`` gives the request's parameters. A window with more than ``cap`` runs is read
    as two halves (an open start counts from ``start``, an open end up to ``now``), since GitHub
    would serve only its first ``cap``. Returns (runs, the ETag worth keeping for this request,
    None once split), or (None, None) when ``etag`` still matches (304: nothing changed)."""
    resp = client.get(path, query(lo, hi), etag=etag, what=what)
    if resp.status == 304:
        return None, None
    body = resp.data or {}
    total = body.get("total_count", 0)
    if total > cap:
        first, end = lo or start, hi or now
        if end - first > timedelta(minutes=1):
            mid = first + (end - first) / 2
            log.info("github %s: %d runs %s..%s, past the %d-result cap; splitting the window",
                     what, total, iso(first), iso(end), cap)
            later, _ = list_runs(client, path, query, mid + timedelta(seconds=1), hi, cap=cap,
                                 start=start, now=now, what=what)
            earlier, _ = list_runs(client, path, query, first, mid, cap=cap, start=start, now=now,
                                   what=what)
            return (later or []) + (earlier or []), None
    kept = resp.headers.get("etag")
    runs = list(body.get("workflow_runs", []))
    next_url = next_link(resp.headers.get("link"))
    while next_url:
        resp = client.get(next_url, what=what)
        runs += (resp.data or {}).get("workflow_runs", [])
        next_url = next_link(resp.headers.get("link"))
    return runs, kept
