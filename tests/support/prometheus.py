"""A real Prometheus for the tests, over a deterministic backfilled series.

``write_series`` writes the scenario below as OpenMetrics text; ``start_prometheus`` turns it into
TSDB blocks with ``promtool tsdb create-blocks-from openmetrics`` and runs Debian's ``prometheus``
on a free 127.0.0.1 port over them, with basic auth (``--web.config.file``), no scrape targets, and
waits for ``/-/ready``. The tests derive their expected values from the rules below by hand.

How Prometheus 2.42 (Debian bookworm) treats backfilled data, as measured here:

* Blocks written by promtool into the storage directory before start are loaded like its own. 2.42
  no longer has ``--storage.tsdb.allow-overlapping-blocks`` (removed in 2.39: overlapping blocks
  are always allowed and merged by vertical compaction); with an empty head nothing overlaps anyway.
* Retention is not measured from the wall clock but from the newest block: a block is deleted at
  start when its max time is more than the retention before the newest block's max time
  (``BeyondTimeRetention``). With ``--storage.tsdb.retention.time=1d`` over two days of 2024 data,
  the older block was deleted at start ("Deleting obsolete block") and the newer one kept, although
  both are years older than the clock. So the retention must cover the span of the backfilled data
  (here ~17 months: ``RETENTION``); a scrape (which would advance the head to the wall clock) would
  make the span reach today, so the server scrapes nothing (``scrape_configs: []``).
* promtool cuts 2 h blocks by default (hundreds of directories for a year); its hidden
  ``--max-block-duration`` flag (documented in the storage docs for backfilling) makes a handful.
* Range selectors include both ends in 2.x (``[T-1h, T]``); 3.x makes the left end exclusive. The
  collector's rule (an hour owns the samples with ``h < t <= h+1h``) does not depend on it, and the
  scenario keeps samples off hour boundaries except in the batch series, whose hour-end samples
  exercise exactly that edge.
* ``query_range`` refuses ``(end - start) / step > 11000`` ("exceeded maximum resolution of 11,000
  points per timeseries"); the batch series spans 12,408 hours to force the collector to split.

The scenario (all times UTC):

``http_requests_total{service="checkout", instance, code}``, 2025-02-01 to 2025-03-01:
* instance "a" scrapes every 60 s at :17 s; its code="200" counter starts at 1000 and grows 10 per
  scrape interval, its code="500" counter starts at 7 and grows by ``ERRORS_A`` at those scrapes;
* instance "b" scrapes every 120 s at :43 s; code="200" starts at 500 and grows 5 per interval;
  code="500" stays at 3. Instance "b" restarts before its scrape at ``RESTART_B``: there its
  code="200" reads 5 (counted since the restart) and code="500" reads 0 (a counter reset);
* no scrape of either instance in ``GAP`` (the counters keep counting; the samples are missing).

``batch_jobs_total{service="batch", result}`` from ``BATCH_START`` to ``END`` (both included), one
sample exactly on every hour: result="ok" grows 100 per hour from 0, result="failed" 1 per hour.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.net import free_port

START = datetime(2025, 2, 1)                    # first checkout scrape slot: 00:00:17 (a), 00:00:43 (b)
END = datetime(2025, 3, 1)                      # no checkout sample at or after this
RESTART_B = datetime(2025, 2, 20, 6, 30, 43)    # instance b's first scrape after its restart
GAP = (datetime(2025, 2, 24, 10), datetime(2025, 2, 24, 13))   # no scrape in [10:00, 13:00)
ERRORS_A = {                                    # code="500" growth of instance a at these scrapes
    datetime(2025, 2, 27, 2, 0, 17): 1,         # between 01:59:17 and 02:00:17: straddles 02:00
    datetime(2025, 2, 27, 3, 20, 17): 3,
    datetime(2025, 2, 28, 22, 30, 17): 50,
}
BATCH_START = datetime(2023, 10, 1)

CHECKOUT_GOOD = 'http_requests_total{service="checkout",code!~"5.."}'
CHECKOUT_TOTAL = 'http_requests_total{service="checkout"}'
BATCH_GOOD = 'batch_jobs_total{service="batch",result="ok"}'
BATCH_TOTAL = 'batch_jobs_total{service="batch"}'

USERNAME = "cadence"
PASSWORD = "slo-test-password"
# bcrypt of PASSWORD at the lowest cost (4), so each request's check is cheap; made once with
# python3 -c "import crypt; print(crypt.crypt('slo-test-password', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"
PASSWORD_BCRYPT = "$2b$04$D1DfQc2SxOdAEsIo5WFthORz8/mjRjRi2C5FwdFMwjNGLBIy2VuJ2"
RETENTION = "3650d"
READY_TIMEOUT_SECONDS = 120


def _epoch(ts: datetime) -> int:
    return int(ts.replace(tzinfo=UTC).timestamp())


def _slots(first: datetime, every: timedelta, until: datetime):
    t = first
    while t < until:
        yield t
        t += every


def write_series(path: Path) -> int:
    """Write the scenario as OpenMetrics text; returns the number of samples."""
    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests served."]
    count = 0

    def emit(labels: str, points) -> None:
        nonlocal count
        for t, v in points:
            if not GAP[0] <= t < GAP[1]:
                lines.append(f"http_requests_total{{{labels}}} {v} {_epoch(t)}")
                count += 1

    a_slots = list(_slots(START + timedelta(seconds=17), timedelta(seconds=60), END))
    a200 = [(t, 1000 + 10 * (i + 1)) for i, t in enumerate(a_slots)]
    a500, errors = [], 7
    for t in a_slots:
        errors += ERRORS_A.get(t, 0)
        a500.append((t, errors))
    b_slots = list(_slots(START + timedelta(seconds=43), timedelta(seconds=120), END))
    b200, b500, value = [], [], 500
    for t in b_slots:
        value = 5 if t == RESTART_B else value + 5
        b200.append((t, value))
        b500.append((t, 0 if t >= RESTART_B else 3))
    emit('service="checkout",instance="a",code="200"', a200)
    emit('service="checkout",instance="a",code="500"', a500)
    emit('service="checkout",instance="b",code="200"', b200)
    emit('service="checkout",instance="b",code="500"', b500)

    lines += ["# TYPE batch_jobs counter", "# HELP batch_jobs Batch jobs run."]
    hours = list(_slots(BATCH_START, timedelta(hours=1), END + timedelta(seconds=1)))
    for result, per_hour in (("ok", 100), ("failed", 1)):
        for i, t in enumerate(hours):
            lines.append(f'batch_jobs_total{{service="batch",result="{result}"}} {per_hour * i} {_epoch(t)}')
            count += 1
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count


@dataclass
class RunningPrometheus:
    url: str
    username: str
    password: str
    process: subprocess.Popen
    log_path: Path
    data_dir: Path
    samples: int

    def auth_header(self) -> str:
        return "Basic " + b64encode(f"{self.username}:{self.password}".encode()).decode()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def binaries() -> tuple[str | None, str | None]:
    return shutil.which("prometheus"), shutil.which("promtool")


def _ready(url: str, auth: str) -> bool:
    request = urllib.request.Request(f"{url}/-/ready", headers={"Authorization": auth})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_prometheus(workdir: Path) -> RunningPrometheus:
    """Backfill the scenario into ``workdir`` and start Prometheus over it; waits until ready."""
    prometheus, promtool = binaries()
    if not (prometheus and promtool):
        raise FileNotFoundError("prometheus and promtool (Debian package `prometheus`)")
    series = workdir / "series.om"
    samples = write_series(series)
    data = workdir / "data"
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet",
                    "--max-block-duration=1458h", str(series), str(data)],
                   check=True, capture_output=True, timeout=300)
    (workdir / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n",
                                            encoding="utf-8")
    (workdir / "web.yml").write_text(f"basic_auth_users:\n  {USERNAME}: {PASSWORD_BCRYPT}\n", encoding="utf-8")
    log_path = workdir / "prometheus.log"
    for _attempt in range(3):      # the free port may be taken between choosing and binding it
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [prometheus, f"--config.file={workdir / 'prometheus.yml'}",
                 f"--web.config.file={workdir / 'web.yml'}", f"--storage.tsdb.path={data}",
                 f"--storage.tsdb.retention.time={RETENTION}", f"--web.listen-address=127.0.0.1:{port}",
                 "--log.level=info"],
                stdout=log, stderr=subprocess.STDOUT, cwd=workdir, env={**os.environ, "GOMAXPROCS": "2"})
        running = RunningPrometheus(url, USERNAME, PASSWORD, process, log_path, data, samples)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if _ready(url, running.auth_header()):
                return running
            time.sleep(0.1)
        if process.poll() is None:
            stop(running)
            raise RuntimeError(f"Prometheus was not ready within {READY_TIMEOUT_SECONDS} s:\n{running.log_tail()}")
        if "address already in use" not in running.log_tail().lower():
            raise RuntimeError(f"Prometheus exited with {process.returncode}:\n{running.log_tail()}")
    raise RuntimeError(f"Prometheus found no free port:\n{running.log_tail()}")


def stop(running: RunningPrometheus) -> None:
    if running.process.poll() is None:
        running.process.terminate()
        try:
            running.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait(timeout=10)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    """One real Prometheus per test session (per xdist worker that needs it) over the scenario.

    Without the binaries it skips locally; with CI=true it fails, because a CI run that skips the
    Prometheus tests has not tested the collector.
    """
    prom, tool = binaries()
    if not (prom and tool):
        message = "prometheus/promtool not installed (apt-get install prometheus; .ci/run does)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: in CI the Prometheus tests must run, not skip.")
        pytest.skip(message)
    running = start_prometheus(tmp_path_factory.mktemp("prometheus"))
    yield running
    stop(running)
