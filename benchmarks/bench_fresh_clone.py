"""Fresh clone → dashboard answering ``/_stcore/health`` with ``make run`` (issue 16's 60 s target),
beside the baseline of a bare ``pip install`` of the runtime packages, measured in the same run.

Each variant starts from a new ``git clone`` of this checkout's HEAD into a temporary directory
(no venv, no demo database) and times, with a wall clock:

* ``make run`` (uv when it installs, the default) until the health route answers "ok";
* ``make run USE_UV=0`` (plain pip) the same way;
* baseline: ``python3 -m venv`` + ``pip install`` of the runtime dependency list, nothing started.

Package caches are whatever this machine holds (pip's and uv's); the figures say which run came
first. Usage: ``python benchmarks/bench_fresh_clone.py [--runs N]``. Slow (minutes): `make bench`
runs it with the others.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = 900


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clone(into: Path) -> Path:
    dest = into / "cadence"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    return dest


def make_run(extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        repo = clone(Path(tmp))
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CADENCE_", "VIRTUAL_ENV"))}
        started = time.monotonic()
        proc = subprocess.Popen(["make", "run", f"PORT={port}", *extra], cwd=repo, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                        if r.read() == b"ok":
                            return time.monotonic() - started
                except OSError:
                    pass
                if proc.poll() is not None:
                    raise SystemExit(f"make run ended with {proc.returncode}: {proc.stderr.read()[-2000:]}")
                if time.monotonic() - started > DEADLINE:
                    raise SystemExit("make run did not serve within the deadline")
                time.sleep(0.25)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def bare_pip() -> float:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "venv", f"{tmp}/v"], check=True)
        subprocess.run([f"{tmp}/v/bin/pip", "install", "--quiet", *deps], check=True, stderr=subprocess.DEVNULL)
        return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-pip-make", action="store_true", help="skip `make run USE_UV=0` (4 min here)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, load average {load:.1f} at start")
    results: dict[str, list[float]] = {"make run (uv)": [], "make run USE_UV=0 (pip)": [],
                                       "baseline: venv + bare pip install of the runtime packages": []}
    for n in range(args.runs):
        for name, fn in (("make run (uv)", lambda: make_run([])),
                         ("make run USE_UV=0 (pip)", None if args.no_pip_make else lambda: make_run(["USE_UV=0"])),
                         ("baseline: venv + bare pip install of the runtime packages", bare_pip)):
            if fn is None:
                continue
            seconds = fn()
            results[name].append(seconds)
            print(f"run {n + 1}: {name}: {seconds:.1f} s", flush=True)
    base = statistics.median(results["baseline: venv + bare pip install of the runtime packages"])
    print("\nmedians (fresh clone -> /_stcore/health 'ok'; baseline installs only):")
    for name, times in results.items():
        if not times:
            continue
        med = statistics.median(times)
        print(f"  {name}: {med:.1f} s ({med / base:.2f} x baseline)")
    print("target: make run <= 60 s")


if __name__ == "__main__":
    main()
