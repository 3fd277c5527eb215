"""`cadence serve` runs the digest weekly and the alert check every few minutes (issue 19's last
point): [schedule] notify_digest / notify_check become jobs, and a run sends through the channel,
is recorded in job_runs with what it sent, and a failing channel makes a failed run."""

from __future__ import annotations

import json

import pytest

from cadence.core.config import load_config
from cadence.core.errors import ConfigError
from cadence.service.jobs import Job, Runner, planned_jobs
from tests.notify.conftest import SIGNING_KEY
from warehouse import read_connection

CONFIG = """
[notify.channels.ops]
kind = "webhook"
url_env = "OPS_HOOK_SCHEDULED"
[notify.digest]
channels = ["ops"]
[[notify.alerts]]
rule = "stale_source"
hours = 26
channels = ["ops"]
[schedule]
notify_digest = "0 8 * * MON"
notify_check = "*/10 * * * *"
"""


@pytest.fixture
def scheduled(tmp_path, monkeypatch, http_receiver):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("OPS_HOOK_SCHEDULED", f"{http_receiver.base}/scheduled-ops")
    monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING_KEY)
    return cfg


def _runs(db, job):
    with read_connection(db) as con:
        return con.execute("SELECT outcome, rows_written, message FROM job_runs WHERE job = ? ORDER BY started_at",
                           [job]).fetchall()


def test_the_schedule_plans_the_digest_and_the_check(scheduled):
    jobs = {j.name: j.cron for j in planned_jobs(load_config(scheduled))}
    assert jobs == {"notify:digest": "0 8 * * MON", "notify:check": "*/10 * * * *"}


def test_notify_keys_are_cron_checked(tmp_path):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[schedule]\nnotify_check = "often"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match='schedule.notify_check: "often" is not a cron expression'):
        load_config(cfg)


def test_a_scheduled_digest_and_check_send_and_are_recorded(scheduled, demo_db, http_receiver):
    before = len(http_receiver.to("/scheduled-ops"))
    runner = Runner(demo_db, str(scheduled))
    assert runner(Job("notify:digest", "0 8 * * MON", None)) == "success"
    sent = http_receiver.to("/scheduled-ops")[before:]
    assert len(sent) == 1 and json.loads(sent[0].body)["type"] == "digest"
    assert _runs(demo_db, "notify:digest") == [("success", 1, None)]
    # The demo's sources last synced long before today: stale_source fires once, and a second check
    # sends nothing new (an alert is sent when it starts firing, not at every check).
    assert runner(Job("notify:check", "*/10 * * * *", None)) == "success"
    assert runner(Job("notify:check", "*/10 * * * *", None)) == "success"
    checks = _runs(demo_db, "notify:check")
    assert [c[0] for c in checks] == ["success", "success"]
    assert checks[0][1] >= 1 and checks[1][1] == 0


def test_a_failing_channel_is_a_failed_run(scheduled, demo_db, http_receiver):
    http_receiver.break_path("/scheduled-ops")
    try:
        assert Runner(demo_db, str(scheduled))(Job("notify:digest", "0 8 * * MON", None)) == "failed"
    finally:
        http_receiver.break_path("/scheduled-ops", False)
    [(outcome, rows, message)] = _runs(demo_db, "notify:digest")
    assert outcome == "failed" and "1 of 1 sends failed" in message
    assert "scheduled-ops" not in message   # the URL (a secret) is never in the message
