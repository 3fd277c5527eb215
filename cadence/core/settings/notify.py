"""``[notify]`` in cadence.toml: channels, the digest's routing and the alert rules.

```toml
[notify]
retries = 3                 # attempts per delivery (default 3)
retry_wait_seconds = 2      # first back-off wait, doubled per attempt (default 2)

[notify.channels.eng-leads]
kind = "slack"                                # slack | teams | email | webhook
webhook_url_env = "SLACK_WEBHOOK_ENG_LEADS"   # the NAME of the variable holding the URL
quiet_hours = "22:00-07:00"                   # optional: alerts wait until it ends
timezone = "Europe/Berlin"                    # of quiet_hours (default UTC)

[notify.digest]
channels = ["eng-leads"]
by = "team"                                   # team | org

[[notify.alerts]]
rule = "stale_source"
hours = 26
channels = ["eng-leads"]
```

A team's own channels: ``[teams.payments] notify = ["payments-slack"]`` (checked here too).
Secrets never live in the file: a channel names the environment variable that holds its URL, and
that variable's value is registered with ``cadence.core.scrub`` as soon as the config is read, so it
never reaches a log line, an error, the warehouse or a page. This module imports nothing of
Cadence but errors and scrub (``cadence.core.config`` imports it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cadence.core.errors import ConfigError, NotifyError
from cadence.core.scrub import register_secret_env

CHANNEL_KINDS = ("slack", "teams", "email", "webhook")
URL_KINDS = ("slack", "teams", "webhook")
SIGNING_KEY_ENV = "CADENCE_NOTIFY_SIGNING_KEY"
PUBLIC_URL_ENV = "CADENCE_PUBLIC_URL"
SMTP_ENV = ("CADENCE_SMTP_HOST", "CADENCE_SMTP_PORT", "CADENCE_SMTP_FROM", "CADENCE_SMTP_STARTTLS",
            "CADENCE_SMTP_USER", "CADENCE_SMTP_PASSWORD")
SMTP_PASSWORD_ENV = "CADENCE_SMTP_PASSWORD"
# Every secret of this feature is one cadence.core.scrub removes wherever it appears.
register_secret_env(SIGNING_KEY_ENV, SMTP_PASSWORD_ENV)

ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
QUIET = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")
NOTIFY_KEYS = {"channels", "digest", "alerts", "retries", "retry_wait_seconds"}
CHANNEL_KEYS = {"kind", "webhook_url_env", "url_env", "to", "quiet_hours", "timezone"}
DIGEST_KEYS = {"channels", "by"}
DIGEST_BY = ("team", "org")
COMMON_RULE_KEYS = {"rule", "channels"}
# rule -> {parameter: (default, check)}; a default of None means required.
RULES: dict[str, dict[str, Any]] = {
    "cost_anomaly": {"min_impact_usd": 0.0, "by": "service", "direction": "up"},
    "cost_budget": {"monthly_usd": None, "team": ""},
    "dora_regression": {"weeks": 2, "baseline_weeks": 12, "by": "team"},
    "stale_source": {"hours": 26.0},
    "slo_burn": {"statuses": ("fast-burn", "exhausted")},
    "default_branch_red": {"hours": 4.0, "branches": ("main", "master")},
}
ANOMALY_BY = ("service", "team", "account", "provider", "region", "category")
DIRECTIONS = ("up", "down", "any")
SLO_ALERT_STATUSES = ("exhausted", "fast-burn", "slow-burn", "no-data")


@dataclass(frozen=True)
class Channel:
    """One destination. ``url()`` reads its secret URL from the environment when it is sent to."""

    name: str
    kind: str
    url_env: str | None = None
    to: tuple[str, ...] = ()
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = "UTC"

    def url(self) -> str:
        value = os.environ.get(self.url_env or "", "").strip()
        if not value:
            raise NotifyError(f'channel "{self.name}": the variable {self.url_env} is not set; set it to the '
                              f"{self.kind} webhook URL in the environment of the process that sends.")
        if not value.startswith(("https://", "http://")):
            raise NotifyError(f'channel "{self.name}": {self.url_env} does not hold an http(s) URL; set it to the '
                              f"{self.kind} webhook URL (its value is not shown).")
        return value

    def in_quiet_hours(self, now_utc) -> bool:
        """True when ``now_utc`` (naive UTC) falls in this channel's quiet hours (local time)."""
        if self.quiet_start is None or self.quiet_end is None:
            return False
        from datetime import UTC

        local = now_utc.replace(tzinfo=UTC).astimezone(ZoneInfo(self.timezone)).time()
        if self.quiet_start <= self.quiet_end:
            return self.quiet_start <= local < self.quiet_end
        return local >= self.quiet_start or local < self.quiet_end   # across midnight


