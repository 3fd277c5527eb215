"""Real protocol endpoints on 127.0.0.1 for the notification tests, each on a port the OS picks.

- ``HttpReceiver``: an HTTP server standing in for Slack and Teams incoming webhooks and any
  webhook. It records every POST (path, headers, body) and answers 200 ``ok`` (what Slack's
  webhook answers), or the statuses queued for that path with ``fail(path, 500, 500)``, or 5xx for
  ever with ``break_path``.
- ``SmtpSink``: a real SMTP server (aiosmtpd) that keeps every message it receives; it can refuse
  recipients (550) a given number of times, and can require AUTH with a user and password.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class HttpReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._queued: dict[str, deque[int]] = defaultdict(deque)
        self._broken: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k: v for k, v in self.headers.items()}, body))
                    queue = receiver._queued[self.path]
                    status = queue.popleft() if queue else (503 if self.path in receiver._broken else 200)
                answer = b"ok" if status == 200 else b"service_unavailable" if status >= 500 else b"invalid_payload"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:   # keep the test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HttpReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, path: str, *statuses: int) -> None:
        """Answer the next requests to ``path`` with these statuses, then 200 again."""
        with self._lock:
            self._queued[path].extend(statuses)

    def break_path(self, path: str, broken: bool = True) -> None:
        with self._lock:
            (self._broken.add if broken else self._broken.discard)(path)

    def to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd's name)
        with self.sink.lock:
            if self.sink.refusals.get(address, 0) > 0:
                self.sink.refusals[address] -= 1
                return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.sink.lock:
            self.sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content,
                                       getattr(session, "authenticated", False)))
        return "250 Message accepted for delivery"


class _EphemeralController(Controller):
    """aiosmtpd's threaded controller on the port the OS gave (it is asked for port 0)."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes, bool]] = []
        self.refusals: dict[str, int] = {}
        self.lock = threading.Lock()
        self.credentials: tuple[str, str] | None = None
        sink = self

        def authenticate(server, session, envelope, mechanism, auth_data):
            ok = sink.credentials is not None and (auth_data.login.decode(), auth_data.password.decode()) == sink.credentials
            return AuthResult(success=ok)

        self.controller = _EphemeralController(_Handler(self), hostname="127.0.0.1", port=0,
                                               authenticator=authenticate, auth_require_tls=False,
                                               auth_required=False)

    @property
    def port(self) -> int:
        return self.controller.port

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse(self, address: str, times: int) -> None:
        with self.lock:
            self.refusals[address] = times

    def to(self, address: str, timeout: float = 10.0) -> list:
        """The parsed messages sent to ``address`` (waits up to ``timeout`` for the first)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [message_from_bytes(m[2], policy=policy.default) for m in self.messages if address in m[1]]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)
