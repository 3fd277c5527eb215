"""A fake PagerDuty REST API v2 on 127.0.0.1 (stdlib ThreadingHTTPServer, port 0).

Serves ``GET /incidents`` and ``GET /incidents/{id}`` with the real API's rules that the collector
must respect: token auth, ``since``/``until`` ranges of at most ``max_window`` (400 beyond), classic
offset pagination with ``offset + limit <= offset_cap`` (400 beyond), ``more``, ``total`` when asked,
``statuses[]`` and ``service_ids[]`` filters, ``sort_by=created_at:asc``. Tests can queue 429s,
and hold one request unanswered (``hold``) so a client can be killed while it waits.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class FakePagerDuty:
    token: str = "pd-test-token"
    offset_cap: int = 10_000
    max_window: timedelta = timedelta(days=180)
    report_total: bool = True                # real PD fills `total` only when asked
    incidents: dict[str, dict] = field(default_factory=dict)
    rate_limits: list[str] = field(default_factory=list)  # Retry-After values of queued 429s
    requests: list[tuple[str, dict]] = field(default_factory=list)
    holds: dict[str, list] = field(default_factory=dict)   # path -> [requests to let through, release]
    held: int = 0                            # requests held by ``hold`` so far
    echo_headers: bool = False               # answer 400 quoting the request's headers (token too)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- test helpers ---------------------------------------------------------------------------
    def add(self, pd_id: str, created_at: str, *, status: str = "triggered", service: str = "PSVC1",
            service_name: str = "Checkout API", urgency: str = "high", priority: str | None = None,
            resolved_at: str | None = None, last_status_change_at: str | None = None) -> dict:
        inc = {
            "id": pd_id, "type": "incident", "incident_number": len(self.incidents) + 1,
            "title": f"Incident {pd_id}", "summary": f"[#{pd_id}] Incident {pd_id}",
            "status": status, "urgency": urgency, "created_at": created_at,
            "resolved_at": resolved_at,
            "last_status_change_at": last_status_change_at or resolved_at or created_at,
            "service": {"id": service, "type": "service_reference", "summary": service_name},
            "priority": {"id": "PRIO", "type": "priority", "summary": priority} if priority else None,
            "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
        }
        with self.lock:
            self.incidents[pd_id] = inc
        return inc

    def resolve(self, pd_id: str, at: str, *, with_resolved_at: bool = True) -> None:
        with self.lock:
            inc = self.incidents[pd_id]
            inc["status"] = "resolved"
            inc["resolved_at"] = at if with_resolved_at else None
            inc["last_status_change_at"] = at

    def hold(self, path: str, release: threading.Event, *, after: int = 0) -> None:
        """Answer ``after`` more requests to ``path``, then hold the next one until ``release`` is set
        (at most 60 s); it is answered normally afterwards, if its client is still there."""
        with self.lock:
            self.holds[path] = [after, release]

    def list_requests(self) -> list[dict]:
        return [q for path, q in self.requests if path == "/incidents"]

    # -- serving --------------------------------------------------------------------------------
    def handle(self, path: str, query: dict[str, list[str]], auth: str | None,
               headers: dict[str, str] | None = None):
        """(status, headers, body) for one request (``headers``: all of them, for ``echo_headers``)."""
        release = None
        with self.lock:
            self.requests.append((path, query))
            hold = self.holds.get(path)
            if hold is not None:
                if hold[0] == 0:
                    release = hold[1]
                    del self.holds[path]
                    self.held += 1
                else:
                    hold[0] -= 1
        if release is not None:
            release.wait(60)
        with self.lock:
            if self.rate_limits:
                return 429, {"Retry-After": self.rate_limits.pop(0)}, {
                    "error": {"message": "Rate Limit Exceeded", "code": 2020}}
        if self.echo_headers:   # as a proxy or debug build might: the Authorization header comes back
            sent = "\r\n".join(f"{k}: {v}" for k, v in (headers or {}).items())
            return 400, {}, {"error": {"message": "Invalid Input Provided", "code": 2001,
                                       "errors": [f"could not parse request:\r\n{sent}"]}}
        if auth != f"Token token={self.token}":
            return 401, {}, {"error": {"message": "Unauthorized", "code": 2006}}
        if path.startswith("/incidents/"):
            inc = self.incidents.get(path.rsplit("/", 1)[1])
            if inc is None:
                return 404, {}, {"error": {"message": "Not Found", "code": 2100}}
            return 200, {}, {"incident": inc}
        if path != "/incidents":
            return 404, {}, {"error": {"message": "Not Found"}}
        first = {k: v[0] for k, v in query.items()}
        limit = int(first.get("limit", 25))
        offset = int(first.get("offset", 0))
        if offset + limit > self.offset_cap:
            return 400, {}, {"error": {"message": "Invalid Input Provided", "code": 2001,
                                       "errors": [f"offset + limit must be at most {self.offset_cap}"]}}
        since, until = _ts(first["since"]), _ts(first["until"])
        if until - since > self.max_window:
            return 400, {}, {"error": {"message": "Invalid Input Provided", "code": 2001,
                                       "errors": ["Date Range must be less than 6 months."]}}
        statuses = set(query.get("statuses[]", []))
        services = set(query.get("service_ids[]", []))
        with self.lock:
            rows = [i for i in self.incidents.values()
                    if since <= _ts(i["created_at"]) < until
                    and (not statuses or i["status"] in statuses)
                    and (not services or i["service"]["id"] in services)]
        rows.sort(key=lambda i: (_ts(i["created_at"]), i["id"]))
        page = rows[offset:offset + limit]
        total = len(rows) if self.report_total and first.get("total") == "true" else None
        return 200, {}, {"incidents": page, "limit": limit, "offset": offset, "total": total,
                         "more": offset + limit < len(rows)}


class _Handler(BaseHTTPRequestHandler):
    fake: FakePagerDuty

    def do_GET(self):  # noqa: N802 (http.server's naming)
        url = urlparse(self.path)
        status, headers, body = self.server.fake.handle(url.path, parse_qs(url.query),
                                                        self.headers.get("Authorization"), dict(self.headers))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        try:
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass                             # the client was killed while its request was held

    def log_message(self, *args):
        pass


def serve(fake: FakePagerDuty) -> tuple[ThreadingHTTPServer, str]:
    """Start serving ``fake`` in a daemon thread; returns the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fake = fake
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def running(fake: FakePagerDuty | None = None):
    """``fake`` (a new one by default) served on 127.0.0.1 for the block, its ``url`` set; stopped after."""
    fake = fake or FakePagerDuty()
    server, fake.url = serve(fake)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
