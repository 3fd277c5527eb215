"""`cadence dashboard` stopped by a signal stops its Streamlit child too (issue 13, item 8): the
signal is forwarded, the child is waited for, and nothing is left serving the port.

Linux only (children are found in /proc); waits poll a condition up to a deadline, never sleep a
fixed time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.apptest_support import REPO_ROOT
from tests.support.net import free_port

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")]

START_DEADLINE = 120   # seconds for Streamlit to answer on a busy 2-core machine
STOP_DEADLINE = 60


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")"
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def _wait_for(condition, deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"{what} within {deadline} s"
        time.sleep(0.1)   # poll interval, not a wait for something to happen


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_cadence_dashboard_stops_streamlit(db_path, tmp_path, signum):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("CADENCE_CONFIG",)}
    log = (tmp_path / "dashboard.log").open("w")
    # Its own session: whatever is left behind can be killed with the group, even an orphan.
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from cadence.cli import main; sys.exit(main())",
                             "--db", str(db_path), "dashboard", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: _answers(port) or proc.poll() is not None, START_DEADLINE, "the dashboard answered")
        assert proc.poll() is None, (tmp_path / "dashboard.log").read_text()
        children = _children(proc.pid)
        assert len(children) == 1, children           # the Streamlit server
        child = children[0]

        proc.send_signal(signum)
        proc.wait(timeout=STOP_DEADLINE)
        assert not _alive(child), "the Streamlit child outlived `cadence dashboard`"
        _wait_for(lambda: not _answers(port), STOP_DEADLINE, "the port stopped answering")
        assert proc.returncode is not None
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)   # the group: cadence and any child it left behind
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        log.close()
