"""``cadence sync prometheus``: hourly good and total events of each SLO into ``sli_hours``.

For every ``[[slos]]`` entry with ``good`` and ``total`` selectors, the hours after its cursor are
read (``increments.hourly_increments``, exact across counter resets and scrape gaps) and written as
rows ``(slo, hour, good, total, source = 'prometheus')``, upserted on ``(slo, hour)``.

Incremental: ``sync_state`` (source ``prometheus``, scope ``slo:<name>``) keeps as cursor the end of
the last hour read, and in its details the selectors it was read with. A run reads the complete
hours from the cursor, re-reading the ``REREAD_HOURS`` before it (samples that arrived late, e.g.
through remote write); the first run, or a run after a selector changed, reads the longest SLO
window plus 3 days (the 3-day burn rate needs them); ``since`` reads from a date on. Ranges longer
than Prometheus' points limit are split; each piece is written with its cursor in one short
transaction, so a killed run resumes where it stopped and a second run changes nothing.

Hours where the good or the total selector has no sample are gaps: no row is written, so they count
as neither good nor bad, and the report names them. A selector that matches no series in the range
is checked against all of Prometheus' history: matching nothing anywhere fails that SLO with a clear
message and writes nothing for it. Prometheus not answering, or refusing the credentials, stops the
run, leaves every cursor where it was and records the error for each SLO it concerned.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from cadence.core.clock import hour_floor, parse_utc, utcnow
from cadence.core.config import Config
from cadence.core.errors import ConfigError, SourceAuthError, SourceError, SourceRateLimitError
from cadence.core.settings.slos import SLO
from collectors.prometheus.client import PrometheusClient, PrometheusUnreachable
from collectors.prometheus.increments import HOUR, hourly_increments
from collectors.prometheus.settings import SOURCE, read_settings
from warehouse import read_cursor, record_sync_error, upsert_rows, write_connection, write_cursor
from warehouse.state import read_details

log = logging.getLogger(__name__)

TABLE = "sli_hours"
MAX_STEPS = 11_000           # Prometheus refuses a query_range with (end - start) / step above this
REREAD_HOURS = 3             # hours before the cursor read again on every run
FIRST_RUN_EXTRA_DAYS = 3     # the first run reads the longest window plus this (3-day burn rate)


def scope_of(slo: SLO) -> str:
    return f"slo:{slo.name}"


@dataclass
class SloResult:
    """What one SLO's run read and wrote."""

    start: datetime
    end: datetime
    hours_written: int = 0
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)   # [start, end) ranges
    good_above_total: int = 0
    series: dict[str, int] = field(default_factory=dict)                  # good/total -> series
    restarted: str | None = None        # why the range starts over (selectors changed)

    @property
    def gap_hours(self) -> int:
        return sum(int((b - a) / HOUR) for a, b in self.gaps)


@dataclass
class PrometheusReport:
    """A run of ``cadence sync prometheus``: rows written per table, failures per scope."""

    rows: dict[str, int] = field(default_factory=lambda: {TABLE: 0})
    failed: dict[str, str] = field(default_factory=dict)
    slos: dict[str, SloResult] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)   # SLOs without selectors (fed by ingest)
    requests: int = 0

    def summary(self) -> list[str]:
        lines = []
        for name, r in self.slos.items():
            line = (f"prometheus {name}: {r.hours_written} hours written "
                    f"({_ts(r.start)} to {_ts(r.end)}), cursor {_ts(r.end)}")
            if r.gaps:
                shown = ", ".join(_gap_text(a, b) for a, b in r.gaps[:5])
                more = f" and {len(r.gaps) - 5} more" if len(r.gaps) > 5 else ""
                line += f"; {r.gap_hours} gap hours with no samples (not counted): {shown}{more}"
            if r.good_above_total:
                line += (f"; {r.good_above_total} hours had more good than total events, stored with "
                         f"good = total (does the good selector select a subset of total?)")
            if r.restarted:
                line += f"; {r.restarted}"
            lines.append(line)
        for name in self.skipped:
            lines.append(f"prometheus {name}: skipped, no good/total selectors (fed by `cadence ingest sli`)")
        for scope, message in self.failed.items():
            lines.append(f"prometheus {scope}: FAILED: {message}")
        lines.append(f"prometheus: {self.rows[TABLE]} sli_hours rows written, {self.requests} requests"
                     + (f", {len(self.failed)} SLO(s) failed" if self.failed else ""))
        return lines


