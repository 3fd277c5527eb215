"""The bulk path of warehouse/ingest.py: a large file into an empty table is loaded without the
primary key and the key is added afterwards. The table must come out exactly as the migrations
define it, keys must stay unique, a failure must leave the table as it was, and the path must
step aside when the table has rows or anything it could not rebuild."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

import warehouse.ingest as ingest
from cadence.config import parse_config
from warehouse import connect
from warehouse.ingest import ingest_file

FILES = {
    "deployments": """
        id,repo,environment,status,finished_at,change_ids
        ci:1,shop/api,production,success,2026-03-02T10:00:00+02:00,"c1,c2"
        ci:2,shop/web,staging,failed,2026-03-02 11:00,
    """,
    "changes": """
        id,repo,number,labels,first_commit_at,merged_at
        c1,shop/api,1,"hotfix, db",2026-03-01T09:00:00Z,2026-03-01T12:00:00Z
        c2,shop/api,2,,2026-03-01T10:00:00Z,
        c3,shop/web,3,bug,2026-03-01T11:00:00+01:00,2026-03-02T08:00:00Z
    """,
    "incidents": """
        id,created_at,service,resolved_at
        pd:1,2026-03-02T12:00:00Z,api,2026-03-02T13:30:00Z
        pd:2,2026-03-03T12:00:00Z,web,
    """,
    "costs": """
        date,service,amount,region
        2026-03-01,Amazon EC2,12.5,eu-west-1
        2026-03-01,Amazon S3,3.25,eu-west-1
        2026-03-02,Amazon EC2,13.0,eu-west-1
    """,
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def shape(db_path: Path, table: str) -> tuple[list, set]:
    """Columns (name, type, default, nullable) and constraints of ``table`` in a warehouse file."""
    with duckdb.connect(str(db_path), read_only=True) as c:
        return ingest._table_shape(c, table)


@pytest.fixture
def fresh_shape(tmp_path):
    """The shape of each ingest table in a warehouse just made by the migrations."""
    path = tmp_path / "reference.duckdb"
    connect(path).close()
    return {table: shape(path, table) for table in ingest.TABLES.values()}


@pytest.fixture
def bulk_calls(monkeypatch) -> list[str]:
    """The tables the bulk path filled during the test."""
    calls: list[str] = []
    real = ingest._bulk_insert_empty

    def spy(con, table, *args):
        calls.append(table)
        return real(con, table, *args)

    monkeypatch.setattr(ingest, "_bulk_insert_empty", spy)
    return calls


@pytest.fixture
def bulk_always(monkeypatch, bulk_calls):
    """Take the bulk path for any number of rows, so small files exercise it."""
    monkeypatch.setattr(ingest, "BULK_MIN_ROWS", 1)
    return bulk_calls


@pytest.mark.parametrize("kind", list(FILES))
def test_bulk_load_keeps_the_table_definition_and_its_key(kind, tmp_path, db_path, fresh_shape, bulk_always):
    path = write(tmp_path, f"{kind}.csv", FILES[kind])
    config = parse_config({})
    expected_rows = len(textwrap.dedent(FILES[kind]).strip().splitlines()) - 1

    first = ingest_file(db_path, kind, path, config=config)
    assert (first.inserted, first.updated) == (expected_rows, 0)
    table = ingest.TABLES[kind]
    assert bulk_always == [table]
    # Same columns, types, defaults, NOT NULLs and the same primary key as the migrations made.
    assert shape(db_path, table) == fresh_shape[table]
    assert shape(db_path, table)[1] >= {("PRIMARY KEY", tuple(ingest.TABLE_KEYS[table]), None)}

    # The key is enforced again: a second row with an existing key is refused.
    with duckdb.connect(str(db_path)) as c:
        key_cols = ", ".join(ingest.TABLE_KEYS[table])
        with pytest.raises(duckdb.ConstraintException):
            c.execute(f"INSERT INTO {table} SELECT * FROM {table} ORDER BY {key_cols} LIMIT 1")

    # The table now has rows, so the same file again goes through the upsert: nothing changes.
    again = ingest_file(db_path, kind, path, config=config)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, expected_rows)
    assert bulk_always == [table]
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == expected_rows


def test_bulk_load_values_match_the_upsert_path(tmp_path, monkeypatch, bulk_calls):
    """Same file, once by the bulk path and once through the index: identical rows."""
    path = write(tmp_path, "changes.csv", FILES["changes"])
    dumps = []
    for threshold in (1, 10**9):
        monkeypatch.setattr(ingest, "BULK_MIN_ROWS", threshold)
        db = tmp_path / f"t{threshold}.duckdb"
        ingest_file(db, "changes", path, config=parse_config({}))
        with duckdb.connect(str(db), read_only=True) as c:
            dumps.append(c.execute("SELECT * FROM changes ORDER BY id").fetchall())
    assert bulk_calls == ["changes"]   # the first load only
    assert dumps[0] == dumps[1]
    assert [r[0] for r in dumps[0]] == ["c1", "c2", "c3"]
    assert dumps[0][0][5] == ["hotfix", "db"]   # labels split and trimmed


def test_bulk_load_failure_leaves_the_table_as_it_was(tmp_path, db_path, fresh_shape, bulk_always, monkeypatch):
    """Duplicate keys that slipped past the checks make adding the key fail: the rollback brings
    back the table with its key, empty, and nothing is written."""
    monkeypatch.setattr(ingest, "_duplicate_check", lambda *a, **k: ([], 0))   # simulate a gap in the checks
    path = write(tmp_path, "dups.csv", """
        id,repo
        c1,shop/api
        c1,shop/web
    """)
    with pytest.raises(duckdb.Error, match="(?i)duplicate|constraint"):
        ingest_file(db_path, "changes", path, config=parse_config({}))
    assert bulk_always == ["changes"]
    assert shape(db_path, "changes") == fresh_shape["changes"]
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM changes").fetchall()[0][0] == 0


def test_bulk_path_steps_aside_for_a_table_with_an_index(tmp_path, db_path, bulk_always):
    """An index it would lose by rebuilding the table (say, added by a later migration) keeps the
    rows going through the index; the index is still there afterwards."""
    with duckdb.connect(str(db_path)) as c:
        c.execute("CREATE INDEX changes_repo ON changes (repo)")
    path = write(tmp_path, "changes.csv", FILES["changes"])
    result = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert result.inserted == 3
    assert bulk_always == []
    with duckdb.connect(str(db_path), read_only=True) as c:
        names = [r[0] for r in c.execute("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'changes'")
                 .fetchall()]
        assert names == ["changes_repo"]


def test_bulk_path_at_its_real_threshold(tmp_path, db_path, fresh_shape, bulk_calls):
    """Just over BULK_MIN_ROWS rows into a new warehouse, then again: exact counts, key intact."""
    rows = ingest.BULK_MIN_ROWS + 5
    path = tmp_path / "many.csv"
    with duckdb.connect() as c:
        c.execute(f"COPY (SELECT 'x:' || i AS id, 'org/r' || (i % 7) AS repo, i AS number, "
                  f"'2026-01-01T00:00:00Z' AS merged_at FROM range({rows}) r(i)) TO '{path}' (HEADER)")
    first = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert (first.rows_read, first.inserted) == (rows, rows)
    assert bulk_calls == ["changes"]
    assert shape(db_path, "changes") == fresh_shape["changes"]
    again = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, rows)
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*), count(DISTINCT id) FROM changes").fetchall()[0] == (rows, rows)


@pytest.mark.parametrize("value", ["infinity", "-infinity"])
@pytest.mark.parametrize("typed_read", [True, False], ids=["typed-read", "text-read"])
def test_infinite_timestamp_is_refused(tmp_path, db_path, value, typed_read):
    """Timestamps become naive UTC by their epoch microseconds; "infinity" has none and is refused
    (whether the CSV reader parsed the column itself or the file fell back to text)."""
    other = "2026-03-01T10:00:00Z" if typed_read else "not a time"
    path = write(tmp_path, "changes.csv", f"""
        id,repo,merged_at
        c1,shop/api,{value}
        c2,shop/api,{other}
    """)
    with pytest.raises(ingest.IngestError) as info:
        ingest_file(db_path, "changes", path, config=parse_config({}))
    assert f'changes.csv:2: merged_at: "{value}" is not an ISO-8601 timestamp' in str(info.value)
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM changes").fetchall()[0][0] == 0


def test_offsets_become_utc_on_both_reads(tmp_path, db_path):
    """The same instants written with an offset, with Z and naive land as the same UTC time."""
    path = write(tmp_path, "changes.csv", """
        id,repo,merged_at
        c1,shop/api,2026-03-01T12:30:00+02:00
        c2,shop/api,2026-03-01T10:30:00Z
        c3,shop/api,2026-03-01 10:30:00
        c4,shop/api,2026-03-01T05:00:00.5-05:30
    """)
    ingest_file(db_path, "changes", path, config=parse_config({}))
    with duckdb.connect(str(db_path), read_only=True) as c:
        got = c.execute("SELECT id, strftime(merged_at, '%Y-%m-%d %H:%M:%S.%f') FROM changes ORDER BY id").fetchall()
    # 12:30+02:00 = 10:30Z; 05:00:00.5-05:30 = 10:30:00.5Z
    assert got == [("c1", "2026-03-01 10:30:00.000000"), ("c2", "2026-03-01 10:30:00.000000"),
                   ("c3", "2026-03-01 10:30:00.000000"), ("c4", "2026-03-01 10:30:00.500000")]


DUPLICATE_IDS = """
    id,repo
    c1,shop/api
    c2,shop/api
    c1,shop/web
