"""The write: the checked rows and a deployment's listed changes, upserted on the table's key in one
short transaction (``warehouse.upsert.upsert_rows``), with what was new and what changed counted."""

from __future__ import annotations

import logging
import time

import duckdb
import pyarrow.compute as pc

from cadence.core.config import Config
from collectors.files.results import IngestResult
from collectors.files.schemas import TABLES
from collectors.files.validate import validate
from warehouse.db import write_connection
from warehouse.upsert import TABLE_KEYS, table_columns, upsert_rows

log = logging.getLogger(__package__)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def write_rows(con: duckdb.DuckDBPyConnection, table: str, cols: list[str]) -> tuple[int, int]:
    """Upsert the registered ``staged`` rows (their keys unique: checked) into ``table`` with the
    one upsert, ``upsert_rows``; returns (new rows, changed rows).

    Only rows that are new or differ from the stored ones are written, so an identical re-ingest
    writes nothing. A changed row keeps the stored values of the columns the input does not give:
    an input says what it says, and no more.
    """
    key = list(TABLE_KEYS[table])
    on = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
    differs = " OR ".join(f"t.{quote(c)} IS DISTINCT FROM s.{quote(c)}" for c in cols if c not in key) or "false"
    stored = [c for c in table_columns(con, table) if c not in cols]
    # One join finds both sets: a row with no stored match is new (the probe column is NULL).
    probe = f"t.{quote(key[0])} IS NULL"
    found = con.sql(
        f"SELECT {', '.join(f's.{quote(c)}' for c in cols)}{''.join(f', t.{quote(c)}' for c in stored)}, "
        f"{probe} AS _new FROM staged AS s LEFT JOIN {quote(table)} AS t ON {on} "
        f"WHERE {probe} OR {differs}").to_arrow_table()
    is_new = found.column("_new")
    # New rows carry only the input's columns, so the others take their defaults on insert.
    new = found.filter(is_new).select(cols)
    changed = found.filter(pc.invert(is_new)).drop_columns(["_new"])
    return upsert_rows(con, table, new), upsert_rows(con, table, changed)


def _write_links(con: duckdb.DuckDBPyConnection) -> int:
    """A deployment's listed changes replace the links it had from ingest; new links are added."""
    con.execute("DELETE FROM deployment_changes AS d WHERE d.deployment_id IN (SELECT deployment_id FROM links) "
                "AND NOT EXISTS (SELECT 1 FROM links AS l WHERE l.deployment_id = d.deployment_id "
                "AND l.change_id = d.change_id)")
    return int(con.execute(
        "INSERT INTO deployment_changes (deployment_id, change_id, source) SELECT deployment_id, change_id, source "
        "FROM links AS l WHERE NOT EXISTS (SELECT 1 FROM deployment_changes AS d "
        "WHERE d.deployment_id = l.deployment_id AND d.change_id = l.change_id)").fetchall()[0][0])


def load(db_path, kind: str, mem: duckdb.DuckDBPyConnection, header: list[str], fmt: str, name: str,
         config: Config, source: str, records: bool, started: float,
         pretyped: set[str] = frozenset(), nul_check: bool = True) -> IngestResult:
    """Check the staged input (``validate``), then write it and its links in one transaction."""
    result = IngestResult(kind=kind, source_name=name)
    read_done = time.perf_counter()
    table = TABLES[kind]
    cols, has_links = validate(mem, kind, header, fmt, name, config, source, records, result, pretyped,
                               nul_check)
    columns = ", ".join(c for c in cols if c != "source")
    staged = mem.sql(f"SELECT {columns}, $source AS source FROM staged", params={"source": source}).to_arrow_table()
    links = mem.sql("SELECT * FROM links").to_arrow_table() if has_links else None
    check_done = time.perf_counter()
    with write_connection(db_path) as con:
        con.register("staged", staged)
        if links is not None:
            con.register("links", links)
        try:
            result.inserted, result.updated = write_rows(con, table, cols)
            if links is not None:
                result.links_written = _write_links(con)
        finally:
            con.unregister("staged")
            if links is not None:
                con.unregister("links")
    result.seconds = {"read": read_done - started, "check": check_done - read_done,
                      "write": time.perf_counter() - check_done}
    log.debug("ingest %s phases: read %.2f s, check %.2f s, write %.2f s", name, *result.seconds.values())
    for w in result.warnings:  # the caller shows them (CLI: "Warning: ..."; webhook: in the reply)
        log.debug("ingest warning: %s", w)
    log.info("ingest %s", result.summary())
    return result
