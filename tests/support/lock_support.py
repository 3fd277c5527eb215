"""Another process holding the warehouse's file lock for as long as a test needs, and the moment
this process first finds it locked: so lock tests wait on conditions, not on a holder's sleep."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from warehouse import write_connection
with write_connection(sys.argv[1]) as con:
    con.execute("INSERT INTO warehouse_meta VALUES ('held', 'yes')")
    print("locked", flush=True)
    sys.stdin.readline()   # hold the lock until the test says so, or goes away
"""


class Holder:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()


@contextmanager
def lock_held(db_path: Path | str) -> Iterator[Holder]:
    """A process holding ``db_path`` read-write (one open write transaction) until ``release()``;
    waits for it to exit afterwards and checks it ended well."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], cwd=REPO_ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked", "the holder never took the lock"
        yield Holder(proc)
    finally:
        if proc.poll() is None:
            proc.stdin.close()
        proc.wait(timeout=120)
    assert proc.returncode == 0


def lock_contention_seen(monkeypatch) -> threading.Event:
    """An Event set the first time this process finds the warehouse locked by another process
    (``warehouse.db`` is about to wait and retry)."""
    import warehouse.db as db

    seen = threading.Event()
    real = db._is_lock_error

    def spy(exc: Exception) -> bool:
        found = real(exc)
        if found:
            seen.set()
        return found

    monkeypatch.setattr(db, "_is_lock_error", spy)
    return seen
