"""`cadence serve` refusing to start (sign-in rule, no webhook token, bad schedule) and /readyz of a
service whose source is overdue: a real `cadence serve` on ephemeral ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from tests.support.kill_support import RUN_CLI
from tests.service.test_serve import DEADLINE, TOKEN, http, wait_until
from tests.support.net import free_port
from warehouse import write_connection

pytestmark = pytest.mark.slow


def serve(args, env, cwd, **kw):
    return subprocess.run([sys.executable, "-c", RUN_CLI, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=DEADLINE, **kw)


def test_a_non_loopback_dashboard_without_sign_in_is_refused(tmp_path):
    env = dict(os.environ, CADENCE_WEBHOOK_TOKEN=TOKEN)
    out = serve(["--db", str(tmp_path / "c.duckdb"), "serve", "--host", "0.0.0.0", "--port", str(free_port()),
                 "--webhook-port", str(free_port())], env, tmp_path)
    assert out.returncode == 1
    assert "refusing to serve the dashboard on 0.0.0.0 without sign-in" in out.stderr and "--no-auth" in out.stderr
    assert not (tmp_path / "c.duckdb").exists()    # nothing started, nothing written


def test_no_webhook_token_no_service(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CADENCE_WEBHOOK_TOKEN"}
    out = serve(["--db", str(tmp_path / "c.duckdb"), "serve", "--port", str(free_port())], env, tmp_path)
    assert out.returncode == 1 and "CADENCE_WEBHOOK_TOKEN is not set" in out.stderr


def test_a_bad_schedule_is_refused_before_start(tmp_path):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[schedule]\nsync = "every 5 minutes"\n', encoding="utf-8")
    out = serve(["--config", str(cfg), "--db", str(tmp_path / "c.duckdb"), "serve"],
                dict(os.environ, CADENCE_WEBHOOK_TOKEN=TOKEN), tmp_path)
    assert out.returncode == 1 and "schedule.sync" in out.stderr and "not a cron expression" in out.stderr


def test_readyz_is_unready_when_a_source_is_overdue(tmp_path):
    """The last successful GitHub sync was 3 hours ago and the schedule is every 30 minutes (overdue
    after 2 x 30 min); GitHub does not answer, so the start-up run fails and the service stays unready."""
    db, cfg = tmp_path / "c.duckdb", tmp_path / "cadence.toml"
    dead = free_port()   # nothing listens there
    cfg.write_text(f'[sources.github]\nbase_url = "http://127.0.0.1:{dead}/api/v3"\nrepos = ["shop/api"]\n'
                   '[schedule]\nsync = "*/30 * * * *"\n', encoding="utf-8")
    three_hours_ago = datetime.utcnow() - timedelta(hours=3)
    with write_connection(db) as con:
        con.execute("INSERT INTO job_runs VALUES ('r1', 'sync:github', ?, ?, 'success', 5, NULL, 'schedule')",
                    [three_hours_ago, three_hours_ago + timedelta(seconds=20)])
    hook = free_port()
    env = dict(os.environ, CADENCE_WEBHOOK_TOKEN=TOKEN, GITHUB_TOKEN="test-token")
    proc = subprocess.Popen([sys.executable, "-c", RUN_CLI, "--db", str(db), "--config", str(cfg), "serve",
                             "--port", str(free_port()), "--webhook-port", str(hook)], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{hook}"
        wait_until(lambda: http(f"{base}/healthz")[0] == 200, "the webhook port")
        status, _, body = http(f"{base}/readyz")
        assert status == 503
        assert json.loads(body) == {"status": "unready", "failed": ["sync overdue"]}   # names no source
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=DEADLINE) == 0