def _ts(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%MZ")


def _gap_text(a: datetime, b: datetime) -> str:
    hours = int((b - a) / HOUR)
    return f"{_ts(a)} ({hours} h)" if hours == 1 else f"{_ts(a)}..{_ts(b)} ({hours} h)"


def iter_chunks(start: datetime, end: datetime, max_hours: int = MAX_STEPS):
    """Consecutive [a, b) hour ranges covering [start, end), none longer than ``max_hours``."""
    a = start
    while a < end:
        b = min(a + max_hours * HOUR, end)
        yield a, b
        a = b


def _gaps(hours: list[datetime], have: set[datetime]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for h in hours:
        if h in have:
            continue
        if out and out[-1][1] == h:
            out[-1] = (out[-1][0], h + HOUR)
        else:
            out.append((h, h + HOUR))
    return out


def _sync_slo(db_path, client: PrometheusClient, slo: SLO, start: datetime, end: datetime,
              cursor: str | None, result: SloResult, now: datetime) -> int:
    """Read and write one SLO's hours in chunks; returns rows written."""
    scope = scope_of(slo)
    details = {"good": slo.good, "total": slo.total}
    written = 0
    seen = {"good": False, "total": False}
    for a, b in iter_chunks(start, end):
        inc = {}
        for side in ("good", "total"):
            selector = getattr(slo, side)
            what = f'SLO "{slo.name}" {side} selector {selector}'
            inc[side] = hourly_increments(client, selector, a, b, what)
            result.series[side] = max(result.series.get(side, 0), inc[side].series)
            if inc[side].series:
                seen[side] = True
            elif not seen[side] and not client.series_exist(selector, what):
                raise SourceError(
                    f'SLO "{slo.name}": the {side} selector {selector} matches no series in Prometheus '
                    f"at {client.base_url}; check the metric name and labels (try the selector in "
                    f"Prometheus' expression browser). Nothing was written for this SLO.")
        hours = [a + i * HOUR for i in range(int((b - a) / HOUR))]
        have = set(inc["good"].values) & set(inc["total"].values)
        rows = []
        for h in hours:
            if h not in have:
                continue
            good, total = inc["good"].values[h], inc["total"].values[h]
            if good > total:
                result.good_above_total += 1
                good = total
            rows.append({"slo": slo.name, "hour": h, "good": good, "total": total, "source": SOURCE})
        for gap in _gaps(hours, have):
            if result.gaps and result.gaps[-1][1] == gap[0]:
                result.gaps[-1] = (result.gaps[-1][0], gap[1])
            else:
                result.gaps.append(gap)
        # The cursor never moves back: a --since re-read of old history keeps a later one.
        new_cursor = b if cursor is None or parse_utc(cursor) < b else parse_utc(cursor)
        with write_connection(db_path) as con:
            n = upsert_rows(con, TABLE, rows)
            write_cursor(con, SOURCE, scope, new_cursor.strftime("%Y-%m-%dT%H:%M:%SZ"), rows_written=n,
                         details=details, now=now)
        cursor = new_cursor.strftime("%Y-%m-%dT%H:%M:%SZ")
        written += n
        result.hours_written += n
        log.info("prometheus %s: %s..%s: %d hours written, %d good / %d total series, %d from raw samples, "
                 "cursor now %s", slo.name, _ts(a), _ts(b), n, inc["good"].series, inc["total"].series,
                 inc["good"].from_raw + inc["total"].from_raw, cursor)
    return written


def sync(db_path: str | os.PathLike, config: Config, client: PrometheusClient | None = None, *,
         now: datetime | None = None, since: date | None = None,
         only: list[str] | tuple[str, ...] | None = None) -> PrometheusReport:
    """Read every SLO's hourly SLIs from Prometheus into ``sli_hours``; safe to re-run.

    ``now`` fixes the clock (default ``CADENCE_NOW``, else the wall clock): hours up to the end of
    the last complete hour are read. ``since`` re-reads from that UTC date on. ``only`` names the
    SLOs to sync (default: all with selectors). ``client`` is a parameter so tests can point it at
    a local server.
    """
    settings = read_settings(config)
    with_selectors = [s for s in config.slos if s.has_selectors]
    if only:
        unknown = sorted(set(only) - {s.name for s in config.slos})
        if unknown:
            known = ", ".join(s.name for s in config.slos) or "none declared"
            raise ConfigError(f'Unknown SLO "{unknown[0]}"; declared SLOs: {known}.')
    targets = [s for s in with_selectors if not only or s.name in only]
    report = PrometheusReport(skipped=[s.name for s in config.slos if not s.has_selectors
                                       and (not only or s.name in only)])
    if not targets:
        where = f" in {config.path}" if config.path else ""
        raise ConfigError(f"No SLO with good and total selectors{where}; declare one under [[slos]] "
                          f"(docs/sources.md#prometheus).")
    client = client or PrometheusClient.from_env(settings.base_url, timeout=settings.timeout_seconds)
    now = now or utcnow()
    end = hour_floor(now)
    longest = max(s.window_days for s in with_selectors)
    first_start = end - timedelta(days=longest + FIRST_RUN_EXTRA_DAYS)

    def fail_all(scopes: list[str], exc: Exception) -> None:
        with write_connection(db_path) as con:
            for scope in scopes:
                record_sync_error(con, SOURCE, scope, str(exc), now=now)
                report.failed[scope] = str(exc)

    try:
        version = client.check()
    except (PrometheusUnreachable, SourceAuthError, SourceRateLimitError) as exc:
        fail_all([scope_of(s) for s in targets], exc)
        report.requests = client.requests_made
        exc.report = report
        raise
    log.info("prometheus at %s%s: syncing %d SLO(s) up to %s", settings.base_url,
             f" (version {version})" if version else "", len(targets), _ts(end))
    for i, slo in enumerate(targets):
        scope = scope_of(slo)
        with write_connection(db_path) as con:
            cursor = read_cursor(con, SOURCE, scope)
            details = read_details(con, SOURCE, scope)
        restarted = None
        if since is not None:
            start = datetime(since.year, since.month, since.day)
        elif cursor and details.get("good") == slo.good and details.get("total") == slo.total:
            start = parse_utc(cursor) - REREAD_HOURS * HOUR
        else:
            start = first_start
            if cursor:
                restarted = (f"selectors changed since the last run: read again from {_ts(start)} "
                             f"(older hours keep the old selectors' rows; `--since` re-reads further back)")
        start = hour_floor(start)
        result = SloResult(start=start, end=max(start, end), restarted=restarted)
        report.slos[slo.name] = result
        try:
            report.rows[TABLE] += _sync_slo(db_path, client, slo, start, end, cursor, result, now)
        except (PrometheusUnreachable, SourceAuthError, SourceRateLimitError) as exc:
            del report.slos[slo.name]
            fail_all([scope_of(s) for s in targets[i:]], exc)
            report.requests = client.requests_made
            exc.report = report   # the CLI prints what the SLOs before this one did
            raise
        except SourceError as exc:
            del report.slos[slo.name]
            with write_connection(db_path) as con:
                record_sync_error(con, SOURCE, scope, str(exc), now=now)
            report.failed[scope] = str(exc)
            log.warning("prometheus %s: %s", slo.name, exc)
    report.requests = client.requests_made
    for line in report.summary():
        log.debug("%s", line)
    return report
