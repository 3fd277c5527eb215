"""``sync``: Cost Explorer costs, commitments and CloudWatch utilization, each part fetched first
and then written with its cursor in one short transaction (all or nothing per part)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from cadence.core.clock import utcnow
from cadence.core.allocation import Allocator
from cadence.core.config import Config
from cadence.core.errors import CadenceError, ConfigError, SourceAuthError
from collectors.aws_costs.calls import (CE_REQUEST_USD, EndpointNotImplementedError, Meter, default_session,
                                        make_client)
from collectors.aws_costs.cloudwatch import discover_ec2, discover_ecs, fetch_utilization
from collectors.aws_costs.commitments import fetch_commitments
from collectors.aws_costs.cost_explorer import fetch_costs, plan_ranges
from collectors.aws_costs.settings import PROVIDER, SOURCE, aws_settings, window_start
from warehouse import (
    read_cursor,
    record_sync_error,
    record_sync_skipped,
    upsert_rows,
    write_connection,
    write_cursor,
)
from warehouse.state import read_details

# The source's one logger name (as before the package split): log filters and tests key on it.
log = logging.getLogger(__package__)

PARTS = ("costs", "commitments", "utilization")
COMMITMENT_SETTLE_DAYS = 3     # commitment figures of the last few days are fetched again


@dataclass
class SyncReport:
    paid_requests: int = 0
    cost_usd: float = 0.0
    cost_rows: int = 0
    cost_ranges: list[tuple[date, date]] = field(default_factory=list)
    estimated_from: date | None = None
    commitment_rows: int = 0
    utilization_rows: int = 0
    skipped: dict[str, str] = field(default_factory=dict)   # part scope → why (endpoint lacks a call)

    def lines(self) -> list[str]:
        ranges = ", ".join(f"{a}..{b - timedelta(days=1)}" for a, b in self.cost_ranges) or "none (up to date)"
        out = [f"Cost Explorer: {self.paid_requests} paid requests (USD {self.cost_usd:.2f} at "
               f"USD {CE_REQUEST_USD:.2f} each)",
               f"costs: {self.cost_rows} rows for {ranges}"]
        if self.estimated_from:
            out.append(f"costs: days from {self.estimated_from} are still estimated; the next run fetches them again")
        commitments = ("skipped (the endpoint lacks the calls)" if "commitments" in self.skipped
                       else f"{self.commitment_rows} rows")
        utilization = f"{self.utilization_rows} rows" + (
            f" ({', '.join(s for s in self.skipped if s.startswith('utilization'))} skipped)"
            if any(s.startswith("utilization") for s in self.skipped) else "")
        out.append(f"commitments: {commitments}; utilization: {utilization}")
        return out


def sync(db_path: str | Path, config: Config, *, session=None, ce_client=None, today: date | None = None,
         parts: tuple[str, ...] = PARTS, lookback_months: int | None = None,
         clients: dict[str, Any] | None = None) -> SyncReport:
    """Fetch what is missing or still estimated, then write each part in one short transaction.

    ``session``/``ce_client``/``clients`` let tests (and callers) supply boto3 objects; by default
    a plain ``boto3.Session()`` (standard chain, endpoint variables) builds them. Each part is
    all-or-nothing: fetched first, validated, then written with its cursor.
    """
    settings = aws_settings(config, lookback_months)
    bad = [p for p in parts if p not in PARTS]
    if bad:
        raise ConfigError(f"Unknown part {bad[0]!r}; choose from {', '.join(PARTS)}.")
    today = today or utcnow().date()   # CADENCE_NOW pins it
    clients = dict(clients or {})
    session = session if session is not None else default_session()
    if ce_client is None and ({"costs", "commitments"} & set(parts)):
        ce_client = make_client(session, "ce", "us-east-1")  # Cost Explorer's one endpoint
    allocator = Allocator(config)
    meter = Meter()
    report = SyncReport()
    with write_connection(db_path) as con:
        cost_cursor = read_cursor(con, SOURCE, "costs")
        cost_details = read_details(con, SOURCE, "costs")
        commit_cursor = read_cursor(con, SOURCE, "commitments")
        commit_details = read_details(con, SOURCE, "commitments")
        util_state = {r: (read_cursor(con, SOURCE, f"utilization:{r}"))
                      for r in settings.cloudwatch_regions}
    first = window_start(today, settings.lookback_months)

    failures: list[tuple[str, Exception]] = []

    def guarded(scope: str, fn, empty):
        """Run one part; a failure is recorded and the other parts still run (each is all or
        nothing), except missing or refused credentials, which would fail every part alike. A part
        whose endpoint does not implement a call it needs is skipped: one warning, recorded in
        ``sync_state`` for the Data health page, and the run does not fail for it."""
        try:
            return fn()
        except EndpointNotImplementedError as exc:
            why = (f"the endpoint at {exc.endpoint} does not implement {exc.operation}: {scope.split(':')[0]} "
                   f"skipped ({exc.answer}; nothing written for it). AWS itself implements it: point "
                   f"AWS_ENDPOINT_URL at AWS, or at an emulator that has it, to sync {scope}.")
            log.warning("aws %s: %s", scope, why)
            with write_connection(db_path) as con:
                record_sync_skipped(con, SOURCE, scope, why)
            report.skipped[scope] = why
            return empty
        except CadenceError as exc:
            log.warning("aws %s failed: nothing written for it", scope)
            with write_connection(db_path) as con:
                record_sync_error(con, SOURCE, scope, str(exc))
            failures.append((scope, exc))
            if isinstance(exc, SourceAuthError):
                _raise_failures(failures, meter, report)
            return empty

    if "costs" in parts:
        ranges = plan_ranges(cost_details, cost_cursor, first, today)

        def do_costs():
            rows, first_est = [], None
            for a, b in ranges:
                got = fetch_costs(ce_client, meter, a, b, settings, allocator)
                rows += got.rows
                if got.first_estimated and (first_est is None or got.first_estimated < first_est):
                    first_est = got.first_estimated
            if not ranges:
                return 0, None
            held_from = min([first] + ([date.fromisoformat(cost_details["fetched_from"])]
                                       if cost_details.get("fetched_from") else []))
            cursor = first_est or today
            with write_connection(db_path) as con:
                for a, b in ranges:
                    con.execute("DELETE FROM costs WHERE source = ? AND charge_date >= ? AND charge_date < ?",
                                [SOURCE, a, b])
                n = upsert_rows(con, "costs", rows)
                write_cursor(con, SOURCE, "costs", cursor.isoformat(), rows_written=n,
                             details={"fetched_from": held_from.isoformat(),
                                      "paid_requests": meter.by_operation.get("get_cost_and_usage", 0)})
            return n, first_est

        report.cost_rows, report.estimated_from = guarded("costs", do_costs, (0, None))
        report.cost_ranges = ranges
        log.info("aws costs: %d rows over %d range(s), estimated from %s", report.cost_rows, len(ranges),
                 report.estimated_from)

    if "commitments" in parts:
        settle = today - timedelta(days=COMMITMENT_SETTLE_DAYS)
        ranges = plan_ranges(commit_details, commit_cursor, first, today)

        def do_commitments():
            rows = []
            for a, b in ranges:
                rows += fetch_commitments(ce_client, meter, a, b)
            if not ranges:
                return 0
            held_from = min([first] + ([date.fromisoformat(commit_details["fetched_from"])]
                                       if commit_details.get("fetched_from") else []))
            with write_connection(db_path) as con:
                for a, b in ranges:
                    con.execute("DELETE FROM commitments WHERE provider = ? AND date >= ? AND date < ?",
                                [PROVIDER, a, b])
                n = upsert_rows(con, "commitments", rows)
                write_cursor(con, SOURCE, "commitments", max(settle, first).isoformat(), rows_written=n,
                             details={"fetched_from": held_from.isoformat()})
            return n

        report.commitment_rows = guarded("commitments", do_commitments, 0)

    if "utilization" in parts:
        for region in settings.cloudwatch_regions:
            cursor = util_state[region]
            start = max(date.fromisoformat(cursor) if cursor else date.min,
                        today - timedelta(days=settings.utilization_days))
            if start >= today:
                continue

            def do_region(region=region, start=start):
                cw = clients.get(f"cloudwatch:{region}") or make_client(session, "cloudwatch", region)
                ec2 = clients.get(f"ec2:{region}") or make_client(session, "ec2", region)
                ecs = clients.get(f"ecs:{region}") or make_client(session, "ecs", region)
                resources = discover_ec2(ec2, cw, settings, allocator) + discover_ecs(ecs, settings, allocator)
                rows = fetch_utilization(cw, resources, start, today)
                with write_connection(db_path) as con:
                    n = upsert_rows(con, "utilization", rows)
                    write_cursor(con, SOURCE, f"utilization:{region}", today.isoformat(), rows_written=n,
                                 details={"resources": len(resources)})
                log.info("aws utilization %s: %d resources, %d rows from %s", region, len(resources), n, start)
                return n

            report.utilization_rows += guarded(f"utilization:{region}", do_region, 0)

    report.paid_requests = meter.requests
    report.cost_usd = meter.cost_usd
    if failures:
        _raise_failures(failures, meter, report)
    return report


def _raise_failures(failures: list[tuple[str, Exception]], meter: Meter, report: SyncReport):
    """Raise the first failure (its own type), naming the paid requests and the other failed parts;
    the report of what did succeed rides along as ``exc.report`` for the CLI to print."""
    report.paid_requests, report.cost_usd = meter.requests, meter.cost_usd
    scope, first = failures[0]
    others = ", ".join(s for s, _ in failures[1:])
    note = f" (This run made {meter.requests} paid Cost Explorer requests, USD {meter.cost_usd:.2f}" + \
        (f"; {others} failed too" if others else "") + ".)"
    exc = type(first)(f"{first}{note}" if meter.requests or others else str(first))
    exc.report = report
    raise exc from first