"""


def test_duplicate_ids_found_by_the_key_are_reported_with_lines(tmp_path, db_path, fresh_shape, bulk_always):
    """On the bulk path the ids are checked by adding the key; a repeat still gets the usual
    message with its lines, and nothing is written."""
    path = write(tmp_path, "changes.csv", DUPLICATE_IDS)
    with pytest.raises(ingest.IngestError) as info:
        ingest_file(db_path, "changes", path, config=parse_config({}))
    assert bulk_always == ["changes"]          # the rows went in, and the key refused them
    assert 'changes.csv:4: id: "c1" appears again (first on line 2); each id once per input' in str(info.value)
    assert shape(db_path, "changes") == fresh_shape["changes"]
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM changes").fetchall()[0][0] == 0


def test_duplicate_ids_checked_before_the_upsert_when_rows_arrived_meanwhile(tmp_path, db_path, bulk_always,
                                                                           monkeypatch):
    """The table looked empty when the checks ran but has rows at write time (another writer):
    the deferred id check runs before the upsert, which needs unique ids."""
    with duckdb.connect(str(db_path)) as c:   # c1 is there already: both rows would update it
        c.execute("INSERT INTO changes (id, repo) VALUES ('c1', 'shop/old')")
    monkeypatch.setattr(ingest, "_looks_empty", lambda *a: True)
    path = write(tmp_path, "changes.csv", DUPLICATE_IDS)
    with pytest.raises(ingest.IngestError, match='"c1" appears again'):
        ingest_file(db_path, "changes", path, config=parse_config({}))
    assert bulk_always == []
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT id, repo FROM changes").fetchall() == [("c1", "shop/old")]