@dataclass(frozen=True)
class AlertRule:
    """One ``[[notify.alerts]]`` entry: the rule, its parameters (defaults filled in), its channels."""

    rule: str
    channels: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)
    index: int = 0

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class NotifySettings:
    channels: dict[str, Channel] = field(default_factory=dict)
    digest_channels: tuple[str, ...] = ()
    digest_by: str = "team"
    alerts: tuple[AlertRule, ...] = ()
    retries: int = 3
    retry_wait_seconds: float = 2.0

    def channel(self, name: str) -> Channel:
        if name not in self.channels:
            known = ", ".join(sorted(self.channels)) or "none configured"
            raise ConfigError(f'Unknown notification channel "{name}"; known channels: {known} '
                              f"([notify.channels.NAME] in cadence.toml).")
        return self.channels[name]


def _fail(path: Path | None, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path or 'configuration'}: {key}: {problem}")


def _names(path, key, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, key, "must be a non-empty list of channel names")
    return tuple(v.strip() for v in value)


def _number(path, key, value, *, minimum: float = 0.0, whole: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not isinstance(value, int)):
        kind = "a whole number" if whole else "a number"
        raise _fail(path, key, f"must be {kind}, got {value!r}"[:200])
    if value < minimum or value != value:
        raise _fail(path, key, f"must be at least {minimum:g}, got {value!r}")
    return value


def _env_name(path, key, value) -> str:
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise _fail(path, key, "must be the NAME of an environment variable in capitals, such as "
                               "SLACK_WEBHOOK_ENG_LEADS (never the URL itself; the value given is not repeated here)")
    register_secret_env(value)
    return value


def _channel(path, name: str, body: Any) -> Channel:
    key = f"notify.channels.{name}"
    if not isinstance(body, dict):
        raise _fail(path, key, "must be a table with kind and its settings")
    bad = sorted(set(body) - CHANNEL_KEYS)
    if bad:
        hint = ("; secrets do not belong in the config file: name the variable that holds it "
                "(webhook_url_env / url_env)") if bad[0] in ("url", "webhook_url", "password") else ""
        raise _fail(path, f"{key}.{bad[0]}", f"unknown key; expected {', '.join(sorted(CHANNEL_KEYS))}{hint}")
    kind = body.get("kind")
    if kind not in CHANNEL_KINDS:
        raise _fail(path, f"{key}.kind", f"must be one of {', '.join(CHANNEL_KINDS)}, got {kind!r}"[:200])
    args: dict[str, Any] = {"name": name, "kind": kind}
    if kind in URL_KINDS:
        given = [k for k in ("webhook_url_env", "url_env") if k in body]
        if len(given) != 1:
            raise _fail(path, key, f"a {kind} channel needs webhook_url_env (or url_env): the name of the "
                                   "environment variable holding its URL")
        args["url_env"] = _env_name(path, f"{key}.{given[0]}", body[given[0]])
        if "to" in body:
            raise _fail(path, f"{key}.to", "only e-mail channels have recipients")
    else:
        to = body.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to or not all(isinstance(a, str) and EMAIL.match(a.strip()) for a in to):
            raise _fail(path, f"{key}.to", "must be a list of e-mail addresses, e.g. [\"finops@example.com\"]")
        args["to"] = tuple(a.strip() for a in to)
        if "webhook_url_env" in body or "url_env" in body:
            raise _fail(path, key, "an e-mail channel has no URL; SMTP settings come from CADENCE_SMTP_* variables")
    if "timezone" in body:
        tz = body["timezone"]
        try:
            ZoneInfo(str(tz))
        except (ZoneInfoNotFoundError, ValueError):
            raise _fail(path, f"{key}.timezone", f"unknown time zone {tz!r}; use an IANA name such as "
                                                 "\"Europe/Berlin\" or \"UTC\"") from None
        args["timezone"] = str(tz)
    if "quiet_hours" in body:
        m = QUIET.match(str(body["quiet_hours"]))
        if not m or not isinstance(body["quiet_hours"], str):
            raise _fail(path, f"{key}.quiet_hours", 'must be "HH:MM-HH:MM" in the channel\'s timezone, '
                                                    'e.g. "22:00-07:00"')
        args["quiet_start"] = time(int(m.group(1)), int(m.group(2)))
        args["quiet_end"] = time(int(m.group(3)), int(m.group(4)))
        if args["quiet_start"] == args["quiet_end"]:
            raise _fail(path, f"{key}.quiet_hours", "starts and ends at the same time; give a real span or remove it")
    return Channel(**args)


