"""The dashboard and a sync are separate processes: a writer making short transactions and a
reader opening read-only connections in a loop must both keep working, with exact final counts.

Both sides wait on conditions (the reader's first read, the writer's end) and take the file lock
with a long deadline: on a busy machine a reader reading back to back can hold off a writer for
more than the usual 15 s, and that is a matter of time, not of correctness."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

WRITER = """
import json, sys, time
from pathlib import Path
from warehouse import upsert_rows, write_connection
db, n, ready = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
errors = []
while not ready.exists():  # start once the reader is reading (the test's timeout bounds this)
    time.sleep(0.01)
for i in range(n):
    try:
        with write_connection(db, lock_wait_seconds=LOCK_WAIT) as con:
            upsert_rows(con, "changes", [{"id": f"c{i}", "repo": "shop/api", "number": i}])
            upsert_rows(con, "warehouse_meta", [{"key": "progress", "value": str(i + 1)}])
    except Exception as exc:  # reported, so the test shows what failed
        errors.append(f"{type(exc).__name__}: {exc}")
    time.sleep(0.02)  # a sync fetches between its writes
print(json.dumps({"errors": errors}), flush=True)
"""

READER = """
import json, sys, time
from pathlib import Path
from warehouse import read_connection
db, stop, ready = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
reads, errors, seen, torn = 0, [], [], 0
while True:  # until the writer is done (the test's timeout bounds this)
    done = stop.exists()
    try:
        with read_connection(db, lock_wait_seconds=LOCK_WAIT) as con:
            n = con.execute("SELECT count(*) FROM changes").fetchall()[0][0]
            progress = con.execute("SELECT value FROM warehouse_meta WHERE key = 'progress'").fetchall()
        reads += 1
        seen.append(n)
        ready.touch()
        # Each write transaction adds a change and moves progress together: never one without the other.
        if progress and int(progress[0][0]) != n:
            torn += 1
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    if done:
        break
print(json.dumps({"reads": reads, "errors": errors, "seen": seen, "torn": torn}), flush=True)
"""


LOCK_WAIT = 240   # seconds: a deadline for a starved process, not an expected wait


def _spawn(code: str, *args: str) -> subprocess.Popen:
    code = f"LOCK_WAIT = {LOCK_WAIT}\n" + textwrap.dedent(code)
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_writer_and_reader_processes_both_proceed(db_path, tmp_path):
    stop, ready = tmp_path / "writer-done", tmp_path / "reader-ready"
    reader = _spawn(READER, str(db_path), str(stop), str(ready))
    writer = _spawn(WRITER, str(db_path), "50", str(ready))
    try:
        w_out, w_err = writer.communicate(timeout=280)
    finally:
        stop.touch()
        if writer.poll() is None:
            writer.kill()
    r_out, r_err = reader.communicate(timeout=120)
    assert writer.returncode == 0, w_err
    assert reader.returncode == 0, r_err
    w, r = json.loads(w_out), json.loads(r_out)
    assert w["errors"] == []
    assert r["errors"] == []
    assert r["torn"] == 0
    assert any(0 < n < 50 for n in r["seen"]), "the reader should have read between the writes"
    assert r["seen"] == sorted(r["seen"]), "a reader never sees the count go backwards"
    assert r["seen"][-1] == 50          # its last read comes after the writer finished
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*), count(DISTINCT id), sum(number) FROM changes").fetchall() == \
            [(50, 50, sum(range(50)))]  # 0 + 1 + ... + 49 = 1225
