"""What the fake forges share (tests/support/fake_github, tests/support/fake_gitlab): a threaded HTTP
server on 127.0.0.1 with a queue of scripted faults per path and a log of every request, and the
request handler's plumbing (quiet log, query parsing, fault taking, ETags). Each fake adds its own
model, routes and headers."""

from __future__ import annotations

import hashlib
import threading
import urllib.parse
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeService:
    """A fake service's state and server; subclasses set ``handler`` and ``thread_name``. Use as a
    context manager or start()/stop()."""

    handler: type[FakeHandler]
    thread_name = "fake-service"

    def __init__(self) -> None:
        self.faults: dict[str, deque] = defaultdict(deque)
        self.requests: list[dict] = []
        self.invalid_queries: list[tuple[str, list[str]]] = []
        self.hanging = 0                             # requests held by a ``hang`` fault so far
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add_fault(self, path: str, *faults: Any) -> None:
        """Queue faults for requests to ``path`` (e.g. '/api/graphql'), served in order."""
        with self.lock:
            self.faults[path].extend(faults)

    def not_modified(self) -> int:
        return sum(1 for r in self.requests if r["status"] == 304)

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class FakeHandler(BaseHTTPRequestHandler):
    """Request plumbing; subclasses implement ``_dispatch(method, body)``."""

    fake: FakeService
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def _fault_key(self) -> str | None:
        """The fault queue this request draws from: its exact path (a subclass may match otherwise)."""
        return self._path if self.fake.faults.get(self._path) else None

    def _fault(self):
        """The next scripted fault for this request, or None; a ``hang`` fault is held here first."""
        with self.fake.lock:
            key = self._fault_key()
            fault = self.fake.faults[key].popleft() if key else None
            if fault is not None and fault.hang is not None:
                self.fake.hanging += 1
        if fault is None or fault.passthrough:
            return None
        if fault.hang is not None:
            fault.hang.wait(60)
        return fault

    def _etag(self, raw: bytes, headers: dict) -> bool:
        """Add a weak ETag of ``raw`` to ``headers``; True when the request already holds it (a 304)."""
        tag = 'W/"' + hashlib.sha1(raw).hexdigest() + '"'
        headers["ETag"] = tag
        return self.headers.get("If-None-Match") == tag

    def _parse(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        self._path = parsed.path
        self._query = parsed.query
        self._multi = urllib.parse.parse_qs(parsed.query)
        self._params = {k: v[-1] for k, v in self._multi.items()}
        self._variables = None

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self._parse()
        self._dispatch("GET", b"")

    def do_POST(self):
        self._parse()
        self._dispatch("POST", self._read_body())

    def _dispatch(self, method: str, body: bytes) -> None:
        raise NotImplementedError
