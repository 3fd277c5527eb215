"""The supervisor alone (a real child process that keeps failing): restarts with doubling back-off,
each failure logged; SIGTERM stops it and a running part cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

DEADLINE = 120


def test_a_failing_part_is_restarted_with_backoff_and_sigterm_stops_all(tmp_path):
    marker = tmp_path / "starts"
    code = textwrap.dedent(f"""
        import logging, sys
        from cadence.service.supervisor import Part, Supervisor
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
        failing = Part("failing", [sys.executable, "-c",
                                   "open({str(marker)!r}, 'a').write('x'); raise SystemExit(3)"], dict())
        steady = Part("steady", [sys.executable, "-c", "import time; time.sleep(600)"], dict())
        sys.exit(Supervisor([failing, steady], stop_timeout=1).run())
    """)
    log = tmp_path / "log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", code], stderr=fh, env=dict(os.environ))
    try:
        deadline = time.monotonic() + DEADLINE
        while "restarting in 4 s" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        text = log.read_text()
        # started, failed, 1 s; failed again, 2 s; again, 4 s: the back-off doubles
        assert "failing started (pid" in text and "exited with status 3" in text
        assert text.index("restarting in 1 s") < text.index("restarting in 2 s") < text.index("restarting in 4 s")
        assert len(marker.read_text()) >= 3
        assert text.count("steady started") == 1 and "steady (pid" not in text   # the healthy part was left alone
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
        assert "SIGTERM received, stopping every part" in log.read_text() and "serve: stopped" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
