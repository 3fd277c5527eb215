"""Helpers for the AWS tests: a moto server on 127.0.0.1 (answering what it lacks with HTTP 501) and environment that points boto3 at it
through the same endpoint setting a real user would use (AWS_ENDPOINT_URL), with fake credentials.
A scripted HTTP server covers the answers moto cannot give (AccessDenied, throttling); a forwarding
proxy in front of moto can hold one call while its client is killed."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
CLEARED = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
           "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI")


def _moto_app_saying_not_implemented(service):
    """moto's app for ``service``, answering an operation moto lacks (it raises NotImplementedError,
    which its server turns into a bare HTML 500) the way LocalStack and API gateways do: HTTP 501
    ``NotImplemented`` with the reason. Cadence reads only such documented signals, so the emulator
    is told to give one here, in the tests, rather than Cadence learning what moto is."""
    from moto.moto_server.werkzeug_app import create_backend_app

    app = create_backend_app(service)

    def not_implemented(exc):
        body = json.dumps({"__type": "NotImplemented", "message": str(exc)})
        return body, 501, {"Content-Type": "application/x-amz-json-1.1"}

    app.register_error_handler(NotImplementedError, not_implemented)
    return app


def start_moto():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:   # moto's own, with the app above
            app = DomainDispatcherApplication(_moto_app_saying_not_implemented)
            self._server = make_server(self._ip_address, self._port, app, True,
                                       request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = Server(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def point_boto3_at(monkeypatch, tmp_path, endpoint: str | None, *, credentials: bool = True) -> None:
    """Fake credentials (or none at all) and AWS_ENDPOINT_URL; no profile files are read."""
    for var in CLEARED + tuple(FAKE_ENV) + ("AWS_ENDPOINT_URL",):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    if credentials:
        for k, v in FAKE_ENV.items():
            monkeypatch.setenv(k, v)
    if endpoint:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)


def reset_moto(endpoint: str) -> None:
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()


def queue_cost_results(endpoint: str, *results: dict) -> None:
    """Queue Cost Explorer answers: moto hands them out in order, one per distinct request."""
    r = requests.post(f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
                      json={"results": list(results)}, timeout=10)
    assert r.status_code == 201, r.text


def day_result(day: str, groups: list[tuple[list[str], float, float, float]], *,
               estimated: bool = False) -> dict:
    """One ResultsByTime item: groups of (keys, amortized, unblended, usage quantity)."""
    from datetime import date, timedelta

    end = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return {"TimePeriod": {"Start": day, "End": end}, "Total": {}, "Estimated": estimated,
            "Groups": [{"Keys": keys, "Metrics": {
                "AmortizedCost": {"Amount": str(a), "Unit": "USD"},
                "UnblendedCost": {"Amount": str(u), "Unit": "USD"},
                "UsageQuantity": {"Amount": str(q), "Unit": "N/A"}}} for keys, a, u, q in groups]}


class LocalServer:
    """A ``self.server`` served by ``self.thread`` for the duration of a ``with`` block."""

    server: ThreadingHTTPServer
    thread: threading.Thread
    url: str

    def _serve(self, handler: type[BaseHTTPRequestHandler], poll_interval: float = 0.5) -> None:
        """Bind ``handler`` on a free 127.0.0.1 port; the ``with`` block serves it."""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": poll_interval},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class ScriptedAws(LocalServer):
    """A local HTTP server answering AWS JSON calls from a script of (status, body) replies; a
    ``str`` body is sent as an HTML page (what a crashed web framework answers)."""

    def __init__(self, replies: list[tuple[int, dict | str]]):
        self.replies = list(replies)
        self.hits: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                outer.hits.append({"target": self.headers.get("X-Amz-Target"),
                                   "body": json.loads(body or b"{}")})
                status, reply = outer.replies.pop(0) if len(outer.replies) > 1 else outer.replies[0]
                html = isinstance(reply, str)
                data = reply.encode() if html else json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._serve(Handler)


class HoldingProxy(LocalServer):
    """A forwarding proxy on 127.0.0.1 in front of an AWS endpoint (moto), so a test can point
    AWS_ENDPOINT_URL at it and hold one call unanswered while its client is killed.

    Every request is forwarded as it came (method, path, headers, body) and the answer returned as
    it came. ``hold(operation, release, after=n)`` lets ``n`` more calls of that operation (matched
    on the end of ``X-Amz-Target``, e.g. ``GetCostAndUsage``) through, then holds the next one until
    ``release`` is set (at most 60 s) and answers it 502 without forwarding it: the call never
    reaches the endpoint, as if the network had swallowed it.
    """

    def __init__(self, target: str):
        self.target = target.rstrip("/")
        self.calls: list[str] = []          # X-Amz-Target of each forwarded call (or "METHOD path")
        self.held = 0
        self.lock = threading.Lock()
        self._hold: list | None = None      # [operation, calls still to let through, release]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target") or f"{self.command} {self.path}"
                release = None
                with outer.lock:
                    hold = outer._hold
                    if hold is not None and target.endswith(hold[0]):
                        if hold[1] == 0:
                            release, outer._hold = hold[2], None
                            outer.held += 1
                        else:
                            hold[1] -= 1
                    if release is None:
                        outer.calls.append(target)
                if release is not None:
                    release.wait(60)
                    self._answer(502, {"Content-Type": "text/plain"}, b"held by the test proxy")
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                reply = requests.request(self.command, outer.target + self.path, data=body,
                                         headers=headers, timeout=60, allow_redirects=False)
                keep = {k: v for k, v in reply.headers.items()
                        if k.lower() not in ("content-length", "content-encoding", "transfer-encoding",
                                             "connection", "server", "date")}
                self._answer(reply.status_code, keep, reply.content)

            def _answer(self, status, headers, data):
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass                    # the client was killed while its call was held

            do_GET = do_POST = do_PUT = do_DELETE = _relay  # noqa: N815 (http.server's names)

            def log_message(self, *args):
                pass

        self._serve(Handler, poll_interval=0.05)

    def hold(self, operation: str, release: threading.Event, *, after: int = 0) -> None:
        with self.lock:
            self._hold = [operation, after, release]
