"""The DuckDB warehouse: one way to open it, versioned schema, idempotent upserts, sync cursors."""

from warehouse.db import (
    connect,
    database_version,
    ensure_schema,
    last_write_token,
    read_connection,
    write_connection,
)
from warehouse.state import read_cursor, read_sync_states, record_sync_error, record_sync_skipped, write_cursor
from warehouse.upsert import TABLE_KEYS, upsert_rows

__all__ = [
    "TABLE_KEYS",
    "connect",
    "database_version",
    "ensure_schema",
    "last_write_token",
    "read_connection",
    "read_cursor",
    "read_sync_states",
    "record_sync_error",
    "record_sync_skipped",
    "upsert_rows",
    "write_connection",
    "write_cursor",
]
