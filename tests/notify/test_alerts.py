"""Every alert rule firing, not repeating and resolving, on small hand-made warehouses; alerts
delivered to a signed webhook on 127.0.0.1 whose bodies are checked against the published schema."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest

from cadence.notify.service import run_check
from tests.support.metrics_rows import dep
from tests.notify.conftest import SIGNING_KEY
from tests.notify.helpers import WEBHOOK_SCHEMA, check_signature, config_with, validate
from warehouse import read_connection, upsert_rows, write_connection
from warehouse.state import write_cursor


@pytest.fixture
def hook(http_receiver, monkeypatch, tmp_path):
    """A webhook channel "ops" on the receiver; returns (its path, a function reading its events)."""
    monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING_KEY)
    path = f"/alerts/{tmp_path.name}"
    monkeypatch.setenv("OPS_ALERT_WEBHOOK", http_receiver.base + path)

    def events():
        out = []
        for r in http_receiver.to(path):
            check_signature(r.body, r.headers["X-Cadence-Signature"], SIGNING_KEY)
            body = json.loads(r.body)
            validate(body, WEBHOOK_SCHEMA)
            out.append((body["event"], body["key"]))
        return out
    return path, events


def cfg(*rules, teams=None, slos=None, channels=None):
    channels = channels or {"ops": {"kind": "webhook", "url_env": "OPS_ALERT_WEBHOOK"}}
    return config_with({"channels": channels, "alerts": [{"channels": ["ops"], **r} for r in rules]},
                       teams=teams, slos=slos)


def alert_row(db, key):
    with read_connection(db) as con:
        return con.execute("SELECT status, first_seen_at, last_seen_at, resolved_at FROM notify_alerts "
                           "WHERE alert_key = ?", [key]).fetchall()


# -- stale_source --------------------------------------------------------------------------------

def test_stale_source_fires_once_then_resolves_once(db_path, hook):
    _, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
        write_cursor(con, "pagerduty", "all", "c1", now=datetime(2026, 3, 2, 1, 0))
    config = cfg({"rule": "stale_source", "hours": 26})
    key = "stale_source:github:acme/api"
    # 2026-03-02 03:00 is 27 h after github's last success (> 26) and 2 h after pagerduty's.
    first = run_check(db_path, config, now=datetime(2026, 3, 2, 3, 0))
    assert first.started == [key] and [a.title for a in first.firing] == ["Source github (acme/api) not synced for 27.0 h"]
    assert events() == [("firing", key)]
    again = run_check(db_path, config, now=datetime(2026, 3, 2, 3, 5))
    assert (again.started, again.resolved, again.outcomes) == ([], [], []) and len(again.firing) == 1
    assert events() == [("firing", key)]                          # nothing new
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c2", now=datetime(2026, 3, 2, 4, 0))
    gone = run_check(db_path, config, now=datetime(2026, 3, 2, 4, 10))
    assert gone.resolved == [key] and events() == [("firing", key), ("resolved", key)]
    assert run_check(db_path, config, now=datetime(2026, 3, 2, 4, 15)).outcomes == []
    assert events() == [("firing", key), ("resolved", key)]
    assert alert_row(db_path, key) == [("resolved", datetime(2026, 3, 2, 3, 0), datetime(2026, 3, 2, 3, 5),
                                        datetime(2026, 3, 2, 4, 10))]


def test_the_demo_source_counts_as_a_source(demo_db, hook):
    _, events = hook
    # The demo records source "demo" synced at its last moment, 2026-11-15 23:59:59; 30 h later:
    report = run_check(demo_db, cfg({"rule": "stale_source", "hours": 26}), now=datetime(2026, 11, 17, 6, 0))
    assert [a.key for a in report.firing] == ["stale_source:demo:all"]
    assert events() == [("firing", "stale_source:demo:all")]


# -- cost_anomaly and cost_budget ----------------------------------------------------------------

def cost(day: date, service: str, amount: float, tag: str = "") -> dict:
    return {"charge_date": day, "source": "test", "provider": "aws", "billing_account_id": "", "sub_account_id": "",
            "service_name": service, "region": "", "resource_id": "", "allocation_tag": tag,
            "effective_cost": amount, "billed_cost": amount}


def test_cost_anomaly_fires_over_the_minimum_impact_and_resolves_when_it_leaves_the_window(db_path, hook):
    _, events = hook
    days = [date(2026, 2, 1) + timedelta(days=i) for i in range(28)]        # 1-28 Feb
    with write_connection(db_path) as con:
        # S3: $100 a day, then $400 on 1 Mar: expected = median of 28 × $100 = $100, spread =
        # max(1.4826 × MAD 0, 5 % of 100) = $5; |400 − 100| = 300 > 3 × 5 and ≥ $100 -> fires.
        # EC2: $200 a day, then $250: 50 > 3 × 10 is anomalous, but $50 < the $100 minimum.
        upsert_rows(con, "costs", [cost(d, "S3", 100) for d in days] + [cost(d, "EC2", 200) for d in days]
                    + [cost(date(2026, 3, 1), "S3", 400), cost(date(2026, 3, 1), "EC2", 250)])
    config = cfg({"rule": "cost_anomaly", "min_impact_usd": 100})
    report = run_check(db_path, config, now=datetime(2026, 3, 2, 8, 0))
    assert [a.key for a in report.firing] == ["cost_anomaly:service:S3"]
    assert report.firing[0].title == "Cost anomaly: service S3 up $300 on 2026-03-01"
    assert run_check(db_path, cfg({"rule": "cost_anomaly", "min_impact_usd": 500}), now=datetime(2026, 3, 2, 8, 0),
                     dry_run=True).firing == []
    # Seven ordinary days later the last 7 days with cost data are 2-8 Mar: 1 Mar has left the window.
    with write_connection(db_path) as con:
        upsert_rows(con, "costs", [cost(date(2026, 3, 2) + timedelta(days=i), s, a)
                                   for i in range(7) for s, a in (("S3", 100), ("EC2", 200))])
    later = run_check(db_path, config, now=datetime(2026, 3, 9, 8, 0))
    assert later.resolved == ["cost_anomaly:service:S3"] and later.firing == []
    assert events() == [("firing", "cost_anomaly:service:S3"), ("resolved", "cost_anomaly:service:S3")]


@pytest.mark.parametrize("budget, expected", [
    # 1-10 Mar at $100 a day: spent $1,000. Ten days are too few to forecast (14 needed), so the
    # month end is projected at the run rate: 1000 / 10 × 31 = $3,100.
    (900, "The organisation is over its March 2026 budget: $1,000 spent of $900"),
    (3000, "The organisation is forecast over its March 2026 budget: $3,100 projected of $3,000"),
    (4000, None),
])
def test_cost_budget_actual_and_forecast(db_path, hook, budget, expected):
    with write_connection(db_path) as con:
        upsert_rows(con, "costs", [cost(date(2026, 3, 1) + timedelta(days=i), "EC2", 100) for i in range(10)])
    report = run_check(db_path, cfg({"rule": "cost_budget", "monthly_usd": budget}),
                       now=datetime(2026, 3, 11, 8, 0), dry_run=True)
    assert [a.title for a in report.firing] == ([expected] if expected else [])
    if expected:
        assert report.firing[0].key == "cost_budget:all:2026-03"


def test_cost_budget_of_one_team(db_path, hook):
    with write_connection(db_path) as con:
        # payments (tag "payments") $60 a day, the rest $40 a day, 1-10 Mar: payments spent $600.
        upsert_rows(con, "costs", [cost(date(2026, 3, 1) + timedelta(days=i), "EC2", 60, "payments") for i in range(10)]
                    + [cost(date(2026, 3, 1) + timedelta(days=i), "S3", 40) for i in range(10)])
    teams = {"payments": {"cost_tags": ["payments"]}}
    report = run_check(db_path, cfg({"rule": "cost_budget", "monthly_usd": 500, "team": "payments"}, teams=teams),
                       now=datetime(2026, 3, 11, 8, 0), dry_run=True)
    assert [a.title for a in report.firing] == ["Team payments is over its March 2026 budget: $600 spent of $500"]


# -- dora_regression -----------------------------------------------------------------------------

def daily_deploys(first: date, days: int, per_week: int, prefix: str) -> list[dict]:
    """``per_week`` deployments in each week from ``first`` (a Monday), at noon on its first days."""
    return [dep(f"{prefix}{first}-{i}", f"{first + timedelta(days=i)}T12:00")
            for i in range(days) if i % 7 < per_week]


def test_dora_regression_needs_every_one_of_n_weeks_worse_and_resolves(db_path, hook):
    _, events = hook
    teams = {"payments": {"repos": ["shop/api"], "services": ["api"]}}
    config = cfg({"rule": "dora_regression", "weeks": 2, "baseline_weeks": 12}, teams=teams)
    base_monday = date(2025, 12, 1)                        # 12 weeks: 1 Dec 2025 - 22 Feb 2026
    with write_connection(db_path) as con:
        # Baseline: 7 deployments every week = 1.0 a day -> elite (>= 1 a day, 2024 table).
        upsert_rows(con, "deployments", daily_deploys(base_monday, 84, 7, "b"))
        # Week of 23 Feb: 2 deployments = 0.29 a day -> high (>= 1/7); week of 2 Mar: 7 -> elite.
        upsert_rows(con, "deployments", daily_deploys(date(2026, 2, 23), 7, 2, "w1")
                    + daily_deploys(date(2026, 3, 2), 7, 7, "w2"))
    # At Mon 9 Mar the last two complete weeks are 23 Feb (high) and 2 Mar (elite): not both worse.
    assert run_check(db_path, config, now=datetime(2026, 3, 9, 9, 0), dry_run=True).firing == []
    with write_connection(db_path) as con:
        con.execute("DELETE FROM deployments WHERE id LIKE 'w2%'")
        upsert_rows(con, "deployments", daily_deploys(date(2026, 3, 2), 7, 2, "w2"))
    # Now both weeks hold 2 deployments (high) against the baseline's elite: fires. Baseline of the
    # check at 9 Mar: the 12 weeks 1 Dec - 22 Feb.
    report = run_check(db_path, config, now=datetime(2026, 3, 9, 9, 0))
    key = "dora_regression:team:payments:deployment_frequency"
    assert [a.key for a in report.firing] == [key]
    assert report.firing[0].title == "Team payments: deployment frequency below its usual band (elite) for 2 weeks"
    assert "23 Feb high, 02 Mar high" in report.firing[0].detail
    with write_connection(db_path) as con:
        upsert_rows(con, "deployments", daily_deploys(date(2026, 3, 9), 7, 7, "w3"))
    # A week later the weeks judged are 2 Mar (high) and 9 Mar (elite): resolved.
    later = run_check(db_path, config, now=datetime(2026, 3, 16, 9, 0))
    assert later.resolved == [key]
    assert events() == [("firing", key), ("resolved", key)]


# -- slo_burn ------------------------------------------------------------------------------------

def test_slo_burn_fires_on_fast_burn(db_path, hook):
    _, events = hook
    end = datetime(2026, 3, 2, 0, 0)
    first = end - timedelta(days=7)
    # 168 hours of 1000 events; 100 bad in each of the 5 hours before the last, 150 in the last.
    # Budget 1 % of 168,000 = 1,680 bad; 650 bad: not exhausted. 1 h burn = 15 % / 1 % = 15 > 14.4;
    # 6 h burn = 650 / 6,000 = 10.8 % / 1 % = 10.8 > 6: fast-burn.
    rows = [{"slo": "api-availability", "hour": first + timedelta(hours=h), "total": 1000,
             "good": 1000 - (150 if h == 167 else 100 if h >= 162 else 0)} for h in range(168)]
    with write_connection(db_path) as con:
        upsert_rows(con, "sli_hours", rows)
    slos = [{"name": "api-availability", "service": "api", "objective": 99.0, "window_days": 7}]
    report = run_check(db_path, cfg({"rule": "slo_burn"}, slos=slos), now=end + timedelta(minutes=10))
    assert [a.title for a in report.firing] == ["SLO api-availability (api): fast-burn"]
    assert events() == [("firing", "slo_burn:api-availability")]
    # Only exhausted budgets asked for: a fast burn does not fire.
    quiet = run_check(db_path, cfg({"rule": "slo_burn", "statuses": ["exhausted"]}, slos=slos),
                      now=end + timedelta(minutes=10), dry_run=True)
    assert quiet.firing == []


# -- default_branch_red --------------------------------------------------------------------------

def run(id, repo, branch, conclusion, finished, workflow="ci"):
    t = datetime.fromisoformat(finished)
    return {"id": id, "attempt": 1, "repo": repo, "workflow": workflow, "branch": branch, "sha": "abc",
            "event": "push", "status": "completed", "conclusion": conclusion, "queued_at": t - timedelta(minutes=9),
            "started_at": t - timedelta(minutes=8), "finished_at": t, "url": f"https://ci.example.com/{id}"}


def test_default_branch_red_longer_than_n_hours(db_path, hook):
    _, events = hook
    with write_connection(db_path) as con:
        # CI pipelines' table (migration 007), written through the writers' upsert.
        upsert_rows(con, "pipeline_runs", [
            run("1", "shop/api", "main", "success", "2026-03-02T08:00"),
            run("2", "shop/api", "main", "failure", "2026-03-02T09:00"),     # red since 09:00
            run("3", "shop/api", "main", "cancelled", "2026-03-02T10:00"),   # tells nothing
            run("4", "shop/api", "main", "failure", "2026-03-02T11:00"),
            run("5", "shop/api", "feature/x", "failure", "2026-03-02T07:00"),  # not a default branch
            run("6", "shop/web", "main", "failure", "2026-03-02T12:30"),     # red, but only 1.5 h at 14:00
        ])
    config = cfg({"rule": "default_branch_red", "hours": 4})
    assert run_check(db_path, config, now=datetime(2026, 3, 2, 12, 0), dry_run=True).firing == []   # 3 h red
    report = run_check(db_path, config, now=datetime(2026, 3, 2, 14, 0))                            # 5 h red
    key = "default_branch_red:shop/api:main:ci"
    assert [a.key for a in report.firing] == [key]
    assert report.firing[0].title == "shop/api main is red: ci failing for 5.0 h"
    with write_connection(db_path) as con:
        upsert_rows(con, "pipeline_runs", [run("7", "shop/api", "main", "success", "2026-03-02T14:30")])
    assert run_check(db_path, config, now=datetime(2026, 3, 2, 15, 0)).resolved == [key]
    assert events() == [("firing", key), ("resolved", key)]


def test_default_branch_red_without_ci_data_is_a_note_not_an_error(db_path, hook):
    report = run_check(db_path, cfg({"rule": "default_branch_red", "hours": 4}), now=datetime(2026, 3, 2, 14, 0))
    assert report.firing == [] and report.notes == [
        "default_branch_red: no CI data (no pipeline runs yet; sync GitHub Actions or GitLab, or "
        "`cadence ingest pipeline_runs`, first)"]


# -- failures, quiet hours, several channels -----------------------------------------------------

def test_a_failed_alert_send_keeps_its_state_and_goes_out_at_the_next_check(db_path, hook, http_receiver):
    path, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
    config = cfg({"rule": "stale_source", "hours": 26})
    key = "stale_source:github:acme/api"
    http_receiver.break_path(path)
    try:
        down = run_check(db_path, config, now=datetime(2026, 3, 2, 3, 0))
    finally:
        http_receiver.break_path(path, False)
    assert [(o.status, o.attempts) for o in down.outcomes] == [("failed", 3)] and down.started == [key]
    assert alert_row(db_path, key)[0][0] == "firing"
    with read_connection(db_path) as con:
        assert con.execute("SELECT status, attempts FROM notify_deliveries").fetchall() == [("failed", 3)]
    up = run_check(db_path, config, now=datetime(2026, 3, 2, 3, 5))
    assert up.started == [] and [(o.status, o.subject) for o in up.outcomes] == [("sent", f"alert {key} firing")]
    assert run_check(db_path, config, now=datetime(2026, 3, 2, 3, 10)).outcomes == []
    assert [e for e in events()] == [("firing", key)] * 4     # 3 failed attempts, then the one that landed
    # Resolved while the resolution cannot be delivered: retried later, and once delivered never again.
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c2", now=datetime(2026, 3, 2, 4, 0))
    http_receiver.fail(path, 500, 500, 500)
    assert [o.status for o in run_check(db_path, config, now=datetime(2026, 3, 2, 4, 5)).outcomes] == ["failed"]
    assert [o.status for o in run_check(db_path, config, now=datetime(2026, 3, 2, 4, 10)).outcomes] == ["sent"]
    assert run_check(db_path, config, now=datetime(2026, 3, 2, 4, 15)).outcomes == []
    assert events()[-1] == ("resolved", key) and events().count(("resolved", key)) == 4


def test_an_alert_that_resolves_before_any_channel_heard_of_it_is_not_announced(db_path, hook, http_receiver):
    path, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
    config = cfg({"rule": "stale_source", "hours": 26})
    http_receiver.break_path(path)
    try:
        run_check(db_path, config, now=datetime(2026, 3, 2, 3, 0))
    finally:
        http_receiver.break_path(path, False)
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c2", now=datetime(2026, 3, 2, 4, 0))
    report = run_check(db_path, config, now=datetime(2026, 3, 2, 4, 5))
    assert report.resolved == ["stale_source:github:acme/api"] and report.outcomes == []
    assert run_check(db_path, config, now=datetime(2026, 3, 2, 4, 10)).outcomes == []


def test_quiet_hours_defer_an_alert_until_they_end(db_path, hook):
    _, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
    channels = {"ops": {"kind": "webhook", "url_env": "OPS_ALERT_WEBHOOK", "quiet_hours": "22:00-07:00",
                        "timezone": "Europe/Berlin"}}
    config = cfg({"rule": "stale_source", "hours": 26}, channels=channels)
    # 05:00 UTC is 06:00 in Berlin (UTC+1 in March before the switch): quiet.
    night = run_check(db_path, config, now=datetime(2026, 3, 2, 5, 0))
    assert [o.status for o in night.outcomes] == ["deferred"] and events() == []
    with read_connection(db_path) as con:     # held back, not logged as a delivery
        assert con.execute("SELECT count(*) FROM notify_deliveries").fetchall() == [(0,)]
    # 06:30 UTC is 07:30 in Berlin: sent.
    morning = run_check(db_path, config, now=datetime(2026, 3, 2, 6, 30))
    assert [o.status for o in morning.outcomes] == ["sent"] and events() == [("firing", "stale_source:github:acme/api")]


def test_cli_check_runs_and_a_rerun_sends_nothing(db_path, hook, tmp_path, monkeypatch, capsys):
    from cadence.cli import main

    _, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
    toml = tmp_path / "cadence.toml"
    toml.write_text('[notify.channels.ops]\nkind = "webhook"\nurl_env = "OPS_ALERT_WEBHOOK"\n\n'
                    '[[notify.alerts]]\nrule = "stale_source"\nhours = 26\nchannels = ["ops"]\n', encoding="utf-8")
    monkeypatch.setenv("CADENCE_NOW", "2026-03-02T03:00:00Z")
    args = ["--db", str(db_path), "--config", str(toml), "notify", "check"]
    assert main([*args, "--dry-run"]) == 0
    assert "[FIRING] Source github (acme/api) not synced for 27.0 h" in capsys.readouterr().out and events() == []
    assert main(args) == 0
    assert "sent alert stale_source:github:acme/api firing to ops (webhook)" in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 alert(s) firing; 0 started, 0 resolved." in out and "sent" not in out
    assert events() == [("firing", "stale_source:github:acme/api")]
    assert main(["--db", str(db_path), "--config", str(toml), "notify", "status"]) == 0
    assert "stale_source:github:acme/api" in capsys.readouterr().out


def test_the_scheduler_entry_points(db_path, hook):
    from cadence.notify.service import scheduled_check, scheduled_digest

    _, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
    config = cfg({"rule": "stale_source", "hours": 26})
    assert scheduled_check(db_path, config_with({}), now=datetime(2026, 3, 2, 3, 0)) is None
    assert scheduled_check(db_path, config, now=datetime(2026, 3, 2, 3, 0)).started == ["stale_source:github:acme/api"]
    assert events() == [("firing", "stale_source:github:acme/api")]
    digest_config = config_with({"channels": {"ops": {"kind": "webhook", "url_env": "OPS_ALERT_WEBHOOK"}},
                                 "digest": {"channels": ["ops"]}})
    # Monday 2 Mar 2026: the last complete ISO week is 2026-W09 (23 Feb - 1 Mar).
    (outcome,) = scheduled_digest(db_path, digest_config, now=datetime(2026, 3, 2, 7, 0))
    assert (outcome.status, outcome.subject) == ("sent", "digest 2026-W09 by team")


def test_a_rule_that_cannot_be_evaluated_leaves_its_alerts_as_they_were(db_path, hook, monkeypatch):
    from cadence.core.errors import WarehouseError
    from cadence.notify import alerts

    _, events = hook
    with write_connection(db_path) as con:
        write_cursor(con, "github", "acme/api", "c1", now=datetime(2026, 3, 1, 0, 0))
    config = cfg({"rule": "stale_source", "hours": 26})
    run_check(db_path, config, now=datetime(2026, 3, 2, 3, 0))

    def broken(*args):
        raise WarehouseError("sync_state could not be read")
    monkeypatch.setitem(alerts.RULES, "stale_source", broken)
    report = run_check(db_path, config, now=datetime(2026, 3, 2, 3, 5))
    assert report.resolved == [] and report.failed_rules == {"stale_source"}
    assert report.notes == ["stale_source: could not be evaluated (WarehouseError: sync_state could not be read); "
                            "its alerts are left as they were"]
    assert alert_row(db_path, "stale_source:github:acme/api")[0][0] == "firing"
    assert events() == [("firing", "stale_source:github:acme/api")]       # no false "resolved"
