"""``cadence serve``'s supervisor: starts the parts as child processes, restarts a part that dies
(with backoff, the failure logged), and on SIGTERM/SIGINT/SIGHUP stops them all.

Parts: ``dashboard`` (``streamlit run``, as ``cadence dashboard`` starts it, sign-in included) and
``worker`` (the webhook port and the scheduler, ``cadence.service.worker``). A part that exits is
started again after 1 s, then 2, 4 ... up to ``MAX_BACKOFF`` seconds while it keeps failing; a part
that ran for ``STABLE_SECONDS`` starts over at 1 s. Stopping sends SIGTERM to every part and waits
(the worker lets a running sync end at a transaction boundary); a part still running after the
stop timeout is killed, which loses nothing committed: every warehouse write is a transaction.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
STABLE_SECONDS = 60.0
POLL_SECONDS = 0.2


@dataclass
class Part:
    name: str
    args: list[str]
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    next_start: float = 0.0
    backoff: float = FIRST_BACKOFF
    restarts: int = 0
    history: list[int] = field(default_factory=list)   # exit statuses, for the log


class Supervisor:
    def __init__(self, parts: list[Part], stop_timeout: float = 10.0) -> None:
        self.parts = parts
        self.stop_timeout = stop_timeout
        self.stopping = threading.Event()

    def _start(self, part: Part) -> None:
        part.proc = subprocess.Popen(part.args, env=part.env)
        part.started_at = time.monotonic()
        log.info("serve: %s started (pid %d)%s", part.name, part.proc.pid,
                 f", restart {part.restarts}" if part.restarts else "")

    def _check(self, part: Part, now: float) -> None:
        if part.proc is not None:
            code = part.proc.poll()
            if code is None:
                return
            ran = now - part.started_at
            if ran >= STABLE_SECONDS:
                part.backoff = FIRST_BACKOFF
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
            log.error("serve: %s (pid %d) %s after %.0f s; restarting in %.0f s", part.name, part.proc.pid, how,
                      ran, part.backoff)
            part.history.append(code)
            part.proc = None
            part.next_start = now + part.backoff
            part.backoff = min(part.backoff * 2, MAX_BACKOFF)
            part.restarts += 1
        if now >= part.next_start and not self.stopping.is_set():
            try:
                self._start(part)
            except OSError as exc:
                log.error("serve: cannot start %s: %s; retrying in %.0f s", part.name, exc, part.backoff)
                part.next_start = now + part.backoff
                part.backoff = min(part.backoff * 2, MAX_BACKOFF)

    def _on_signal(self, signum, _frame) -> None:
        if not self.stopping.is_set():
            log.info("serve: %s received, stopping every part", signal.Signals(signum).name)
        self.stopping.set()

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            for part in self.parts:
                self._start(part)
            while not self.stopping.is_set():
                now = time.monotonic()
                for part in self.parts:
                    self._check(part, now)
                self.stopping.wait(POLL_SECONDS)
            return self.stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def stop(self) -> int:
        running = [p for p in self.parts if p.proc is not None and p.proc.poll() is None]
        for part in running:
            part.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout + 5
        for part in running:
            try:
                part.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                log.error("serve: %s did not stop within %.0f s; killing it", part.name, self.stop_timeout + 5)
                part.proc.kill()
                part.proc.wait()
        log.info("serve: stopped")
        return 0


def child_env(env: dict[str, str], drop: tuple[str, ...]) -> dict[str, str]:
    """``env`` without the named variables (the sign-in secrets stay out of the worker)."""
    return {k: v for k, v in env.items() if k not in drop}
