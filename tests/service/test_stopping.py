"""A stopping worker starts no new write transaction (so a sync ends at a transaction boundary),
while its own shutdown write still goes through; and a run left open is closed at the next start.
In a child process: the stop is process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from warehouse import runs
from warehouse import read_connection


def test_no_write_starts_after_stop_new_writes(db_path):
    code = textwrap.dedent(f"""
        from warehouse import write_connection
        from warehouse.db import StoppingError, stop_new_writes
        with write_connection({str(db_path)!r}) as con:
            con.execute("INSERT INTO warehouse_meta VALUES ('before', '1')")
        stop_new_writes()
        try:
            with write_connection({str(db_path)!r}) as con:
                con.execute("INSERT INTO warehouse_meta VALUES ('after', '1')")
        except StoppingError as exc:
            print("refused:", exc)
        with write_connection({str(db_path)!r}, _when_stopping=True) as con:
            con.execute("INSERT INTO warehouse_meta VALUES ('shutdown', '1')")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused:" in out.stdout and "this process is stopping" in out.stdout
    with read_connection(db_path) as con:
        keys = {r[0] for r in con.execute("SELECT key FROM warehouse_meta").fetchall()}
    assert {"before", "shutdown"} <= keys and "after" not in keys


def test_a_run_left_open_is_closed_as_interrupted_at_start(db_path):
    run = runs.start_run(db_path, "sync:github")
    done = runs.start_run(db_path, "sync:gitlab")
    runs.finish_run(db_path, done, "success", rows=3)
    assert runs.close_interrupted(db_path) == 1
    with read_connection(db_path) as con:
        rows = dict(con.execute("SELECT run_id, outcome FROM job_runs").fetchall())
        message = con.execute("SELECT message FROM job_runs WHERE run_id = ?", [run]).fetchall()[0][0]
    assert rows == {run: "interrupted", done: "success"}
    assert "rolled back" in message
    assert runs.close_interrupted(db_path) == 0     # nothing left open
    with read_connection(db_path) as con:
        last = runs.last_runs(con)
    # the interrupted run is still owed (the start-up check runs it again); the finished one is not
    assert last["sync:github"]["last_start"] is None and last["sync:github"]["last_outcome"] == "interrupted"
    assert last["sync:gitlab"]["last_start"] is not None and last["sync:gitlab"]["last_success"] is not None
