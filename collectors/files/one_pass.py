"""One pass for a large CSV into an empty table: read, checked and written by one statement."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import duckdb

from cadence.core.config import Config
from collectors.files.check import final_select, kind_checks, time_params, typed_select
from collectors.files.load import quote
from collectors.files.read import reader_types
from collectors.files.results import IngestResult, note_unknown, note_warning
from collectors.files.schemas import PER_CHECK, TABLES
from collectors.files.validate import map_columns
from warehouse.db import write_connection

log = logging.getLogger(__package__)

ONE_PASS_MIN_BYTES = 32 * 1024 * 1024   # smaller files take the staged path (a fraction of a second)
ONE_PASS_KINDS = ("deployments", "changes", "incidents")


class _Declined(Exception):
    """The one-pass load cannot finish cleanly: roll back and take the staged path, which reports."""


def one_pass_load(db_path, kind: str, path: str, name: str, config: Config, source: str,
                   header: list[str], started: float, nul_check: bool = True) -> IngestResult | None:
    """Read, check and write a large CSV in one statement into an empty table; None when it does
    not apply or the input needs reporting (then nothing was written).

    The staged path reads the file into memory, checks it, then copies it into the warehouse:
    three passes over the rows. Into an empty table (the first load of a large history) the rows
    can go straight from DuckDB's CSV reader into the table, as the reader parses them; the
    row-level checks of the staged path are the same SQL here, evaluated in the same statement,
    and raise at the first bad row. The checks that need the whole file (repeated ids, rows the
    reader refused) run over the new rows before the commit. Anything wrong rolls the transaction
    back and returns None: the caller then runs the staged path, which finds every problem with
    its line and reports them. Warnings need lines too: the reader keeps file order, so the new
    rows' row ids are the file's data lines, in order.
    """
    table = TABLES[kind]
    mapping, _, unknown = map_columns(kind, header, name, records=False)
    if kind not in ONE_PASS_KINDS or "change_ids" in mapping:
        return None
    typed_idx = reader_types(kind, mapping)
    pretyped = {col for col, idx in mapping.items() if idx in typed_idx}
    exprs, checks = typed_select(kind, mapping, "csv", pretyped, nul_check)
    errors, warns = kind_checks(kind, mapping, config)
    # Every error condition of the staged path, per row. The warnings' conditions are evaluated on
    # the stored rows below: for these kinds they name only columns stored under the same name.
    bad = " OR ".join(f"coalesce({cond}, false)" for _, cond, _ in checks + errors if cond) or "false"
    select, cols = final_select(kind, mapping, config, source)
    col_list = ", ".join(quote(c) for c in cols)
    delim = "\t" if ".tsv" in path.lower() else ","
    reader_columns = {f"c{i}": typed_idx.get(i, "VARCHAR") for i in range(len(header))}
    existed = Path(db_path).exists()
    result = IngestResult(kind=kind, source_name=name)
    note_unknown(result, name, unknown)
    times = {}
    try:
        with write_connection(db_path) as con:
            con.execute("SET TimeZone = 'UTC'")   # as memory(): naive is UTC, offsets convert
            if con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {quote(table)} LIMIT 1)").fetchall()[0][0]:
                return None
            t0 = time.perf_counter()
            try:
                result.inserted = int(con.execute(
                    f"INSERT INTO {quote(table)} ({col_list}) "
                    f"SELECT {select}, $source AS source FROM ("
                    f"  SELECT {', '.join(e for e in exprs if e != '_line')} FROM read_csv($path, header = true, "
                    f"  delim = $delim, quote = '\"', escape = '\"', auto_detect = false, columns = $columns, "
                    f"  strict_mode = true, store_rejects = true)) AS typed "
                    f"WHERE CASE WHEN {bad} THEN error('cadence: a row needs the checked path') ELSE true END",
                    {"source": source, "path": path, "delim": delim, "columns": reader_columns,
                     **{k: v for k, v in time_params().items() if f"${k}" in bad}}).fetchall()[0][0])
            except duckdb.Error as exc:
                log.debug("ingest %s: one pass stepped aside: %s", name, str(exc).splitlines()[0])
                raise _Declined from None
            t1 = time.perf_counter()
            if con.execute("SELECT count(*) FROM reject_errors").fetchall()[0][0]:
                raise _Declined
            if con.execute(f"SELECT count(id) - count(DISTINCT id) FROM {quote(table)}").fetchall()[0][0]:
                raise _Declined
            result.rows_read = result.inserted
            if warns:
                parts = []
                for _, cond, _ in warns:
                    parts += [f"count(*) FILTER (WHERE {cond})", f"min(rowid, {PER_CHECK}) FILTER (WHERE {cond})"]
                found = con.execute(f"SELECT min(rowid), {', '.join(parts)} FROM {quote(table)}").fetchall()[0]
                base = found[0]
                for i, (_, _, reason) in enumerate(warns):
                    count, rowids = found[1 + 2 * i], found[2 + 2 * i] or []
                    if count:   # row ids from base are the data lines from 2 (after the header)
                        note_warning(result, name, count, reason, [r - base + 2 for r in rowids], records=False)
            times = {"load": t1 - t0, "check": time.perf_counter() - t1}
    except _Declined:
        if not existed:   # the attempt made the file; a bad input leaves no new database behind
            for p in (Path(db_path), Path(f"{db_path}.wal")):
                p.unlink(missing_ok=True)
        return None
    times["commit"] = time.perf_counter() - started - sum(times.values())
    result.seconds = times
    log.debug("ingest %s phases: one pass: read+write %.2f s, check %.2f s, commit and rest %.2f s",
              name, times["load"], times["check"], times["commit"])
    for w in result.warnings:
        log.debug("ingest warning: %s", w)
    log.info("ingest %s", result.summary())
    return result
