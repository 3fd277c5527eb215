"""Free ports on 127.0.0.1 and waiting for a server to answer (on a condition, never a fixed sleep)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(base: str, proc: subprocess.Popen, log: IO[str], timeout: float = 90) -> None:
    """Until Streamlit's /_stcore/health answers "ok"; fails with the log when the process ends first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                if r.read() == b"ok":
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.flush()
            log.seek(0)
            raise AssertionError(f"the server did not start (exit {proc.poll()}):\n{log.read()[-3000:]}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen, timeout: float = 30) -> int:
    """SIGTERM, then SIGKILL if it has not ended within ``timeout``; its exit status."""
    proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


@contextmanager
def dashboard_server(command: list[str], *, port: int, env: dict[str, str], log_path: Path, cwd: Path,
                     timeout: float = 180) -> Iterator[tuple[str, IO[str]]]:
    """Start a dashboard (``command``, listening on ``port``) with its output in ``log_path``, wait
    until it reports healthy (``timeout``: a busy machine's deadline, not an expected time), yield
    its base URL and the open log, stop it after the block."""
    with log_path.open("w+") as log:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base, proc, log, timeout=timeout)
            yield base, log
        finally:
            stop(proc, timeout=60)


class JsonServer:
    """A server on 127.0.0.1 answering every GET with ``status`` and ``document`` as JSON, for a
    ``with`` block; ``url`` is its address, and ``document`` may be set once that is known."""

    def __init__(self, status: int = 200, document: Any = None):
        self.status, self.document = status, document
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = json.dumps(outer.document).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> JsonServer:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
