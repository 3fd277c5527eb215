"""Helpers for the AWS tests: a moto server on 127.0.0.1 and environment that points boto3 at it
through the same endpoint setting a real user would use (AWS_ENDPOINT_URL), with fake credentials.
A scripted HTTP server covers the answers moto cannot give (AccessDenied, throttling)."""

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


def start_moto():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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


class ScriptedAws:
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
