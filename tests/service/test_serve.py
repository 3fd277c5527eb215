"""`cadence serve` as a real process: the supervisor, its dashboard (Streamlit) and its worker
(webhook port + APScheduler), syncing the fake GitHub over real HTTP on 127.0.0.1, on ephemeral
ports. One service for the module (the tests run in order and share it); the last test stops it
with SIGTERM while a sync is held mid-run.

Scheduled runs are started by the real scheduler: the start-up run (a job that never ran counts as
missed), the cron's own minute firing, and ``POST /jobs/<job>/run`` (the operator's "run now",
which goes through the same scheduler and its overlap rule).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest

from tests.support.fake_github import FakeGitHub
from tests.support.fake_github.scenarios import busy_repo
from tests.support.fake_github.server import hang, passthrough
from tests.support.kill_support import RUN_CLI
from tests.support.net import free_port, wait_for_health

pytestmark = pytest.mark.slow

TOKEN = "service-test-token-0123456789"
DEADLINE = 180   # seconds: a deadline for a starved 2-core machine, never an expected time


def http(url: str, *, token: str | None = None, method: str = "GET", body: bytes | None = None):
    """(status, headers, body) of one request; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, method=method, data=body)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except OSError:   # not listening (yet, or any more)
        return 0, {}, b""


def wait_until(condition, what: str, timeout: float = DEADLINE, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log else ""
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.2)


def series(text: str, name: str) -> float | None:
    """The value of one series (name with its labels, as exposed) in a /metrics text."""
    return next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(f"{name} ")), None)


def last_rows_match(service) -> bool:
    """/metrics' last-rows gauge of the GitHub sync equals the rows of its latest finished run."""
    shown = series(http(f"{service.hook}/metrics", token=TOKEN)[2].decode(), 'cadence_job_last_rows{job="sync:github"}')
    finished = [r for r in service.runs() if r[0] in ("success", "failed")]
    return shown is not None and bool(finished) and shown == finished[-1][2]


def query(db: Path, sql: str, params=()):
    """A short read-only look at the warehouse, as `cadence metrics` from a shell would take."""
    from warehouse import read_connection

    with read_connection(db, lock_wait_seconds=30) as con:
        return con.execute(sql, list(params)).fetchall()


