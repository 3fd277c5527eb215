"""AWS Data Exports through Athena: the daily aggregation runs where the export already is, and
only the daily rows come back (for organisations whose monthly export is too large for one machine).

API: Athena ``StartQueryExecution``, ``GetQueryExecution`` (polled), ``GetQueryResults``
(paginated), ``StopQueryExecution`` (on time-out), through PyAthena's ``AsyncCursor``; credentials
and endpoint from boto3's standard chain. IAM: ``athena:StartQueryExecution``,
``athena:GetQueryExecution``, ``athena:GetQueryResults``, ``athena:StopQueryExecution``,
``glue:GetTable``/``GetPartitions`` on the table, ``s3:GetObject`` on the export and
``s3:PutObject`` on ``output_location``.

Queries (``collectors/aws_exports/sql/``): ``athena_periods.sql`` lists each billing period's data
files (path, size, modification time: file pseudo-columns, no cost column read);
``athena_daily.sql`` aggregates one period to the grain and columns of the local path, over the
line items in common columns that ``athena_lines_<format>.sql`` selects.
The daily rows go through the same checks, allocation join and write as local files
(``collectors.aws_exports.local``): a period replaces that period for its billing accounts, in one
transaction with its file list.

Incremental: ``sync_state`` (source ``aws-athena``, scope ``database.table``) keeps each period's
file list; a period whose files are unchanged is not queried again.
"""

from __future__ import annotations

import calendar
import concurrent.futures
import logging
import re
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from cadence.core.config import Config
from cadence.core.errors import CadenceError, IngestError, SourceError
from collectors.aws_exports.local import (
    PeriodReport,
    Stage,
    allocate,
    check_daily,
    map_cur_categories,
    source_of,
    summary,
    write_stage,
)
from cadence.core.settings.aws_exports import AthenaSettings, athena_settings, export_settings
from warehouse import write_connection
from warehouse.state import read_details, record_sync_error, write_cursor

log = logging.getLogger(__name__)

STATE_SOURCE = "aws-athena"
PAGE_ROWS = 1000          # GetQueryResults' largest page
DAILY_COLUMNS = (("charge_date", "DATE"), ("provider", "VARCHAR"), ("billing_account_id", "VARCHAR"),
                 ("sub_account_id", "VARCHAR"), ("service_name", "VARCHAR"), ("region", "VARCHAR"),
                 ("resource_id", "VARCHAR"), ("allocation_tag", "VARCHAR"), ("service_category", "VARCHAR"),
                 ("billed_cost", "DOUBLE"), ("effective_cost", "DOUBLE"), ("list_cost", "DOUBLE"),
                 ("consumed_quantity", "DOUBLE"), ("consumed_unit", "VARCHAR"), ("min_currency", "VARCHAR"),
                 ("max_currency", "VARCHAR"), ("lines", "BIGINT"))
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def query_text(name: str, table: str) -> str:
    """The SQL file ``name`` with the (validated, quoted) table name in place of ``{table}``."""
    sql = resources.files("collectors.aws_exports").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")
    return sql.replace("{table}", table)


def daily_query(fmt: str, table: str) -> str:
    """``athena_daily.sql`` over the line items of ``athena_lines_<fmt>.sql`` (its header comment
    left out): one query, the aggregation written once for both formats."""
    lines = "\n".join(line for line in query_text(f"athena_lines_{fmt}", table).splitlines()
                      if not line.startswith("--"))
    return query_text("athena_daily", table).replace("{lines}", lines)


def table_name(settings: AthenaSettings) -> str:
    # Both parts matched IDENTIFIER (letters, digits, _) when the config loaded: safe to quote.
    return f'"{settings.database}"."{settings.table}"'


def tag_key(config: Config, fmt: str) -> str:
    tag = config.source("aws").get("team_tag") or "team"
    return f"user_{tag}" if fmt == "cur2" else tag


def connect_athena(settings: AthenaSettings, session=None):
    """A PyAthena connection (boto3's credential chain and endpoint settings)."""
    from pyathena import connect

    kwargs: dict[str, Any] = {"work_group": settings.workgroup, "schema_name": settings.database,
                              "poll_interval": settings.poll_seconds, "kill_on_interrupt": True}
    if settings.output_location:
        kwargs["s3_staging_dir"] = settings.output_location
    if settings.region:
        kwargs["region_name"] = settings.region
    if session is not None:
        kwargs["session"] = session
    return connect(**kwargs)


