"""The dashboard server's HTTP answers: keep-alive requests and the first page's bundle, Cadence's
server (``cadence dashboard``) against Streamlit as shipped (``streamlit run app.py``), in one run.

Cadence's server turns Nagle's algorithm off on its connections (Streamlit's pre-bound listening
socket left it on: ``cadence.dashboard.server.no_delay``) and reads Streamlit's static bundle into
memory during its warm-up (``load_bundle``). Measured from Python clients over real HTTP on the demo
database (docs/performance.md):

- one keep-alive connection asking for 30 small static files in turn (median per request);
- the modules a browser's first load asks for at once (index.html's module graph: the ~60 files
  the page shell imports), fetched by 6 keep-alive connections as a browser does (median of 5).

``python benchmarks/bench_static.py [--rounds 5]``
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_browser import demo_database  # noqa: E402
from tests.support.net import free_port, stop, wait_for_health  # noqa: E402

SMALL_FILES = 30
CONNECTIONS = 6
IMPORT = re.compile(rb'(?:from|import)\s*"\./([\w.\-]+\.js)"')


def module_graph(static: Path) -> list[str]:
    """The modules index.html's entry imports, transitively (static imports only: the first load)."""
    shell = (static / "index.html").read_text()
    entry = re.search(r'src="\./(static/js/[\w.\-]+\.js)"', shell).group(1)
    seen, todo = [], [entry.rsplit("/", 1)[1]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo.extend(m.decode() for m in IMPORT.findall((static / "static" / "js" / name).read_bytes()))
    return [f"static/js/{n}" for n in seen]


def fetch_all(port: int, paths: list[str]) -> float:
    """Seconds for ``CONNECTIONS`` keep-alive connections to fetch ``paths`` between them."""
    chunks = [paths[i::CONNECTIONS] for i in range(CONNECTIONS)]

    def one(chunk: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for path in chunk:
            conn.request("GET", f"/{path}")
            response = conn.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
        conn.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(one, chunks))
    return time.perf_counter() - t0


def per_request(port: int, paths: list[str]) -> float:
    """Median seconds per request on one keep-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for path in paths:
        t0 = time.perf_counter()
        conn.request("GET", f"/{path}")
        conn.getresponse().read()
        times.append(time.perf_counter() - t0)
    conn.close()
    return statistics.median(times)


def measure(command: list[str], env: dict[str, str], port: int, small: list[str], graph: list[str],
            rounds: int) -> tuple[float, float, float]:
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_health(f"http://127.0.0.1:{port}", proc, log, timeout=600)
            first = fetch_all(port, graph)                     # the first browser after health
            bundle = statistics.median(fetch_all(port, graph) for _ in range(rounds))
            return per_request(port, small), first, bundle
        finally:
            stop(proc, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import streamlit

    static = Path(streamlit.__file__).parent / "static"
    small = sorted(p.relative_to(static).as_posix() for p in (static / "static" / "js").iterdir()
                   if p.stat().st_size < 3000)[:SMALL_FILES]
    graph = module_graph(static)
    with tempfile.TemporaryDirectory() as tmp:
        env = demo_database(Path(tmp)).env()
        results = {}
        for name in ("Streamlit as shipped (streamlit run)", "Cadence (cadence dashboard)"):
            port = free_port()
            if name.startswith("Cadence"):
                command = [sys.executable, "-m", "cadence", "dashboard", "--port", str(port)]
            else:
                command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                           "--server.address", "127.0.0.1", "--server.headless", "true",
                           "--browser.gatherUsageStats", "false"]
            results[name] = measure(command, env, port, small, graph, args.rounds)
    print(f"{len(small)} small files on one keep-alive connection; the first load's {len(graph)} modules "
          f"({sum((static / p).stat().st_size for p in graph) / 1e6:.1f} MB) over {CONNECTIONS} connections")
    print(f"{'server':40} {'per request':>12} {'bundle, first':>14} {'bundle, median':>15}")
    for name, (request, first, bundle) in results.items():
        print(f"{name:40} {request * 1000:9.1f} ms {first:12.3f} s {bundle:13.3f} s")
    (base_request, base_first, base_bundle), (request, first, bundle) = results.values()
    print(f"ratio (Cadence / Streamlit as shipped): per request {request / base_request:.3f}, "
          f"bundle first {first / base_first:.2f}, median {bundle / base_bundle:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
