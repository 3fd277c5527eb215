"""Secrets never leave: webhook URLs, the SMTP password and the signing key appear in no output, log
line, warehouse byte or page. Data health lists deliveries and failures; every link opens the view
it names; CADENCE_PUBLIC_URL alone (the links' base) does not turn sign-in on."""

from __future__ import annotations

import logging
import socket
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from cadence.dashboard import ui
from cadence.auth.oidc import read_oidc_env, sign_in_configured
from cadence.core.settings.auth import AuthConfigError
from cadence.cli import main
from cadence.notify.links import dashboard_url
from tests.support.apptest_support import dashboard_env, open_app, texts
from tests.notify.conftest import DEMO_WEEK

pytestmark = pytest.mark.xdist_group("dashboard")

SLACK_PATH = "/services/T0CANARY/B0CANARY/Sl4ckCanaryPath0123456789"
HOOK_PATH = "/hooks/Hook0CanaryPath0123456789abc"
PASSWORD = "Smtp0Canary0Password9"
SIGNING = "Sign1ngCanaryKey0123456789"


def _config(tmp_path: Path, address: str) -> Path:
    path = tmp_path / "cadence.toml"
    path.write_text(f"""
[notify]
retries = 2
retry_wait_seconds = 0.01
[notify.channels.leads]
kind = "slack"
webhook_url_env = "SLACK_WEBHOOK_CANARY"
[notify.channels.ops]
kind = "webhook"
url_env = "OPS_WEBHOOK_CANARY"
[notify.channels.finance]
kind = "email"
to = ["{address}"]
[notify.digest]
channels = ["leads", "ops", "finance"]
[[notify.alerts]]
rule = "stale_source"
hours = 26
channels = ["leads", "ops", "finance"]
""", encoding="utf-8")
    return path


def test_secrets_never_reach_output_logs_the_warehouse_or_pages(demo_db, http_receiver, smtp_sink, smtp_env,
                                                                 monkeypatch, tmp_path, capsys, caplog):
    address = f"{tmp_path.name}@example.com"
    slack_url = http_receiver.base + SLACK_PATH + tmp_path.name[-4:]
    http_receiver.break_path(urlsplit(slack_url).path)           # Slack answers 503: errors get recorded
    with socket.socket() as s:                                     # the webhook: nothing listens there
        s.bind(("127.0.0.1", 0))
        hook_url = f"http://127.0.0.1:{s.getsockname()[1]}{HOOK_PATH}"
        monkeypatch.setenv("SLACK_WEBHOOK_CANARY", slack_url)
        monkeypatch.setenv("OPS_WEBHOOK_CANARY", hook_url)
        monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING)
        monkeypatch.setenv("CADENCE_SMTP_USER", "cadence")
        monkeypatch.setenv("CADENCE_SMTP_PASSWORD", PASSWORD)
        monkeypatch.setenv("CADENCE_NOW", "2026-11-17T09:00:00Z")   # the demo's sync is 33 h old: stale
        smtp_sink.credentials = ("cadence", PASSWORD)
        caplog.set_level(logging.DEBUG)
        try:
            config = str(_config(tmp_path, address))
            base = ["-vv", "--db", str(demo_db), "--config", config, "notify"]
            assert main([*base, "digest", "--week", DEMO_WEEK]) == 1          # two of three channels fail
            assert main([*base, "check"]) == 1
            assert main([*base, "test", "--channel", "ops"]) == 1
            assert main([*base, "status"]) == 0
        finally:
            smtp_sink.credentials = None
            http_receiver.break_path(urlsplit(slack_url).path, False)
    out = capsys.readouterr()
    # the e-mails went through, logged in with the password
    mails = [m for m in smtp_sink.messages if address in m[1]]
    assert len(mails) == 2 and all(m[3] for m in mails)
    assert "FAILED digest 2026-W46 by team to leads (slack): channel \"leads\" (slack): Slack answered HTTP 503" in out.err
    assert "The webhook could not be reached (ConnectionError)" in out.err

    canaries = [slack_url, hook_url, SLACK_PATH, HOOK_PATH, "Sl4ckCanaryPath", "Hook0CanaryPath", PASSWORD, SIGNING]
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for text, where in ((out.out, "stdout"), (out.err, "stderr"), (logged, "log")):
        for canary in canaries:
            assert canary not in text, (canary, where)
    stored = demo_db.read_bytes() + (Path(f"{demo_db}.wal").read_bytes() if Path(f"{demo_db}.wal").exists() else b"")
    assert b"Slack answered HTTP 503" in stored                # the failures are in the warehouse...
    for canary in canaries:
        assert canary.encode() not in stored, canary           # ...and none of the secrets

    with dashboard_env(demo_db, today=date(2026, 11, 20)):
        at = open_app("data_health")
    assert not at.exception
    page = texts(at) + "\n".join(df.value.to_csv() for df in at.dataframe)
    assert "Notifications" in page and "leads (slack)" in page and "failed after 2 attempt(s)" in page
    assert "cadence notify test --channel leads" in page
    for canary in canaries:
        assert canary not in page, canary


def test_data_health_says_how_to_start_when_nothing_was_sent(demo_db):
    with dashboard_env(demo_db, today=date(2026, 11, 20)):
        at = open_app("data_health")
    assert not at.exception
    assert "No digest or alert has been sent from this warehouse" in texts(at)


def test_every_link_opens_the_view_it_names(demo_db):
    link = dashboard_url("delivery", start=date(2026, 11, 9), end=date(2026, 11, 15), team="checkout")
    assert link.startswith("https://cadence.example.com/delivery?")
    query = {k: (v if len(v) > 1 else v[0]) for k, v in parse_qs(urlsplit(link).query).items()}
    with dashboard_env(demo_db, today=date(2026, 11, 20)):
        at = open_app("delivery", query=query)
    f = at.session_state[ui.KEY_FILTERS]
    assert (f.start, f.end, f.team) == (date(2026, 11, 9), date(2026, 11, 15), "checkout")
    assert at.title[0].value == "Delivery"


def test_public_url_alone_does_not_turn_sign_in_on(monkeypatch):
    env = {"CADENCE_PUBLIC_URL": "https://cadence.example.com"}
    assert read_oidc_env(env) is None and not sign_in_configured(env)
    # Any sign-in variable does, and then the public URL is required as before.
    assert sign_in_configured({"CADENCE_OIDC_ISSUER": "https://idp.example.com"})
    with pytest.raises(AuthConfigError, match="CADENCE_PUBLIC_URL"):
        read_oidc_env({"CADENCE_OIDC_ISSUER": "https://idp.example.com", "CADENCE_OIDC_CLIENT_ID": "c",
                       "CADENCE_OIDC_CLIENT_SECRET": "s" * 10, "CADENCE_COOKIE_SECRET": "k" * 40})


def test_the_dashboard_stays_open_with_only_the_public_url_set(demo_db, monkeypatch):
    monkeypatch.setenv("CADENCE_PUBLIC_URL", "https://cadence.example.com")
    with dashboard_env(demo_db, today=date(2026, 11, 20)):
        at = open_app()
    assert not at.exception and at.title[0].value == "Overview"
