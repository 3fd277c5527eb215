"""The one report every source's ``sync`` returns: what it wrote, what it asked, what went wrong.

The CLI prints it (``format()`` is the text ``cadence sync X`` prints), ``cadence export --sync``
and ``cadence serve`` log it, and a test can read its fields instead of parsing text. A collector
with its own richer report keeps it in ``detail``; the adapters in ``collectors.adapters`` build
this one from it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cadence.core.errors import CadenceError, ConfigError, SourceAuthError, SourceError, SourceRateLimitError
from warehouse import record_sync_error, write_connection


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SyncReport:
    """One run of one source.

    ``summary`` holds the lines the CLI prints (on ``stream``), ``warnings`` the lines that go to
    stderr after them (flagged scopes, skipped parts). ``errors`` maps a scope that failed to its
    message while the others were written; ``failure`` is the one-line error the CLI exits with
    then (``raise_for_errors``).
    """

    source: str
    rows: dict[str, int] = field(default_factory=dict)     # table -> rows written
    requests: int = 0
    summary: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)   # scope -> message
    failure: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stream: Literal["stdout", "stderr"] = "stdout"
    detail: Any = field(default=None, repr=False)          # the collector's own report, if any

    @property
    def rows_written(self) -> int:
        return sum(self.rows.values())

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """Every line the CLI prints, summary first."""
        return [*self.summary, *self.warnings]

    def format(self) -> str:
        return "\n".join(self.lines())

    __str__ = format

    def raise_for_errors(self) -> None:
        """Raise ``SourceError`` when a scope failed (what did succeed is written already)."""
        if self.errors:
            scope, message = next(iter(self.errors.items()))
            raise SourceError(self.failure or f"{len(self.errors)} scope(s) of {self.source} failed; "
                                              f"first: {scope}: {message}")


def given_scopes(only: Iterable[str], pattern: re.Pattern, option: str, form: str) -> list[str]:
    """The scopes named on the command line (``option``, e.g. ``--repo``), each checked to match
    ``pattern`` (``form`` says how it looks, e.g. ``OWNER/NAME``)."""
    names = list(only)
    for n in names:
        if not pattern.match(n):
            raise ConfigError(f'{option} "{n}" is not {form}.')
    return names


def sync_scopes(names: Sequence[str], fetch_and_write: Callable[[str], tuple[Any, dict[str, int]]], *,
                source: str, db_path, db_lock: threading.Lock, report: Any, parallelism: int,
                tell: Callable[[str, str, str], None], log: logging.Logger,
                access_error: type[Exception], done: Callable[[str, Any, dict[str, int]], str],
                explain: Callable[[CadenceError], CadenceError] = lambda exc: exc) -> None:
    """Sync each scope (repository, project) of a forge on ``parallelism`` threads, the way
    GitHub and GitLab both do.

    ``fetch_and_write(name)`` reads one scope and writes it (taking ``db_lock`` around its writes)
    and returns its fetch result and the rows written per table. A failed scope is recorded in
    ``sync_state`` and in ``report.failed`` while the others still land; a failure that stops every
    scope (rate limit; credentials, unless it is ``access_error``, one scope's access) skips the
    scopes not yet started, records them, and is raised at the end. ``explain`` may turn an error
    into a clearer one before it is recorded; ``done(name, result, rows)`` is the progress line of
    a synced scope. ``report`` has ``rows``, ``synced``, ``failed`` and ``flags``.
    """
    fatal: list[CadenceError] = []

    def one(name: str) -> None:
        if fatal:
            tell(name, f"not synced: {fatal[0]}", "skipped")
            return
        tell(name, "reading", "start")
        try:
            result, rows = fetch_and_write(name)
        except CadenceError as exc:
            is_fatal = isinstance(exc, SourceRateLimitError) or (
                isinstance(exc, SourceAuthError) and not isinstance(exc, access_error))
            exc = explain(exc)
            if is_fatal:
                fatal.append(exc)
            with db_lock, write_connection(db_path) as con:
                record_sync_error(con, source, name, str(exc))
            report.failed[name] = str(exc)
            log.error("%s %s: %s", source, name, exc)
            tell(name, f"failed: {exc}", "failed")
            return
        with db_lock:
            for k, v in rows.items():
                report.rows[k] = report.rows.get(k, 0) + v
            report.synced.append(name)
            if result.flags:
                report.flags[name] = result.flags
        tell(name, done(name, result, rows), "done")

    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix=source) as pool:
        list(pool.map(one, names))
    if fatal:
        skipped = [n for n in names if n not in report.synced and n not in report.failed]
        if skipped:
            with db_lock, write_connection(db_path) as con:
                for n in skipped:
                    record_sync_error(con, source, n, f"not synced: {fatal[0]}")
        raise fatal[0]


def close_client(report: Any, client: Any, *, own_client: bool, log: logging.Logger, source: str, scopes: str,
                 started: float) -> None:
    """Copy the client's request counts and rate limit onto ``report``; close it if it is ours; log
    the sync's summary line (``scopes``: "repos", "projects")."""
    report.requests = client.requests
    report.not_modified = client.not_modified
    report.rate_remaining = client.rate_remaining
    report.rate_limit = client.rate_limit
    if own_client:
        client.close()
    log.info("%s: %d %s in %.1f s, %d requests (%d not modified), rate limit left %s", source,
             len(report.synced), scopes, time.monotonic() - started, report.requests, report.not_modified,
             report.rate_remaining)


__all__ = ["SyncReport", "close_client", "given_scopes", "sync_scopes", "utcnow"]
