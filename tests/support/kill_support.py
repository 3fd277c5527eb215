"""Killing a sync mid-run, for the "a killed sync resumes without loss or duplicates" tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

RUN_CLI = "import sys; from cadence.cli import main; sys.exit(main())"


def kill_while_held(code: str, args: list[str], held: Callable[[], int], release: threading.Event,
                    env: dict | None = None, timeout: float = 180) -> None:
    """Run ``python -c code args…`` (the CLI, maybe with a date pinned first), wait until the fake
    server holds one of its requests (``held()`` turns 1), SIGKILL it, then set ``release`` so the
    server's thread can finish. Fails if the process never got there or died some other way.
    ``timeout`` is a deadline for a starved machine (start-up, imports), not an expected time."""
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env if env is not None else dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while held() == 0 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert held() == 1, "the sync never reached the held request"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
