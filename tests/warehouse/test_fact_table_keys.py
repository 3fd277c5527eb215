"""The large fact tables keep one row per natural key without a declared primary key (migration
004): the migration keeps every row and column, every writer replaces on the key, concurrent
writers in one process cannot repeat a key, and Data health shows a key repeated from outside."""

from __future__ import annotations

import threading
from datetime import date

import duckdb
import pandas as pd

from metrics.health import duplicate_keys
from warehouse import connect, write_connection
from warehouse.db import LATEST_VERSION, _migrations
from collectors.files import ingest_records
from warehouse.upsert import TABLE_KEYS, UNINDEXED_TABLES, upsert_rows

COLUMNS = ("SELECT table_name, column_name, column_index, data_type, column_default, is_nullable "
           "FROM duckdb_columns() WHERE database_name = current_database() ORDER BY ALL")
KEYS = ("SELECT table_name, constraint_column_names FROM duckdb_constraints() "
        "WHERE database_name = current_database() AND constraint_type = 'PRIMARY KEY' ORDER BY ALL")


def make_v3(path) -> None:
    """A warehouse as Cadence left it before migration 004, with a row in each fact table."""
    with duckdb.connect(str(path)) as c:
        c.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
                  "applied_at TIMESTAMP DEFAULT current_timestamp)")
        for version, name, sql in _migrations():
            if version <= 3:
                c.execute(sql)
                c.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name])
        c.execute("INSERT INTO deployments (id, repo, service, environment, status, finished_at) "
                  "VALUES ('d1', 'shop/api', 'api', 'production', 'success', '2026-03-02 10:00')")
        c.execute("INSERT INTO changes (id, repo, labels, merged_at) VALUES ('c1', 'shop/api', ['hotfix'], "
                  "'2026-03-01 12:00')")
        c.execute("INSERT INTO incidents (id, service, created_at) VALUES ('i1', 'api', '2026-03-02 11:00')")
        c.execute("INSERT INTO costs (charge_date, source, provider, service_name, effective_cost, tags) "
                  "VALUES ('2026-03-01', 'cur', 'AWS', 'Amazon EC2', 12.5, '{\"team\": \"payments\"}')")


def test_migration_keeps_rows_and_columns_and_drops_only_the_fact_keys(tmp_path):
    path = tmp_path / "v3.duckdb"
    make_v3(path)
    with duckdb.connect(str(path), read_only=True) as c:
        columns_before = c.execute(COLUMNS).fetchall()
        keys_before = c.execute(KEYS).fetchall()
        rows_before = {t: c.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in UNINDEXED_TABLES}
    connect(path).close()   # opening an older file upgrades it
    with duckdb.connect(str(path), read_only=True) as c:
        assert c.execute("SELECT max(version) FROM schema_version").fetchall()[0][0] == LATEST_VERSION >= 4
        # tables of later migrations (005 sli_hours, ...) are theirs, not 004's
        tables_before = {row[0] for row in columns_before}
        columns_after = [r for r in c.execute(COLUMNS).fetchall() if r[0] in tables_before]
        assert columns_after == columns_before   # same columns, order, types, defaults
        keys_after = [k for k in c.execute(KEYS).fetchall() if k[0] in tables_before]
        assert {t for t, _ in keys_before} - {t for t, _ in keys_after} == UNINDEXED_TABLES
        assert [k for k in keys_before if k[0] not in UNINDEXED_TABLES] == keys_after
        for table in UNINDEXED_TABLES:
            assert c.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall() == rows_before[table]
        nullable = {(t, n): null for t, n, _, _, _, null in columns_after}
        assert not any(nullable[(t, k)] for t in UNINDEXED_TABLES for k in TABLE_KEYS[t])   # keys NOT NULL


def test_upsert_rows_replaces_on_the_key(db_path):
    """Like INSERT OR REPLACE: the last row of a key wins, within a batch and across batches, and
    a column not sent is reset to its default (a writer sends the whole row it owns)."""
    row = {"id": "d1", "repo": "shop/api", "service": "api", "environment": "production", "status": "failure",
           "finished_at": pd.Timestamp("2026-03-02 10:00"), "source": "github"}
    with write_connection(db_path) as con:
        assert upsert_rows(con, "deployments", [row, {**row, "status": "success"}]) == 1
    with write_connection(db_path) as con:
        upsert_rows(con, "deployments", [{k: v for k, v in row.items() if k != "source"} | {"sha": "abc"}])
        got = con.execute("SELECT id, status, sha, source FROM deployments").fetchall()
    assert got == [("d1", "failure", "abc", "ingest")]   # source back to its default 'ingest'

    cost = {"charge_date": date(2026, 3, 1), "source": "cur", "provider": "AWS", "billing_account_id": "1",
            "sub_account_id": "2", "service_name": "Amazon EC2", "region": "", "resource_id": "",
            "allocation_tag": "", "effective_cost": 1.0}
    with write_connection(db_path) as con:
        upsert_rows(con, "costs", [cost, {**cost, "region": "eu-west-1", "effective_cost": 2.0}])
        upsert_rows(con, "costs", [{**cost, "effective_cost": 3.0}])
        got = con.execute("SELECT region, effective_cost FROM costs ORDER BY region").fetchall()
    assert got == [("", 3.0), ("eu-west-1", 2.0)]   # '' and eu-west-1 are different keys


def test_concurrent_writers_in_one_process_never_repeat_a_key(db_path):
    """Eight threads upsert the same 30 deployments at once (ingest and upsert_rows): the write
    lock runs their transactions one after another, so each key lands once."""
    connect(db_path).close()
    records = [{"id": f"ci:{n}", "repo": "shop/api", "environment": "production", "status": "success",
                "finished_at": "2026-03-02T10:00:00Z"} for n in range(30)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait()
            for _ in range(3):
                if i % 2:
                    ingest_records(db_path, "deployments", [{**r, "url": f"t{i}"} for r in records])
                else:
                    with write_connection(db_path) as con:
                        upsert_rows(con, "deployments", [{**r, "service": "api", "url": f"t{i}",
                                                          "finished_at": pd.Timestamp("2026-03-02 10:00")}
                                                         for r in records])
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*), count(DISTINCT id), count(DISTINCT url) FROM deployments").fetchall() \
            == [(30, 30, 1)]   # one row per key, all from whichever writer came last


def test_data_health_counts_a_key_written_twice_from_outside(db_path):
    with write_connection(db_path) as con:
        upsert_rows(con, "changes", [{"id": "c1", "repo": "shop/api"}, {"id": "c2", "repo": "shop/api"}])
        assert duplicate_keys(con)["keys"].sum() == 0
        # Around Cadence's writers, as a manual INSERT would: c1 three times, c2 twice.
        con.execute("INSERT INTO changes (id, repo) VALUES ('c1', 'x'), ('c1', 'y'), ('c2', 'z')")
        con.execute("INSERT INTO costs (charge_date, source, provider, service_name) VALUES "
                    "('2026-03-01', 'cur', 'AWS', 'S3'), ('2026-03-01', 'cur', 'AWS', 'S3')")
        found = duplicate_keys(con).set_index("table")
    assert found.loc["changes"].tolist() == [2, 3]   # keys c1, c2; extra rows 2 + 1
    assert found.loc["costs"].tolist() == [1, 1]
    assert found.loc["deployments"].tolist() == [0, 0]
