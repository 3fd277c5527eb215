"""The digest delivered to every channel kind over real protocols on 127.0.0.1: Slack and Teams
incoming webhooks and a signed webhook (a local HTTP server that checks the payload shapes), and
e-mail to a real SMTP server (aiosmtpd) whose MIME parts and CSV attachments are parsed."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest

from warehouse.meta import effective_config
from cadence.notify.service import run_digest, run_test
from metrics.export import CHANGE_NAMES, METRICS_COLUMNS, build_export
from tests.notify.conftest import DEMO_WEEK, SIGNING_KEY
from tests.notify.helpers import (SLACK_SCHEMA, TEAMS_SCHEMA, WEBHOOK_SCHEMA, channels_doc, check_signature,
                                  config_with, validate)
from warehouse import read_connection

NOW = datetime(2026, 11, 16, 9, 0)
TEAMS = ["catalog", "checkout", "data", "fulfilment", "growth", "platform"]


def _deliveries(db):
    with read_connection(db) as con:
        return con.execute("SELECT kind, subject, channel, channel_kind, status, attempts, error "
                           "FROM notify_deliveries ORDER BY channel").fetchall()


@pytest.fixture
def everywhere(demo_db, http_receiver, smtp_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING_KEY)
    notify, paths = channels_doc(tmp_path.name, monkeypatch, http_receiver, to=f"{tmp_path.name}@example.com")
    notify["digest"] = {"channels": sorted(notify["channels"])}
    config = effective_config(config_with(notify), demo_db)
    return demo_db, config, paths, f"{tmp_path.name}@example.com"


def test_digest_reaches_every_channel_kind_in_its_format(everywhere, http_receiver, smtp_sink):
    db, config, paths, address = everywhere
    outcomes = run_digest(db, config, DEMO_WEEK, now=NOW)
    assert sorted((o.channel, o.status, o.attempts) for o in outcomes) == [
        ("email-ch", "sent", 1), ("slack-ch", "sent", 1), ("teams-ch", "sent", 1), ("webhook-ch", "sent", 1)]

    (slack,) = http_receiver.to(paths["slack-ch"])
    body = json.loads(slack.body)
    validate(body, SLACK_SCHEMA)
    sections = [b["text"]["text"] for b in body["blocks"] if b["type"] == "section"]
    assert [s.split("\n")[0] for s in sections[:6]] == [f"*Team {t}*" for t in TEAMS]
    assert "Deployment frequency" in sections[0] and "vs 4-week average" in sections[0]
    assert body["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": f"Cadence weekly digest {DEMO_WEEK}"}}
    assert {b["accessory"]["url"] for b in body["blocks"][2:14:2]} == {
        f"https://cadence.example.com/?range=Custom+dates&dates=2026-11-09&dates=2026-11-15&team={t}" for t in TEAMS}

    (teams,) = http_receiver.to(paths["teams-ch"])
    card = json.loads(teams.body)
    validate(card, TEAMS_SCHEMA)
    texts = [b.get("text") for b in card["attachments"][0]["content"]["body"]]
    assert "Team checkout" in texts and "Data freshness" in texts

    (hook,) = http_receiver.to(paths["webhook-ch"])
    payload = json.loads(hook.body)
    validate(payload, WEBHOOK_SCHEMA)
    check_signature(hook.body, hook.headers["X-Cadence-Signature"], SIGNING_KEY)
    assert hook.headers["X-Cadence-Event"] == "digest" and len(hook.headers["X-Cadence-Delivery"]) == 32
    assert payload["week"] == DEMO_WEEK and [s["scope"] for s in payload["scopes"]] == TEAMS

    (mail,) = smtp_sink.to(address)
    assert mail["Subject"] == f"Cadence weekly digest {DEMO_WEEK} (09 Nov – 15 Nov 2026), every team"
    assert mail["From"] == "cadence@example.com" and mail["To"] == address
    plain = mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")  # SMTP lines end CRLF
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert plain == payload["text"]        # one rendering: the e-mail's text is the webhook's "text"
    assert "<h3>checkout</h3>" not in html and "<h3>Team checkout</h3>" in html
    attachments = {p.get_filename(): p.get_content() for p in mail.iter_attachments()}
    assert sorted(attachments) == [f"cadence-changes-{DEMO_WEEK}.csv", f"cadence-metrics-{DEMO_WEEK}.csv"]
    with read_connection(db) as con:
        export = build_export(con, config, DEMO_WEEK, by="team")
    for table, name in (("metrics", "cadence-metrics"), ("changes", "cadence-changes")):
        data = attachments[f"{name}-{DEMO_WEEK}.csv"]
        data = data.encode() if isinstance(data, str) else data
        assert data == export.payloads[table]          # byte for byte what `cadence export` writes
    rows = list(csv.DictReader(io.StringIO(export.payloads["metrics"].decode())))
    assert list(rows[0]) == [c.name for c in METRICS_COLUMNS] and {r["scope"] for r in rows} >= set(TEAMS)
    assert list(csv.reader(io.StringIO(attachments[f"cadence-changes-{DEMO_WEEK}.csv"]
                                       if isinstance(attachments[f"cadence-changes-{DEMO_WEEK}.csv"], str)
                                       else attachments[f"cadence-changes-{DEMO_WEEK}.csv"].decode())))[0] == CHANGE_NAMES

    assert [(c, k, s, a) for _, _, c, k, s, a, _ in _deliveries(db)] == [
        ("email-ch", "email", "sent", 1), ("slack-ch", "slack", "sent", 1), ("teams-ch", "teams", "sent", 1),
        ("webhook-ch", "webhook", "sent", 1)]


def test_a_teams_own_channel_gets_only_its_team(demo_db, http_receiver, monkeypatch, tmp_path):
    notify, paths = channels_doc(tmp_path.name, monkeypatch, http_receiver, kinds=("slack", "webhook"))
    notify["digest"] = {"channels": ["webhook-ch"]}
    monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING_KEY)
    config = config_with(notify, teams={"checkout": {"services": ["cart"], "notify": ["slack-ch"]},
                                        "growth": {"services": ["storefront"]}})
    outcomes = run_digest(demo_db, config, DEMO_WEEK, now=NOW)
    assert sorted((o.channel, o.subject) for o in outcomes) == [
        ("slack-ch", f"digest {DEMO_WEEK} team checkout"), ("webhook-ch", f"digest {DEMO_WEEK} by team")]
    (team_msg,) = http_receiver.to(paths["slack-ch"])
    sections = [b["text"]["text"] for b in json.loads(team_msg.body)["blocks"] if b["type"] == "section"]
    assert sections[0].startswith("*Team checkout*") and not any(s.startswith("*Team growth*") for s in sections)
    (whole,) = http_receiver.to(paths["webhook-ch"])
    assert [s["scope"] for s in json.loads(whole.body)["scopes"]] == ["checkout", "growth", "(no team)"]
    # --channel picks one destination with its own routing
    only = run_digest(demo_db, config, DEMO_WEEK, channel="slack-ch", now=NOW)
    assert [(o.channel, o.subject) for o in only] == [("slack-ch", f"digest {DEMO_WEEK} team checkout")]


def test_a_failing_channel_is_retried_with_backoff_and_then_recorded(demo_db, http_receiver, monkeypatch, tmp_path):
    notify, paths = channels_doc(tmp_path.name, monkeypatch, http_receiver, kinds=("slack", "teams"))
    notify["digest"] = {"channels": ["slack-ch", "teams-ch"]}
    notify["retries"] = 3
    config = config_with(notify)
    http_receiver.fail(paths["slack-ch"], 500, 429)      # two failures, then 200
    http_receiver.break_path(paths["teams-ch"])          # 503 for ever
    outcomes = {o.channel: o for o in run_digest(demo_db, config, DEMO_WEEK, by="org", now=NOW)}
    assert (outcomes["slack-ch"].status, outcomes["slack-ch"].attempts) == ("sent", 3)
    assert len(http_receiver.to(paths["slack-ch"])) == 3
    assert (outcomes["teams-ch"].status, outcomes["teams-ch"].attempts) == ("failed", 3)
    assert len(http_receiver.to(paths["teams-ch"])) == 3
    assert "Teams answered HTTP 503: service_unavailable; gave up after 3 attempts" in outcomes["teams-ch"].error
    rows = {r[2]: r for r in _deliveries(demo_db)}
    assert rows["teams-ch"][4:6] == ("failed", 3) and "HTTP 503" in rows["teams-ch"][6]
    assert rows["slack-ch"][4:6] == ("sent", 3)


def test_an_unreachable_channel_and_a_refusing_smtp_server_fail_cleanly(demo_db, smtp_sink, smtp_env, monkeypatch,
                                                                       tmp_path):
    import socket

    with socket.socket() as s:           # a port nothing listens on: bound, never listening
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        monkeypatch.setenv("NOTIFY_DEAD_URL", f"http://127.0.0.1:{dead}/services/T1/B1/deadbeefdeadbeef")
        address = f"{tmp_path.name}-refused@example.com"
        smtp_sink.refuse(address, 10)
        config = config_with({"retries": 2, "channels": {
            "dead": {"kind": "slack", "webhook_url_env": "NOTIFY_DEAD_URL"},
            "mail": {"kind": "email", "to": [address]}}, "digest": {"channels": ["dead", "mail"]}})
        outcomes = {o.channel: o for o in run_digest(demo_db, config, DEMO_WEEK, by="org", now=NOW)}
    assert (outcomes["dead"].status, outcomes["dead"].attempts) == ("failed", 2)
    assert "Slack could not be reached" in outcomes["dead"].error and "deadbeef" not in outcomes["dead"].error
    assert (outcomes["mail"].status, outcomes["mail"].attempts) == ("failed", 2)
    assert "refused" in outcomes["mail"].error and "550" in outcomes["mail"].error


def test_channel_not_set_up_fails_at_once_with_what_to_do(demo_db, monkeypatch):
    config = config_with({"channels": {"hook": {"kind": "webhook", "url_env": "NOTIFY_UNSET_URL"}},
                          "digest": {"channels": ["hook"]}})
    (outcome,) = run_digest(demo_db, config, DEMO_WEEK, by="org", now=NOW)
    assert outcome.status == "failed" and outcome.attempts == 0
    assert "CADENCE_NOTIFY_SIGNING_KEY is not set" in outcome.error
    monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING_KEY)
    (outcome,) = run_digest(demo_db, config, DEMO_WEEK, by="org", now=NOW)
    assert outcome.status == "failed" and outcome.attempts == 0
    assert 'channel "hook": the variable NOTIFY_UNSET_URL is not set' in outcome.error


def test_test_message_to_each_kind(demo_db, http_receiver, smtp_sink, smtp_env, monkeypatch, tmp_path):
    monkeypatch.setenv("CADENCE_NOTIFY_SIGNING_KEY", SIGNING_KEY)
    notify, paths = channels_doc(tmp_path.name, monkeypatch, http_receiver, to=f"{tmp_path.name}-t@example.com")
    config = config_with(notify)
    for name in sorted(notify["channels"]):
        assert run_test(demo_db, config, name, now=NOW).status == "sent", name
    (hook,) = http_receiver.to(paths["webhook-ch"])
    validate(json.loads(hook.body), WEBHOOK_SCHEMA)
    validate(json.loads(http_receiver.to(paths["slack-ch"])[0].body), SLACK_SCHEMA)
    validate(json.loads(http_receiver.to(paths["teams-ch"])[0].body), TEAMS_SCHEMA)
    assert smtp_sink.to(f"{tmp_path.name}-t@example.com")[0]["Subject"] == "[Cadence] test message"


def test_a_teams_email_carries_only_its_teams_rows(demo_db, smtp_sink, smtp_env, tmp_path):
    address = f"{tmp_path.name}-team@example.com"
    config = effective_config(config_with({"channels": {"mail": {"kind": "email", "to": [address]}}}), demo_db)
    teams = {name: team for name, team in config.teams.items()}
    teams["checkout"] = type(teams["checkout"])(**{**teams["checkout"].__dict__, "notify": ("mail",)})
    config = type(config)(**{**config.__dict__, "teams": teams})
    (outcome,) = run_digest(demo_db, config, DEMO_WEEK, now=NOW)
    assert (outcome.status, outcome.subject) == ("sent", f"digest {DEMO_WEEK} team checkout")
    (mail,) = smtp_sink.to(address)
    assert mail["Subject"].endswith("team checkout")
    for part in mail.iter_attachments():
        content = part.get_content()
        rows = list(csv.DictReader(io.StringIO(content if isinstance(content, str) else content.decode())))
        assert rows and {r["scope"] for r in rows} == {"checkout"}, part.get_filename()