def _rule(path, index: int, body: Any, channels: dict[str, Channel]) -> AlertRule:
    key = f"notify.alerts[{index}]"
    if not isinstance(body, dict):
        raise _fail(path, key, "must be a table: [[notify.alerts]] with rule and channels")
    name = body.get("rule")
    if name not in RULES:
        raise _fail(path, f"{key}.rule", f"must be one of {', '.join(RULES)}, got {name!r}"[:200])
    spec = RULES[name]
    bad = sorted(set(body) - COMMON_RULE_KEYS - set(spec))
    if bad:
        raise _fail(path, f"{key}.{bad[0]}", f"unknown key for rule {name}; expected "
                                             f"{', '.join(sorted(COMMON_RULE_KEYS | set(spec)))}")
    if "channels" not in body:
        raise _fail(path, f"{key}.channels", "missing: list the channels this alert goes to")
    names = _names(path, f"{key}.channels", body["channels"])
    _known(path, f"{key}.channels", names, channels)
    params: dict[str, Any] = {}
    for param, default in spec.items():
        value = body.get(param, default)
        where = f"{key}.{param}"
        if value is None:
            raise _fail(path, where, f"missing: rule {name} needs {param}")
        if param in ("min_impact_usd", "hours", "monthly_usd"):
            value = float(_number(path, where, value, minimum=0.0))
            if param != "min_impact_usd" and value <= 0:
                raise _fail(path, where, "must be more than 0")
        elif param in ("weeks", "baseline_weeks"):
            value = int(_number(path, where, value, minimum=1, whole=True))
        elif param == "by":
            choices = ANOMALY_BY if name == "cost_anomaly" else DIGEST_BY
            if value not in choices:
                raise _fail(path, where, f"must be one of {', '.join(choices)}, got {value!r}"[:200])
        elif param == "direction":
            if value not in DIRECTIONS:
                raise _fail(path, where, f"must be one of {', '.join(DIRECTIONS)}, got {value!r}"[:200])
        elif param == "team":
            if not isinstance(value, str):
                raise _fail(path, where, "must be a team name (leave it out for the whole organisation)")
        elif param in ("statuses", "branches"):
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise _fail(path, where, "must be a non-empty list of strings")
            if param == "statuses" and any(v not in SLO_ALERT_STATUSES for v in value):
                raise _fail(path, where, f"each must be one of {', '.join(SLO_ALERT_STATUSES)}")
            value = tuple(value)
        params[param] = value
    return AlertRule(rule=name, channels=names, params=params, index=index)


def _known(path, key: str, names, channels: dict[str, Channel]) -> None:
    for n in names:
        if n not in channels:
            known = ", ".join(sorted(channels)) or "none configured"
            raise _fail(path, key, f'unknown channel "{n}"; known channels: {known} (define it as '
                                   f"[notify.channels.{n}])")


def parse_notify(data: Any, path: Path | None = None, teams: dict | None = None,
                 team_channels: dict[str, tuple[str, ...]] | None = None) -> NotifySettings | None:
    """Validate ``[notify]`` (None when absent) and the teams' ``notify`` channel lists."""
    team_channels = team_channels or {}
    if data is None:
        for team, names in team_channels.items():
            if names:
                raise _fail(path, f"teams.{team}.notify", "names channels but there is no [notify.channels] section")
        return None
    if not isinstance(data, dict):
        raise _fail(path, "notify", "must be a table: [notify] with channels, digest and alerts")
    bad = sorted(set(data) - NOTIFY_KEYS)
    if bad:
        raise _fail(path, f"notify.{bad[0]}", f"unknown key; expected {', '.join(sorted(NOTIFY_KEYS))}")
    raw_channels = data.get("channels", {})
    if not isinstance(raw_channels, dict):
        raise _fail(path, "notify.channels", "must be a table of [notify.channels.NAME] sections")
    channels = {name: _channel(path, name, body) for name, body in raw_channels.items()}
    kwargs: dict[str, Any] = {"channels": channels}
    digest = data.get("digest", {})
    if not isinstance(digest, dict):
        raise _fail(path, "notify.digest", "must be a table with channels")
    bad = sorted(set(digest) - DIGEST_KEYS)
    if bad:
        raise _fail(path, f"notify.digest.{bad[0]}", f"unknown key; expected {', '.join(sorted(DIGEST_KEYS))}")
    if "channels" in digest:
        kwargs["digest_channels"] = _names(path, "notify.digest.channels", digest["channels"])
        _known(path, "notify.digest.channels", kwargs["digest_channels"], channels)
    if "by" in digest:
        if digest["by"] not in DIGEST_BY:
            raise _fail(path, "notify.digest.by", f"must be team or org, got {digest['by']!r}"[:200])
        kwargs["digest_by"] = digest["by"]
    alerts = data.get("alerts", [])
    if not isinstance(alerts, list):
        raise _fail(path, "notify.alerts", "must be an array of tables: [[notify.alerts]]")
    kwargs["alerts"] = tuple(_rule(path, i, body, channels) for i, body in enumerate(alerts))
    if "retries" in data:
        kwargs["retries"] = int(_number(path, "notify.retries", data["retries"], minimum=1, whole=True))
    if "retry_wait_seconds" in data:
        kwargs["retry_wait_seconds"] = float(_number(path, "notify.retry_wait_seconds", data["retry_wait_seconds"]))
    for team, names in team_channels.items():
        _known(path, f"teams.{team}.notify", names, channels)
    for rule in kwargs["alerts"]:
        if rule.rule == "cost_budget" and rule["team"] and teams is not None and rule["team"] not in teams:
            known = ", ".join(sorted(teams)) or "none configured"
            raise _fail(path, f"notify.alerts[{rule.index}].team", f'unknown team "{rule["team"]}"; known teams: {known}')
    return NotifySettings(**kwargs)
