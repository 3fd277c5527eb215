"""The one-pass load of collectors/files/ (one_pass.py): a large CSV into an empty table goes from DuckDB's
reader straight into the table, with the row checks in the same statement. It must give exactly
the rows of the staged path, report warnings at the right lines, and on anything wrong write
nothing and leave the reporting to the staged path (the same messages, no new database file)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

import collectors.files.ingest as ingest
from cadence.core.config import parse_config
from cadence.core.errors import IngestError
from collectors.files import TABLES, ingest_file
from warehouse import read_connection

FILES = {
    "deployments": """
        id,repo,environment,status,finished_at,started_at
        ci:1,shop/api,production,success,2026-03-02T10:00:00+02:00,2026-03-02T07:50:00Z
        ci:2,shop/web,staging,failed,2026-03-02 11:00,
        ci:3,shop/web,production,Succeeded,2026-03-02 12:00,2026-03-02 12:30
    """,
    "changes": """
        id,repo,number,labels,first_commit_at,merged_at,extra
        c1,shop/api,1,"hotfix, db",2026-03-01T09:00:00Z,2026-03-01T12:00:00Z,x
        c2,shop/api,2,,2026-03-01T10:00:00Z,,y
        c3,shop/web,3,bug,2026-03-01T11:00:00+01:00,2026-03-02T08:00:00Z,z
    """,
    "incidents": """
        id,created_at,repo,resolved_at,severity
        pd:1,2026-03-02T12:00:00Z,shop/api,2026-03-02T13:30:00Z,sev1
        pd:2,2026-03-03T12:00:00Z,shop/web,,
    """,
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def dump(db: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as c:
        return c.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()


@pytest.fixture
def one_pass(monkeypatch) -> list[str]:
    """Take the one pass for files of any size; lists the files it loaded (``loaded.tried``: every
    file it was offered)."""

    class Loaded(list):
        tried: list[str]

    loaded = Loaded()
    loaded.tried = []
    real = ingest.one_pass_load

    def spy(*args, **kwargs):
        loaded.tried.append(args[2])
        result = real(*args, **kwargs)
        if result is not None:
            loaded.append(result.source_name)
        return result

    monkeypatch.setattr(ingest, "ONE_PASS_MIN_BYTES", 0)
    monkeypatch.setattr(ingest, "one_pass_load", spy)
    return loaded


@pytest.mark.parametrize("kind", list(FILES))
def test_one_pass_gives_the_rows_and_warnings_of_the_staged_path(kind, tmp_path, monkeypatch, one_pass):
    path = write(tmp_path, f"{kind}.csv", FILES[kind])
    config = parse_config({})
    results, dumps = [], []
    for threshold in (0, 10**12):   # one pass, then the staged path, into new warehouses
        monkeypatch.setattr(ingest, "ONE_PASS_MIN_BYTES", threshold)
        db = tmp_path / f"t{threshold}.duckdb"
        results.append(ingest_file(db, kind, path, config=config))
        dumps.append(dump(db, TABLES[kind]))
    assert one_pass == [str(path)]            # the first load only
    assert dumps[0] == dumps[1]
    fast, staged = results
    assert (fast.rows_read, fast.inserted, fast.updated) == (staged.rows_read, staged.inserted, 0)
    assert fast.warnings == staged.warnings
    assert fast.ignored_columns == staged.ignored_columns
    if kind == "deployments":   # ci:3 finished before it started, on line 4; "Succeeded" is success
        assert fast.warnings == [f"{path}: 1 row(s) finished before it started (line 4)"]
        assert [r[5] for r in dumps[0]] == ["success", "failure", "success"]
    if kind == "changes":
        assert fast.ignored_columns == ["extra"]
        assert dumps[0][0][5] == ["hotfix", "db"]   # labels split and trimmed
        assert dumps[0][2][6] == datetime(2026, 3, 1, 10, 0)   # 11:00+01:00 is stored as 10:00 UTC


def test_one_pass_steps_aside_when_the_table_has_rows(tmp_path, db_path, one_pass):
    """Rows present: the upsert of the staged path (update changed, insert new)."""
    with duckdb.connect(str(db_path)) as c:
        c.execute("INSERT INTO changes (id, repo) VALUES ('c1', 'shop/old')")
    path = write(tmp_path, "changes.csv", FILES["changes"])
    result = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert one_pass == []
    assert (result.inserted, result.updated) == (2, 1)
    assert [(r[0], r[1]) for r in dump(db_path, "changes")] == [("c1", "shop/api"), ("c2", "shop/api"),
                                                                 ("c3", "shop/web")]


def test_one_pass_leaves_change_links_to_the_staged_path(tmp_path, db_path, one_pass):
    path = write(tmp_path, "deployments.csv", """
        id,repo,environment,status,finished_at,change_ids
        ci:1,shop/api,production,success,2026-03-02T10:00:00Z,"c1,c2"
    """)
    result = ingest_file(db_path, "deployments", path, config=parse_config({}))
    assert one_pass == []
    assert (result.inserted, result.links_written) == (1, 2)


BAD = {
    "timestamp": ("id,repo,merged_at\nc1,shop/api,2026-03-01T10:00:00Z\nc2,shop/api,yesterday\n",
                  'changes.csv:3: merged_at: "yesterday" is not an ISO-8601 timestamp'),
    "infinity": ("id,repo,merged_at\nc1,shop/api,2026-03-01T10:00:00Z\nc2,shop/api,infinity\n",
                 'changes.csv:3: merged_at: "infinity" is not an ISO-8601 timestamp'),
    "empty id": ("id,repo\nc1,shop/api\n ,shop/api\n", "changes.csv:3: id: is empty; a value is required"),
    "empty repo": ("id,repo\nc1,shop/api\nc2,\n", "changes.csv:3: repo: is empty; a value is required"),
    "duplicate id": ("id,repo\nc1,shop/api\nc2,shop/api\nc1,shop/web\n",
                     'changes.csv:4: id: "c1" appears again (first on line 2); each id once per input'),
    "short row": ("id,repo,title\nc1,shop/api,a\nc2,shop/api\n", "changes.csv:3:"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_reported_by_the_staged_path_and_nothing_is_written(case, tmp_path, one_pass):
    text, message = BAD[case]
    path = tmp_path / "changes.csv"
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "new.duckdb"
    with pytest.raises(IngestError) as info:
        ingest_file(db, "changes", path, config=parse_config({}), name="changes.csv")
    assert message in str(info.value)
    assert "nothing was written" in str(info.value)
    assert one_pass == [] and one_pass.tried == [str(path)]   # tried, declined, then reported
    assert not db.exists() and not Path(f"{db}.wal").exists()   # the attempt left no database behind


def test_bad_input_leaves_an_existing_empty_warehouse_as_it_was(tmp_path, db_path, one_pass):
    path = write(tmp_path, "incidents.csv", """
        id,created_at,service,resolved_at
        pd:1,2026-03-02T12:00:00Z,api,2026-03-02T11:00:00Z
    """)
    with pytest.raises(IngestError, match="resolved at .* before it was created"):
        ingest_file(db_path, "incidents", path, config=parse_config({}))
    assert db_path.exists()
    assert dump(db_path, "incidents") == []


def test_warning_lines_are_exact_in_a_file_the_reader_splits(tmp_path, one_pass):
    """A file of many reader buffers, read by both threads: the lines named in the warning are
    the file's lines (the rows keep file order in the table)."""
    rows = 400_000   # ~25 MB: DuckDB's CSV reader splits it into many buffers
    wrong = [17, 123_457, 250_001, 399_998]   # data rows merged before their first commit
    path = tmp_path / "big.csv"
    with duckdb.connect() as c:
        c.execute(f"""COPY (SELECT 'x:' || i AS id, 'org/r' || (i % 7) AS repo, i AS number,
                             'Change number ' || i || ' of a long history' AS title,
                             '2026-01-01T00:00:00Z' AS first_commit_at,
                             CASE WHEN list_contains($wrong, i) THEN '2025-12-31T23:00:00Z'
                                  ELSE '2026-01-02T00:00:00Z' END AS merged_at
                      FROM range({rows}) r(i)) TO '{path}' (HEADER)""", {"wrong": wrong})
    db = tmp_path / "w.duckdb"
    result = ingest_file(db, "changes", path, config=parse_config({}))
    assert one_pass == [str(path)]
    assert (result.rows_read, result.inserted) == (rows, rows)
    lines = ", ".join(str(i + 2) for i in wrong)   # data row i is line i + 2 (header, then 1-based)
    assert result.warnings == [f"{path}: 4 row(s) merged before its first commit (rebase or clock skew); kept, "
                               f"with the coding stage counted as unknown (lines {lines})"]
    with duckdb.connect(str(db), read_only=True) as c:
        assert c.execute("SELECT count(*), count(DISTINCT id) FROM changes").fetchall()[0] == (rows, rows)
    again = ingest_file(db, "changes", path, config=parse_config({}))   # the table has rows now
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, rows)
    assert one_pass == [str(path)]


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
    with pytest.raises(IngestError) as info:
        ingest_file(db_path, "changes", path, config=parse_config({}))
    assert f'changes.csv:2: merged_at: "{value}" is not an ISO-8601 timestamp' in str(info.value)
    assert dump(db_path, "changes") == []


