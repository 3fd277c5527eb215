"""``[notify]`` in cadence.toml: a valid section parses with its defaults; each mistake is one
line naming the file, the key and what to do, and never repeats a secret."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pytest

from cadence.core.config import load_config, parse_config
from cadence.core.errors import ConfigError
from cadence.core.scrub import scrub

GOOD = """
[teams.payments]
services = ["api"]
cost_tags = ["payments"]
notify = ["payments-slack"]

[notify.channels.eng-leads]
kind = "slack"
webhook_url_env = "SLACK_WEBHOOK_ENG_LEADS"
[notify.channels.payments-slack]
kind = "slack"
webhook_url_env = "SLACK_WEBHOOK_PAYMENTS"
quiet_hours = "22:00-07:00"
timezone = "Europe/Berlin"
[notify.channels.finance]
kind = "email"
to = ["finops@example.com"]
[notify.channels.ops]
kind = "webhook"
url_env = "OPS_ALERT_WEBHOOK"
[notify.channels.msteams]
kind = "teams"
webhook_url_env = "TEAMS_WEBHOOK"

[notify.digest]
channels = ["eng-leads"]

[[notify.alerts]]
rule = "cost_anomaly"
min_impact_usd = 100
channels = ["ops", "finance"]

[[notify.alerts]]
rule = "stale_source"
hours = 26
channels = ["ops"]

[[notify.alerts]]
rule = "cost_budget"
monthly_usd = 8000
team = "payments"
channels = ["finance"]

[[notify.alerts]]
rule = "dora_regression"
channels = ["eng-leads"]

[[notify.alerts]]
rule = "slo_burn"
channels = ["ops"]

[[notify.alerts]]
rule = "default_branch_red"
hours = 2
channels = ["msteams"]
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "cadence.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_the_issue_example_parses_with_defaults(tmp_path):
    config = _load(tmp_path, GOOD)
    n = config.notify
    assert sorted(n.channels) == ["eng-leads", "finance", "msteams", "ops", "payments-slack"]
    assert n.channels["finance"].to == ("finops@example.com",) and n.channels["ops"].url_env == "OPS_ALERT_WEBHOOK"
    assert n.digest_channels == ("eng-leads",) and n.digest_by == "team"
    assert config.teams["payments"].notify == ("payments-slack",)
    assert [r.rule for r in n.alerts] == ["cost_anomaly", "stale_source", "cost_budget", "dora_regression",
                                          "slo_burn", "default_branch_red"]
    assert n.alerts[0].params == {"min_impact_usd": 100.0, "by": "service", "direction": "up"}
    assert n.alerts[3].params == {"weeks": 2, "baseline_weeks": 12, "by": "team"}
    assert n.alerts[4].params == {"statuses": ("fast-burn", "exhausted")}
    assert n.alerts[5].params == {"hours": 2.0, "branches": ("main", "master")}
    assert (n.retries, n.retry_wait_seconds) == (3, 2.0)
    quiet = n.channels["payments-slack"]
    assert (quiet.quiet_start, quiet.quiet_end) == (time(22), time(7))
    # 21:30 UTC is 22:30 in Berlin in winter (quiet); 06:30 UTC is 07:30 (not quiet).
    assert quiet.in_quiet_hours(datetime(2026, 1, 5, 21, 30)) and not quiet.in_quiet_hours(datetime(2026, 1, 5, 6, 30))


def test_the_channel_variables_are_secrets_once_the_config_is_read(tmp_path, monkeypatch):
    monkeypatch.setenv("OPS_ALERT_WEBHOOK", "https://hooks.example.com/T1/B1/0psCanarySecretPath")
    _load(tmp_path, GOOD)
    assert scrub("posting to https://hooks.example.com/T1/B1/0psCanarySecretPath failed") == \
        "posting to [redacted] failed"


@pytest.mark.parametrize("snippet, message", [
    ('[notify.channels.x]\nkind = "pager"\nurl_env = "X"\n', "notify.channels.x.kind: must be one of slack, teams, email, webhook"),
    ('[notify.channels.x]\nkind = "slack"\n', "notify.channels.x: a slack channel needs webhook_url_env"),
    ('[notify.channels.x]\nkind = "slack"\nurl = "https://hooks.slack.com/services/T/B/C"\n',
     "notify.channels.x.url: unknown key; expected kind, quiet_hours, timezone, to, url_env, webhook_url_env; "
     "secrets do not belong in the config file"),
    ('[notify.channels.x]\nkind = "email"\nto = ["not an address"]\n', "notify.channels.x.to: must be a list of e-mail addresses"),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\nquiet_hours = "late"\n',
     'notify.channels.x.quiet_hours: must be "HH:MM-HH:MM"'),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\ntimezone = "Mars/Olympus"\n',
     "notify.channels.x.timezone: unknown time zone 'Mars/Olympus'"),
    ('[notify.digest]\nchannels = ["nope"]\n', 'notify.digest.channels: unknown channel "nope"; known channels: none configured'),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\n[[notify.alerts]]\nrule = "cost_spike"\nchannels = ["x"]\n',
     "notify.alerts[0].rule: must be one of cost_anomaly, cost_budget"),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\n[[notify.alerts]]\nrule = "cost_budget"\nchannels = ["x"]\n',
     "notify.alerts[0].monthly_usd: missing: rule cost_budget needs monthly_usd"),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\n[[notify.alerts]]\nrule = "stale_source"\nhours = -1\nchannels = ["x"]\n',
     "notify.alerts[0].hours: must be at least 0"),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\n[[notify.alerts]]\nrule = "stale_source"\nchannels = ["y"]\n',
     'notify.alerts[0].channels: unknown channel "y"; known channels: x'),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\n[[notify.alerts]]\nrule = "stale_source"\nchannels = ["x"]\ndays = 2\n',
     "notify.alerts[0].days: unknown key for rule stale_source"),
    ('[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "X"\n[[notify.alerts]]\nrule = "cost_budget"\nmonthly_usd = 5\nteam = "ghost"\nchannels = ["x"]\n',
     'notify.alerts[0].team: unknown team "ghost"'),
    ('[teams.a]\nrepos = ["r"]\nnotify = ["missing"]\n', "teams.a.notify: names channels but there is no [notify.channels] section"),
    ('[notify]\nsend = true\n', "notify.send: unknown key"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path, snippet, message):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, snippet)
    text = str(info.value)
    assert text.startswith(str(tmp_path / "cadence.toml") + ": ") and message in text and "\n" not in text


def test_a_url_pasted_as_the_variable_name_is_not_repeated(tmp_path):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, '[notify.channels.x]\nkind = "slack"\nwebhook_url_env = "https://hooks.slack.com/services/T9/B9/pastedSecret1"\n')
    assert "pastedSecret1" not in str(info.value) and "never the URL itself" in str(info.value)


def test_no_notify_section_means_none():
    assert parse_config({}).notify is None