def children(pid: int) -> dict[int, str]:
    """The supervisor's child processes: pid -> command line."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                out[int(child)] = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except FileNotFoundError:
                pass
    return out


def worker_pid(pid: int) -> int | None:
    return next((c for c, cmd in children(pid).items() if "service-worker" in cmd), None)


class Service:
    def __init__(self, proc, db, log, dash, hook, gh, cfg):
        from cadence.service.snapshot import snapshot_path

        self.proc, self.db, self.log, self.dash, self.hook, self.gh, self.cfg = proc, db, log, dash, hook, gh, cfg
        self.dashboard_db = snapshot_path(db)   # what the served dashboard reads

    def runs(self, job: str = "sync:github"):
        return query(self.db, "SELECT outcome, trigger, rows_written, message FROM job_runs WHERE job = ? "
                              "ORDER BY started_at", [job])

    def run_now(self, job: str = "sync:github") -> None:
        status, _, body = http(f"{self.hook}/jobs/{job}/run", token=TOKEN, method="POST", body=b"")
        assert status == 202, body


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    db, cfg, log = tmp / "data" / "cadence.duckdb", tmp / "cadence.toml", tmp / "serve.log"
    with FakeGitHub() as gh:
        # shop/api: 40 merged PRs, one every 6 h from 2026-01-05 09:00, a deployment after every 4th.
        busy_repo(gh, "shop/api", pulls=40, deployments=10, start="2026-01-05T09:00:00Z", seed=1)
        cfg.write_text(
            "[teams.payments]\nrepos = [\"shop/api\", \"shop/web\"]\n"
            f"[sources.github]\nbase_url = \"{gh.base_url}\"\nrepos = [\"shop/api\"]\nmin_request_interval = 0\n"
            "[schedule]\nsync = \"* * * * *\"\nexport = \"0 6 * * MON\"\nexport_dir = \"exports\"\n",
            encoding="utf-8")
        dash, hook = free_port(), free_port()
        env = dict(os.environ, GITHUB_TOKEN="test-token", CADENCE_WEBHOOK_TOKEN=TOKEN, CI=os.environ.get("CI", ""))
        with log.open("w+") as fh:
            proc = subprocess.Popen([sys.executable, "-c", RUN_CLI, "--db", str(db), "--config", str(cfg), "serve",
                                     "--port", str(dash), "--webhook-port", str(hook), "--stop-timeout", "3"],
                                    env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=tmp)
            try:
                wait_for_health(f"http://127.0.0.1:{dash}", proc, fh, timeout=DEADLINE)
                svc = Service(proc, db, log, f"http://127.0.0.1:{dash}", f"http://127.0.0.1:{hook}", gh, cfg)
                wait_until(lambda: http(f"{svc.hook}/healthz")[0] == 200, "the webhook port", log=log)
                yield svc
            finally:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=60)
                    except subprocess.TimeoutExpired:
                        proc.kill()


def test_serve_syncs_on_its_own_and_is_ready(service):
    # Nothing but `cadence serve` ran: the sync job had never run, so it runs once at start-up.
    runs = wait_until(lambda: [r for r in service.runs() if r[0] == "success"], "the start-up sync", log=service.log)
    outcome, trigger, rows, message = runs[0]
    assert trigger == "missed" and message is None
    # 40 changes + 10 deployments + 40 deployment_changes links written by the run (its sync_state rows).
    assert rows == 90
    assert query(service.db, "SELECT count(*) FROM changes")[0][0] == 40
    assert query(service.db, "SELECT count(*) FROM deployments")[0][0] == 10
    # the dashboard's copy follows within seconds
    wait_until(lambda: query(service.dashboard_db, "SELECT count(*) FROM changes")[0][0] == 40, "the dashboard's copy",
               log=service.log)
    status, _, body = http(f"{service.hook}/readyz")
    assert (status, json.loads(body)) == (200, {"status": "ready"})
    status, _, body = http(f"{service.hook}/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_metrics_need_the_token_and_report_the_runs(service):
    for token in (None, "wrong-token-wrong-token"):
        status, headers, body = http(f"{service.hook}/metrics", token=token)
        assert status == 401 and b"cadence_" not in body
        assert headers.get("www-authenticate", headers.get("WWW-Authenticate", "")).startswith("Bearer")
    status, _, body = http(f"{service.hook}/metrics", token=TOKEN)
    assert status == 200
    text = body.decode()
    assert 'cadence_sync_last_success_timestamp_seconds{source="github"}' in text
    assert 'cadence_job_runs_total{job="sync:github",outcome="success"}' in text
    # The schedule fires every minute, so the latest run may be a later one than the start-up
    # sync (90 rows); the gauge is the latest finished run's rows, whichever that is.
    wait_until(lambda: last_rows_match(service), "the last-rows gauge to match the latest run", log=service.log)
    assert any(r[2] == 90 for r in service.runs())   # the start-up sync's 90 rows are among them
    size = next(float(line.split()[-1]) for line in text.splitlines()
                if line.startswith("cadence_warehouse_size_bytes "))
    assert size >= service.db.stat().st_size > 0   # the file (its WAL may add to it)
    # every other route needs the token; the health routes reveal nothing but their status
    assert http(f"{service.hook}/jobs/sync:github/run", method="POST", body=b"")[0] == 401
    assert http(f"{service.hook}/deployments", method="POST", body=b"[]")[0] == 401
    assert http(f"{service.hook}/jobs/nope/run", token=TOKEN, method="POST", body=b"")[0] == 404


def test_webhook_requests_are_counted_by_outcome(service):
    def counts():
        text = http(f"{service.hook}/metrics", token=TOKEN)[2].decode()
        return {o: series(text, f'cadence_webhook_requests_total{{outcome="{o}",route="/deployments"}}') or 0.0
                for o in ("accepted", "rejected", "unauthorized")}

    pid = worker_pid(service.proc.pid)
    before = counts()
    ok = json.dumps({"id": "hook-1", "repo": "shop/api", "environment": "production",
                     "started_at": "2026-01-20T10:00:00Z", "finished_at": "2026-01-20T10:05:00Z",
                     "status": "success"}).encode()
    assert http(f"{service.hook}/deployments", token=TOKEN, method="POST", body=ok)[0] == 200
    assert http(f"{service.hook}/deployments", token=TOKEN, method="POST", body=b"{")[0] == 422
    assert http(f"{service.hook}/deployments", token="wrong-token-wrong-token", method="POST", body=ok)[0] == 401
    after = counts()
    # counters live in the worker: had it restarted in between they would start again from zero
    assert worker_pid(service.proc.pid) == pid, service.log.read_text(errors="replace")[-4000:]
    assert {o: after[o] - before[o] for o in after} == {"accepted": 1.0, "rejected": 1.0, "unauthorized": 1.0}


def test_data_health_shows_the_runs_and_the_sidebar_when_data_is_from(service, monkeypatch):
    from tests.support.apptest_support import dashboard_env, open_app, texts

    monkeypatch.setenv("CADENCE_CONFIG", str(service.cfg))
    wait_until(lambda: query(service.dashboard_db, "SELECT count(*) FROM job_runs WHERE outcome = 'success'")[0][0],
               "the runs in the dashboard's copy", log=service.log)
    with dashboard_env(service.dashboard_db, today=date(2026, 2, 2)):
        at = open_app("data_health")
    assert not at.exception
    assert "Scheduled runs" in texts(at)
    frames = [e.value for e in at.dataframe]
    runs = next(df for df in frames if "trigger" in df.columns and "outcome" in df.columns)
    assert "sync:github" in set(runs["job"]) and "success" in set(runs["outcome"])
    captions = [str(c.value) for c in at.sidebar.caption]
    assert any(c.startswith("Data as of ") and "latest scheduled sync" in c for c in captions)


def test_pages_render_while_a_scheduled_sync_writes(service, monkeypatch):
    """A reader under `serve` never waits behind a sync: the served dashboard reads the copy the
    worker refreshes after writes, so the pages render with the lock wait cut to 1 s while a sync
    of 400 pull requests writes, and the copy catches up when it ends. The sync's third GraphQL
    request is held until the pages have rendered once beside it (a sync left to run free could
    end before one round of pages on a fast machine, or a slow one)."""
    from tests.support.apptest_support import dashboard_env, open_app
    from warehouse import db as warehouse_db

    busy_repo(service.gh, "shop/web", pulls=400, deployments=40, start="2026-01-06T10:00:00Z", seed=2)
    service.cfg.write_text(service.cfg.read_text().replace('repos = ["shop/api"]', 'repos = ["shop/api", "shop/web"]'),
                           encoding="utf-8")
    # a scheduled run still going would take the held request, and the manual run would be skipped
    wait_until(lambda: all(r[0] != "running" for r in service.runs()), "the runs before to end", log=service.log)
    release = threading.Event()
    service.gh.hanging = 0
    service.gh.add_fault("/api/graphql", passthrough(), passthrough(), hang(release))
    before = len(service.runs())
    try:
        service.run_now()
        wait_until(lambda: any(r[1] == "manual" for r in service.runs()[before:]), "the manual run to start",
                   log=service.log)
        wait_until(lambda: service.gh.hanging == 1, "the sync to reach its held request", log=service.log)
        monkeypatch.setattr(warehouse_db, "LOCK_WAIT_SECONDS", 1.0)
        monkeypatch.setenv("CADENCE_CONFIG", str(service.cfg))
        renders_during_sync = 0
        with dashboard_env(service.dashboard_db, today=date(2026, 2, 2)):
            while True:
                # the manual run's own row: a cron firing meanwhile adds a "skipped" row after it
                running = [r for r in service.runs() if r[1] == "manual"][-1][0] == "running"
                for page in ("overview", "delivery", "data_health"):
                    at = open_app(page)
                    assert not at.exception, at.exception
                    assert not [e.value for e in at.error], [e.value for e in at.error]
                if not running:
                    break
                renders_during_sync += 1
                release.set()   # the held request fails with a 502, retried; the sync goes on
    finally:
        release.set()
    assert renders_during_sync >= 1, "the sync ended before a page rendered beside it"
    assert [r[0] for r in service.runs() if r[1] == "manual"][-1] == "success"
    assert query(service.db, "SELECT count(*) FROM changes WHERE repo = 'shop/web'")[0][0] == 400
    wait_until(lambda: query(service.dashboard_db, "SELECT count(*) FROM changes WHERE repo = 'shop/web'")[0][0] == 400,
               "the dashboard's copy to catch up", log=service.log)


def test_an_overlapping_run_is_skipped(service):
    release = threading.Event()
    service.gh.hanging = 0
    service.gh.add_fault("/api/graphql", hang(release))
    try:
        service.run_now()
        wait_until(lambda: service.gh.hanging == 1, "the sync to hang on GitHub", log=service.log)
        service.run_now()   # the previous run of sync:github is still going
        wait_until(lambda: any(r[0] == "skipped" for r in service.runs()), "the skipped run", log=service.log)
        assert "skipped: the previous run of this job was still going" in service.log.read_text()
    finally:
        release.set()
    wait_until(lambda: service.runs()[-1][0] != "running" and
               [r for r in service.runs() if r[0] == "running"] == [], "the held run to end", log=service.log)


def test_backup_while_serving_and_restore(service, tmp_path):
    from tests.support.kill_support import RUN_CLI as cli

    out = subprocess.run([sys.executable, "-c", cli, "--db", str(service.db), "backup", "--to", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    restored = tmp_path / "restored.duckdb"
    out = subprocess.run([sys.executable, "-c", cli, "--db", str(restored), "restore", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stderr
    assert query(restored, "SELECT count(*) FROM changes")[0][0] == manifest["tables"]["changes"] >= 440


def test_the_images_healthcheck_passes_against_the_service(service):
    from tests.service.test_deploy_files import healthcheck_command

    cmd = healthcheck_command()
    assert cmd[0] == "python"
    port = service.hook.rsplit(":", 1)[1]
    out = subprocess.run([sys.executable, *cmd[1:]], env=dict(os.environ, CADENCE_WEBHOOK_PORT=port),
                         capture_output=True, text=True, timeout=DEADLINE)
    assert out.returncode == 0, out.stderr
    dead = subprocess.run([sys.executable, *cmd[1:]], env=dict(os.environ, CADENCE_WEBHOOK_PORT=str(free_port())),
                          capture_output=True, text=True, timeout=DEADLINE)
    assert dead.returncode != 0     # nothing listening: unhealthy


def test_killing_the_worker_restarts_it(service):
    old = worker_pid(service.proc.pid)
    assert old is not None
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: (p := worker_pid(service.proc.pid)) not in (None, old) and p, "a new worker",
                     log=service.log)
    assert new != old
    wait_until(lambda: http(f"{service.hook}/healthz")[0] == 200, "the restarted webhook port", log=service.log)
    text = service.log.read_text()
    assert f"worker (pid {old}) killed by SIGKILL" in text and "restarting in 1 s" in text
    assert service.proc.poll() is None
    assert http(f"{service.dash}/_stcore/health")[2] == b"ok"   # the dashboard kept serving
    # the new worker's gauges start from job_runs, not from nothing: read before it finishes a run
    # of its own (if one finishes meanwhile, the gauge must match that one)
    finished = lambda: [r for r in service.runs() if r[0] in ("success", "failed")]   # noqa: E731
    first = finished()
    text = http(f"{service.hook}/metrics", token=TOKEN)[2].decode()
    if finished() == first:
        assert series(text, 'cadence_job_last_rows{job="sync:github"}') == first[-1][2]
    else:
        wait_until(lambda: last_rows_match(service), "the new worker's last-rows gauge", log=service.log)
    assert series(text, 'cadence_sync_last_success_timestamp_seconds{source="github"}') is not None


def test_the_cron_schedule_fires(service):
    # "* * * * *": the scheduler starts a run at the next minute, on its own.
    wait_until(lambda: any(r[1] == "schedule" and r[0] == "success" for r in service.runs()),
               "a run started by the schedule", log=service.log)


def test_sigterm_during_a_sync_leaves_no_half_written_run(service):
    release = threading.Event()
    service.gh.hanging = 0
    service.gh.add_fault("/api/graphql", hang(release))
    counts = query(service.db, "SELECT (SELECT count(*) FROM changes), (SELECT count(*) FROM deployments)")[0]
    try:
        service.run_now()
        wait_until(lambda: service.gh.hanging == 1, "the sync to hang on GitHub", log=service.log)
        service.proc.send_signal(signal.SIGTERM)
        assert service.proc.wait(timeout=DEADLINE) == 0
    finally:
        release.set()
    assert http_refused(service.dash) and http_refused(service.hook)
    runs = query(service.db, "SELECT job, outcome, message FROM job_runs ORDER BY started_at")
    assert [r for r in runs if r[1] == "running"] == []
    ran = [r for r in runs if r[1] != "skipped"]   # a cron firing during the held run is skipped, not run
    assert ran[-1][:2] == ("sync:github", "interrupted") and "stopped during the run" in ran[-1][2]
    # what was committed before is all there, once
    assert query(service.db, "SELECT (SELECT count(*) FROM changes), (SELECT count(*) FROM deployments)")[0] == counts
    assert query(service.db, "SELECT count(*) - count(DISTINCT id) FROM changes")[0][0] == 0


def http_refused(base: str) -> bool:
    try:
        urllib.request.urlopen(f"{base}/healthz", timeout=5)
    except urllib.error.HTTPError:
        return False
    except OSError:
        return True
    return False