@pytest.mark.parametrize("threshold", [0, 10**12], ids=["one-pass", "staged"])
def test_offsets_become_utc_on_both_paths(tmp_path, db_path, monkeypatch, threshold):
    """The same instants written with an offset, with Z and naive land as the same UTC time."""
    monkeypatch.setattr(ingest, "ONE_PASS_MIN_BYTES", threshold)
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


KILL_BEFORE_COMMIT = """
import contextlib, sys
import collectors.files.ingest as ingest
import collectors.files.one_pass as one_pass

real = one_pass.write_connection

@contextlib.contextmanager
def held(path, **kw):  # every row inserted, the transaction not yet committed: report, then wait
    with real(path, **kw) as con:
        yield con
        print("uncommitted", con.execute("SELECT count(*) FROM changes").fetchall()[0][0], flush=True)
        sys.stdin.readline()   # until killed (the test never writes here)

one_pass.write_connection = held
ingest.ONE_PASS_MIN_BYTES = 0
from cadence.cli import main
sys.exit(main())
"""


def test_a_load_killed_before_its_commit_leaves_nothing_and_runs_again(tmp_path):
    """SIGKILL `cadence ingest` with every row of a one-pass load inserted (DuckDB writes large
    inserts to the file before the commit) but not committed: the table is empty afterwards, and
    the same command then loads every row once."""
    rows = 200_000
    path = tmp_path / "changes.csv"
    with duckdb.connect() as c:
        c.execute(f"COPY (SELECT 'x:' || i AS id, 'org/r' || (i % 7) AS repo, i AS number, "
                  f"'2026-01-01T00:00:00Z' AS merged_at FROM range({rows}) r(i)) TO '{path}' (HEADER)")
    db = tmp_path / "w.duckdb"
    args = ["--db", str(db), "ingest", "changes", str(path)]
    proc = subprocess.Popen([sys.executable, "-c", KILL_BEFORE_COMMIT, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().split() == ["uncommitted", str(rows)]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    with read_connection(db) as c:
        assert c.execute("SELECT count(*) FROM changes").fetchall()[0][0] == 0

    result = ingest_file(db, "changes", path, config=parse_config({}))   # one pass again: the table is empty
    assert (result.rows_read, result.inserted) == (rows, rows)
    with read_connection(db) as c:
        assert c.execute("SELECT count(*), count(DISTINCT id), max(number) FROM changes").fetchall()[0] == \
            (rows, rows, rows - 1)
