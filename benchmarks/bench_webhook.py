"""Benchmark: the webhook receiver's write path under concurrent posts.

Serves ``collectors.webhook.create_app`` with uvicorn on 127.0.0.1 (a fresh DuckDB file), posts
``--posts`` single-deployment requests from ``--threads`` client threads over real HTTP, and prints
the median and p95 request latency and the throughput. Baseline in the same run: the same records
written one call at a time straight through ``collectors.files.ingest_records`` (no HTTP), i.e.
the floor set by one short write transaction per request. Usage::

    .venv/bin/python benchmarks/bench_webhook.py [--posts 200] [--threads 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOKEN = "bench-webhook-token-0123456789"


def record(n: int) -> dict:
    return {"id": f"bench:{n}", "repo": "shop/api", "service": "api", "environment": "production",
            "status": "success", "sha": f"{n:040x}", "finished_at": "2026-02-02T10:05:00Z"}


def main() -> None:
    import requests

    from collectors.webhook import bind_socket, create_app, make_server
    from warehouse import connect
    from collectors.files import ingest_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base_db = Path(tmp) / "baseline.duckdb"
        connect(base_db).close()
        direct = []
        t0 = time.perf_counter()
        for n in range(args.posts):
            t = time.perf_counter()
            ingest_records(base_db, "deployments", [record(n)], source_name="webhook")
            direct.append(time.perf_counter() - t)
        direct_total = time.perf_counter() - t0

        db = Path(tmp) / "webhook.duckdb"
        connect(db).close()
        server = make_server(create_app(db, TOKEN), log_level="warning")
        sock = bind_socket("127.0.0.1", 0)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/deployments"
        local = threading.local()

        def post(n: int) -> float:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            t = time.perf_counter()
            r = session.post(url, json=record(n), timeout=120,
                             headers={"Authorization": f"Bearer {TOKEN}"})
            r.raise_for_status()
            return time.perf_counter() - t

        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            latencies = list(pool.map(post, range(args.posts)))
        http_total = time.perf_counter() - t0
        server.should_exit = True
        thread.join(10)
        con = connect(db, read_only=True)
        landed = con.execute("SELECT count(DISTINCT id) FROM deployments").fetchone()[0]
        con.close()

    lat = sorted(latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))]
    print(f"posts: {args.posts} from {args.threads} threads; rows landed: {landed}")
    print(f"webhook over HTTP: {http_total:.2f} s, {args.posts / http_total:.0f} posts/s, "
          f"latency median {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(f"baseline ingest_records direct, sequential: {direct_total:.2f} s, "
          f"{args.posts / direct_total:.0f} writes/s, median {statistics.median(direct) * 1000:.0f} ms")
    print(f"throughput webhook ÷ baseline: {(args.posts / http_total) / (args.posts / direct_total):.2f}")
    if landed != args.posts:
        raise SystemExit(f"expected {args.posts} rows, found {landed}")


if __name__ == "__main__":
    main()
