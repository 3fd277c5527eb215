"""The webhook receiver (collectors/webhook.py) served for a test: uvicorn in a thread on 127.0.0.1,
its bearer token, and a deployment body as CI would post it."""

from __future__ import annotations

import threading
import time

from collectors.webhook import bind_socket, make_server

TOKEN = "test-webhook-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def deployment(n: int, **over) -> dict:
    return {"id": f"ci:{n}", "repo": "shop/api", "service": "api", "environment": "production",
            "status": "success", "sha": f"{n:040x}", "started_at": "2026-02-02T10:00:00Z",
            "finished_at": "2026-02-02T10:05:00+01:00", **over}


def serve_app(app):
    """Serve ``app`` with uvicorn in a daemon thread; returns (base_url, stop)."""
    server = make_server(app, log_level="warning")
    sock = bind_socket("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120   # a deadline for a busy machine, not an expected time
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)

    def stop():
        server.should_exit = True
        thread.join(60)
        sock.close()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop
