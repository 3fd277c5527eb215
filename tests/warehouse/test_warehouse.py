"""warehouse/: migrations, upserts on natural keys, sync state, opening errors."""

from __future__ import annotations

import duckdb
import pytest

from cadence.core.errors import WarehouseError
from warehouse import connect, database_version, read_cursor, upsert_rows, write_connection, write_cursor
from warehouse.db import LATEST_VERSION
from warehouse.state import read_sync_states, record_sync_error, record_sync_skipped


def test_new_file_gets_latest_schema(db_path):
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert database_version(c) == LATEST_VERSION
        tables = {r[0] for r in c.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {"deployments", "changes", "deployment_changes", "incidents", "costs", "utilization",
            "commitments", "sync_state", "schema_version"} <= tables


def test_older_file_is_upgraded_on_open(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as c:  # a version-0 file: no schema_version table
        c.execute("CREATE TABLE unrelated (x INT)")
    con = connect(path, read_only=True)
    try:
        assert database_version(con) == LATEST_VERSION
    finally:
        con.close()


def test_upsert_twice_keeps_one_row_per_key(con):
    rows = [{"id": "d1", "repo": "shop/api", "service": "api", "environment": "production",
             "status": "success"},
            {"id": "d1", "repo": "shop/api", "service": "api", "environment": "production",
             "status": "failure"}]  # same key twice in one batch: the last wins
    assert upsert_rows(con, "deployments", rows) == 1
    assert upsert_rows(con, "deployments", rows) == 1
    assert con.execute("SELECT count(*), max(status) FROM deployments").fetchone() == (1, "failure")


def test_upsert_rejects_unknown_column(con):
    with pytest.raises(ValueError, match="no such column"):
        upsert_rows(con, "incidents", [{"id": "i1", "created_at": "2026-01-01", "colour": "red"}])


def test_cursor_moves_with_success_and_survives_error(con):
    assert read_cursor(con, "github", "shop/api:pulls") is None
    write_cursor(con, "github", "shop/api:pulls", "2026-03-01T10:00:00Z", rows_written=5)
    record_sync_error(con, "github", "shop/api:pulls", "HTTP 502")
    assert read_cursor(con, "github", "shop/api:pulls") == "2026-03-01T10:00:00Z"
    assert con.execute("SELECT rows_written, last_error FROM sync_state").fetchone() == (5, "HTTP 502")


def test_a_skipped_part_is_neither_an_error_nor_a_success_and_clears_on_the_next_run(con):
    write_cursor(con, "aws-cost-explorer", "commitments", "2026-10-01", rows_written=3)
    record_sync_error(con, "aws-cost-explorer", "commitments", "HTTP 502")
    record_sync_skipped(con, "aws-cost-explorer", "commitments", "the endpoint lacks GetSavingsPlansUtilization")
    state = read_sync_states(con).iloc[0]
    assert state["cursor"] == "2026-10-01" and state["rows_written"] == 3       # cursor unmoved
    assert state["last_error"] is None and state["skipped"] == "the endpoint lacks GetSavingsPlansUtilization"
    record_sync_error(con, "aws-cost-explorer", "commitments", "HTTP 502")
    assert read_sync_states(con).iloc[0][["last_error", "skipped"]].tolist() == ["HTTP 502", None]
    record_sync_skipped(con, "aws-cost-explorer", "commitments", "lacks it")
    write_cursor(con, "aws-cost-explorer", "commitments", "2026-10-02")
    assert read_sync_states(con).iloc[0][["cursor", "last_error", "skipped"]].tolist() == ["2026-10-02", None, None]


def test_write_connection_rolls_back_on_error(db_path):
    with pytest.raises(RuntimeError):
        with write_connection(db_path) as c:
            upsert_rows(c, "changes", [{"id": "c1", "repo": "shop/api"}])
            raise RuntimeError("boom")
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM changes").fetchone()[0] == 0


def test_not_a_duckdb_file(tmp_path):
    path = tmp_path / "notes.duckdb"
    path.write_text("just some text, not a database\n" * 50)
    with pytest.raises(WarehouseError, match=r'"[^"]*notes.duckdb" is not a DuckDB file'):
        connect(path)


def test_read_only_of_missing_file_says_what_to_run(tmp_path):
    with pytest.raises(WarehouseError, match="cadence demo"):
        connect(tmp_path / "nothing.duckdb", read_only=True)
