"""``sync(db_path, config, **options) -> SyncReport`` for the sources whose collector returns a report
of its own (GitHub, GitLab, PagerDuty, AWS, Prometheus, files): each adapter calls the
collector unchanged and turns what it returned into the shared ``SyncReport``, with the lines
``cadence sync X`` has always printed. A new source returns ``SyncReport`` itself and needs none.

A collector that fails part-way may attach what it did to the error (``exc.report``); the adapter
puts the shared form beside it as ``exc.sync_report``, so the CLI can print what did land.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from cadence.core.config import Config
from cadence.core.errors import CadenceError, ConfigError
from collectors.report import SyncReport


@contextlib.contextmanager
def _partial(convert: Callable[[Any], SyncReport]) -> Iterator[None]:
    """On a CadenceError carrying the collector's partial report, attach it converted."""
    try:
        yield
    except CadenceError as exc:
        partial = getattr(exc, "report", None)
        if partial is not None:
            exc.sync_report = convert(partial)
        raise


def _as_list(values) -> list | None:
    return list(values) if values else None


# -- GitHub, GitLab ---------------------------------------------------------------------------------

def _flag_lines(flags: dict[str, list[dict]]) -> list[str]:
    return [f"Flagged {scope}: {flag['message']}" for scope, items in sorted(flags.items()) for flag in items]


def _failure(report, noun: str, total: int) -> str | None:
    if not report.failed:
        return None
    first = next(iter(report.failed.items()))
    return (f"{len(report.failed)} of {total} {noun} failed (the others were written); "
            f"first: {first[0]}: {first[1]}")


def sync_github(db_path: str | Path, config: Config, *, repos=None, progress=None, **kw) -> SyncReport:
    from collectors.github import sync

    native = sync(db_path, config, repos=_as_list(repos), progress=progress, **kw)
    rows = ", ".join(f"{n} {table}" for table, n in native.rows.items())
    left = (f"{native.rate_remaining} of {native.rate_limit}" if native.rate_remaining is not None
            else "unknown")
    return SyncReport(
        "github", rows=dict(native.rows), requests=native.requests, detail=native,
        summary=[f"GitHub: {len(native.synced)} of {len(native.repos)} repositories synced into {db_path}; "
                 f"rows written: {rows}.",
                 f"Requests: {native.requests} (+{native.not_modified} not modified, free); "
                 f"rate limit left: {left}."],
        warnings=_flag_lines(native.flags), errors=dict(native.failed),
        failure=_failure(native, "repositories", len(native.repos)))


def sync_gitlab(db_path: str | Path, config: Config, *, projects=None, progress=None, **kw) -> SyncReport:
    from collectors.gitlab import sync

    native = sync(db_path, config, projects=_as_list(projects), progress=progress, **kw)
    lines = native.summary()
    return SyncReport(
        "gitlab", rows=dict(native.rows), requests=native.requests, detail=native,
        summary=[line for line in lines if not line.startswith("Flagged ")],
        warnings=[line for line in lines if line.startswith("Flagged ")], errors=dict(native.failed),
        failure=_failure(native, "projects", len(native.projects)))


# -- PagerDuty, Prometheus --------------------------------------------------------------------------

def sync_pagerduty(db_path: str | Path, config: Config, *, since: date | None = None, **kw) -> SyncReport:
    from collectors import pagerduty

    result = pagerduty.sync(db_path, config, since=since, **kw)
    return SyncReport(
        "pagerduty", rows={"incidents": result["incidents"]}, requests=result["requests"], detail=result,
        stream="stderr",
        summary=[f"pagerduty: {result['incidents']} incident rows written in {result['windows']} windows "
                 f"({result['requests']} requests); {result['open']} still open; cursor {result['cursor']}"])


def _prometheus_report(native, *, partial: bool = False) -> SyncReport:
    lines = native.summary()
    if partial:   # what the SLOs before the failing one did; the failure is the error itself
        lines = [line for line in lines[:-1] if "FAILED" not in line]
    failure = None
    if native.failed and not partial:
        scope, message = next(iter(native.failed.items()))
        failure = f"{len(native.failed)} SLO(s) failed; first: {scope}: {message}"
    return SyncReport("prometheus", rows=dict(native.rows), requests=native.requests, detail=native,
                      stream="stderr", summary=lines, errors={} if partial else dict(native.failed),
                      failure=failure)