def run_query(conn, sql: str, params: dict[str, str], settings: AthenaSettings, what: str):
    """Start the query, poll it until it ends or ``timeout_seconds`` pass (then stop it), and
    return its result set (rows fetched page by page). Failures raise SourceError with Athena's reason."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pyathena.async_cursor import AsyncCursor
    from pyathena.error import Error as AthenaError

    cursor = conn.cursor(AsyncCursor, arraysize=PAGE_ROWS)
    try:
        query_id, future = cursor.execute(sql, params)
    except (AthenaError, ClientError, BotoCoreError) as exc:
        raise SourceError(f"Athena did not start {what}: {_reason(exc)}; check [sources.aws.athena] workgroup and "
                          f"output_location and the IAM permission athena:StartQueryExecution.") from exc
    try:
        result = future.result(timeout=settings.timeout_seconds)
    except concurrent.futures.TimeoutError:
        try:
            cursor.cancel(query_id).result(timeout=30)
        except Exception as exc:   # noqa: BLE001 - the time-out is the error to report; the stop is best effort
            log.warning("Athena query %s: StopQueryExecution failed (%s)", query_id, _reason(exc))
        raise SourceError(f"Athena {what} (query {query_id}) did not finish in {settings.timeout_seconds:g} s and was "
                          f"cancelled; nothing was written. Raise [sources.aws.athena] timeout_seconds, or check the "
                          f"workgroup's queue.") from None
    except (AthenaError, ClientError, BotoCoreError) as exc:
        raise SourceError(f"Athena {what} (query {query_id}) could not be followed: {_reason(exc)}") from exc
    if result.state != "SUCCEEDED":
        reason = (result.state_change_reason or "no reason given").strip().splitlines()[0][:300]
        raise SourceError(f"Athena {what} (query {query_id}) {str(result.state).lower()}: {reason}. Nothing was "
                          f"written.")
    return result


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        return f"{err.get('Code', '')}: {err.get('Message', '')}".strip(": ")
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def iter_pages(result, size: int = PAGE_ROWS):
    """The result's rows a page at a time (PyAthena fetches each with GetQueryResults' NextToken)."""
    while True:
        rows = result.fetchmany(size)
        if not rows:
            return
        yield rows


@dataclass
class AthenaReport(PeriodReport):
    queries: int = 0
    verb = "queried"

    def tally(self) -> str:
        return f"{self.queries} Athena queries"


def period_files(conn, settings: AthenaSettings, report: AthenaReport) -> dict[str, list]:
    """billing period → its data files as [path, size, modified], from athena_periods.sql."""
    result = run_query(conn, query_text("athena_periods", table_name(settings)), {}, settings, "listing the files")
    report.queries += 1
    periods: dict[str, list] = {}
    for page in iter_pages(result):
        for period, path, size, modified in page:
            periods.setdefault(str(period), []).append([str(path), int(size), str(modified)])
    bad = [p for p in periods if not PERIOD.match(p)]
    if bad:
        raise IngestError(f"Athena table {table_name(settings)}: billing_period {bad[0]!r} is not YYYY-MM; point "
                          f"[sources.aws.athena] table at the table AWS Data Exports created.")
    return {p: sorted(files) for p, files in sorted(periods.items())}


def month_bounds(period: str) -> tuple[date, date]:
    year, month = map(int, period.split("-"))
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def load_period(db_path, config: Config, conn, settings: AthenaSettings, period: str, files: list,
                report: AthenaReport) -> dict:
    """One period: the daily query, its rows into the stage page by page, then the shared
    checks, allocation and write (with the period's file list, in the same transaction)."""
    import pyarrow as pa

    fmt = settings.format
    where = f"Athena {table_name(settings)} billing period {period}"
    sql = daily_query(fmt, table_name(settings))
    result = run_query(conn, sql, {"billing_period": period, "tag_key": tag_key(config, fmt)}, settings,
                       f"the daily costs of {period}")
    report.queries += 1
    names = [c for c, _ in DAILY_COLUMNS]
    with Stage(export_settings(config)) as stage:
        con = stage.con
        con.execute(f"CREATE TABLE daily ({', '.join(f'{c} {t}' for c, t in DAILY_COLUMNS)}, tags VARCHAR)")
        for page in iter_pages(result):
            batch = pa.table({name: [row[i] for row in page] for i, name in enumerate(names)})
            # Values arrive typed by PyAthena (date, float, str) or as text: DuckDB casts either.
            con.execute(f"INSERT INTO daily ({', '.join(names)}) SELECT {', '.join(f'CAST({c} AS {t})' for c, t in DAILY_COLUMNS)} "
                        f"FROM batch")
        if fmt == "cur2":
            map_cur_categories(con)
        lines = check_daily(stage, where)
        if lines == 0:
            raise IngestError(f"{where}: the query returned no rows; nothing was written.")
        source = source_of(fmt)
        allocate(stage, config, source, period=month_bounds(period))
        done = {"period": period, "format": fmt, "rows_read": lines, "source": source, **summary(stage)}
        scope = f"{settings.database}.{settings.table}"

        def remember(wcon, rows: int) -> None:
            details = read_details(wcon, STATE_SOURCE, scope)
            details.setdefault("periods", {})[period] = files
            write_cursor(wcon, STATE_SOURCE, scope, max(details["periods"]), rows_written=rows, details=details)

        done["rows_written"] = write_stage(db_path, stage, source, remember)
    return done


def sync(db_path: str | Path, config: Config, *, session=None, full: bool = False,
         connection=None) -> AthenaReport:
    """Query every billing period whose files changed since the last run (all with ``full``)."""
    settings = athena_settings(config)
    scope = f"{settings.database}.{settings.table}"
    report = AthenaReport(f"athena {scope}")
    conn = None
    try:
        conn = connection or connect_athena(settings, session)
        periods = period_files(conn, settings, report)
        report.periods = len(periods)
        with write_connection(db_path) as con:
            known = read_details(con, STATE_SOURCE, scope).get("periods", {})
        for period, files in periods.items():
            if not full and known.get(period) == files:
                report.unchanged.append(period)
                continue
            report.loaded.append(load_period(db_path, config, conn, settings, period, files, report))
        if not report.loaded:
            with write_connection(db_path) as con:
                write_cursor(con, STATE_SOURCE, scope, max(known, default=None), details={"periods": known})
    except CadenceError as exc:
        with write_connection(db_path) as con:
            record_sync_error(con, STATE_SOURCE, scope, str(exc))
        raise
    finally:
        if conn is not None and connection is None:
            conn.close()
    log.info("aws-exports athena %s: %d periods, %d queried, %d unchanged, %d queries", scope, report.periods,
             len(report.loaded), len(report.unchanged), report.queries)
    return report