def sync_prometheus(db_path: str | Path, config: Config, *, since: date | None = None, only=None,
                    **kw) -> SyncReport:
    from collectors import prometheus

    with _partial(lambda r: _prometheus_report(r, partial=True)):
        native = prometheus.sync(db_path, config, since=since, only=_as_list(only), **kw)
    return _prometheus_report(native)


# -- AWS --------------------------------------------------------------------------------------------

def _aws_costs_report(native) -> SyncReport:
    return SyncReport("aws-costs", rows={"costs": native.cost_rows, "commitments": native.commitment_rows,
                                         "utilization": native.utilization_rows},
                      requests=native.paid_requests, summary=native.lines(), detail=native)


def sync_aws_costs(db_path: str | Path, config: Config, *, only=None, lookback_months: int | None = None,
                   **kw) -> SyncReport:
    from collectors import aws_costs

    parts = tuple(only or ()) or aws_costs.PARTS
    with _partial(_aws_costs_report):
        native = aws_costs.sync(db_path, config, parts=parts, lookback_months=lookback_months, **kw)
    return _aws_costs_report(native)


def sync_aws_exports(db_path: str | Path, config: Config, *, locations=None, only: str | None = None,
                     full: bool = False, session=None) -> SyncReport:
    """The S3 reader and/or Athena, whichever is configured (``only`` picks one)."""
    use_s3 = only != "athena" and (bool(locations) or "aws_exports" in config.sources)
    use_athena = only != "s3" and "athena" in config.source("aws")
    if not use_s3 and not use_athena:
        raise ConfigError("Nothing to sync: set [sources.aws_exports] location = \"s3://bucket/prefix/\" (or give "
                          "--location), or [sources.aws.athena] to query the export with Athena.")
    report = SyncReport("aws-exports", rows={"costs": 0}, detail=[])

    def add(native) -> None:
        report.summary += native.lines()
        report.rows["costs"] += sum(item["rows_written"] for item in native.loaded)
        report.requests += getattr(native, "queries", 0) or getattr(native, "downloaded", 0)
        report.detail.append(native)

    if use_s3:
        from collectors.aws_exports import s3

        for native in s3.sync(db_path, config, locations=_as_list(locations), full=full, session=session):
            add(native)
    if use_athena:
        from collectors.aws_exports import athena

        try:
            add(athena.sync(db_path, config, full=full, session=session))
        except CadenceError as exc:   # what S3 wrote before Athena failed is still worth showing
            if report.summary:
                exc.sync_report = report
            raise
    return report


# -- loaded files ------------------------------------------------------------------------------------

def sync_cost_export(db_path: str | Path, config: Config, *, source: str | Path, session=None) -> SyncReport:
    """A FOCUS or CUR 2.0 export (file, folder or s3:// prefix) into ``costs``."""
    from collectors import cost_exports

    result = cost_exports.ingest_cost_export(db_path, config, source, session=session)
    return SyncReport(
        "cost-exports", rows={"costs": int(result.get("rows_written") or 0)}, detail=result,
        summary=[f"costs from {source} ({result.get('format')}): {result.get('rows_read')} lines read, "
                 f"{result.get('rows_written')} daily rows written ({result.get('first_day')} to "
                 f"{result.get('last_day')}) into {db_path}"])


def sync_file(db_path: str | Path, config: Config | None, *, kind: str, path: str | Path,
              fmt: str | None = None, name: str | None = None) -> SyncReport:
    """A CSV or JSON Lines file of ``kind`` rows (``cadence ingest``)."""
    from collectors.files import ingest_file

    result = ingest_file(db_path, kind, path, config=config, fmt=fmt, name=name)
    rows = {kind: result.rows_written}
    if result.links_written:
        rows["deployment_changes"] = result.links_written
    return SyncReport("files", rows=rows, detail=result, summary=[f"{result.summary()} into {db_path}"],
                      warnings=[f"Warning: {w}" for w in result.warnings])


def sync_demo(db_path, config=None, *, seed: int = 42, today: date | None = None, force: bool = False) -> SyncReport:
    """The demo warehouse (collectors/demo/), written again as a whole."""
    from collectors.demo import build_demo

    counts = build_demo(db_path, seed=seed, today=today, force=force)
    summary = ", ".join(f"{n:,} {table.replace('_', ' ')}" for table, n in counts.items())
    return SyncReport("demo", rows=dict(counts), detail=counts,
                      summary=[f"Demo database written to {db_path}: {summary}."])


__all__ = ["sync_aws_costs", "sync_aws_exports", "sync_cost_export", "sync_demo", "sync_file", "sync_github",
           "sync_gitlab", "sync_pagerduty", "sync_prometheus"]
