"""``[sources.github]`` validated: what to read and how, per repository."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cadence.core.config import Config
from cadence.core.errors import ConfigError
from collectors.github_client import TOKEN_ENV

DEFAULT_BASE_URL = "https://api.github.com"
SIGNALS = ("auto", "environments", "workflow", "releases")
CONFIG_KEYS = {"base_url", "repos", "org", "include", "exclude", "deployments", "workflow",
               "environments", "incident_label", "service_label_prefix", "severity_label_prefix",
               "max_rate_limit_wait", "parallelism", "since", "repo", "app_installation_id",
               "min_request_interval", "token_env", "actions"}
REPO_KEYS = {"deployments", "workflow", "environments", "environment", "service"}
REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class RepoSettings:
    """Per-repository choices (``[sources.github.repo."OWNER/NAME"]``)."""

    deployments: str = "auto"
    workflow: str | None = None
    environments: tuple[str, ...] = ()
    environment: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class GitHubSettings:
    """``[sources.github]`` validated."""

    base_url: str = DEFAULT_BASE_URL
    repos: tuple[str, ...] = ()
    org: str | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    incident_label: str = "incident"
    service_label_prefix: str = "service:"
    severity_label_prefix: str = "severity:"
    max_rate_limit_wait: float = 300.0
    parallelism: int = 4
    since: datetime | None = None
    app_installation_id: int | None = None
    min_request_interval: float = 0.25
    token_env: str = TOKEN_ENV            # the variable holding the token (never the token itself)
    actions: bool = True                  # GitHub Actions runs and jobs (collectors/github/actions.py)
    defaults: RepoSettings = field(default_factory=RepoSettings)
    per_repo: dict[str, RepoSettings] = field(default_factory=dict)

    def for_repo(self, name: str) -> RepoSettings:
        return self.per_repo.get(name.lower(), self.defaults)

    def selected(self, names: Iterable[str]) -> list[str]:
        """``names`` kept by the include/exclude patterns (fnmatch, case-insensitive)."""
        out = []
        for n in names:
            low = n.lower()
            if self.include and not any(fnmatch.fnmatchcase(low, p.lower()) for p in self.include):
                continue
            if any(fnmatch.fnmatchcase(low, p.lower()) for p in self.exclude):
                continue
            out.append(n)
        return out

    @classmethod
    def from_config(cls, config: Config) -> GitHubSettings:
        raw = config.source("github")
        where = f"{config.path}: sources.github" if config.path else "sources.github"

        def fail(key, problem):
            return ConfigError(f"{where}.{key}: {problem}")

        unknown = sorted(set(raw) - CONFIG_KEYS)
        if unknown:
            raise fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(CONFIG_KEYS))}")

        def strings(key, value):
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
                raise fail(key, f"must be a list of non-empty strings, got {value!r}")
            return tuple(v.strip() for v in value)

        def number(key, value, lo, hi, kind=float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
                raise fail(key, f"must be a number from {lo} to {hi}, got {value!r}")
            return kind(value)

        def repo_settings(prefix, body, base: RepoSettings) -> RepoSettings:
            def key(k):
                return f"{prefix}.{k}" if prefix else k

            if not isinstance(body, dict):
                raise fail(prefix, "must be a table")
            kw = dict(base.__dict__)
            if "deployments" in body:
                if body["deployments"] not in SIGNALS:
                    raise fail(key("deployments"), f"must be one of {', '.join(SIGNALS)}, got {body['deployments']!r}")
                kw["deployments"] = body["deployments"]
            for k in ("workflow", "environment", "service"):
                if k in body:
                    if not isinstance(body[k], str) or not body[k].strip():
                        raise fail(key(k), "must be a non-empty string")
                    kw[k] = body[k].strip()
            if "environments" in body:
                kw["environments"] = strings(key("environments"), body["environments"])
            if kw["deployments"] == "workflow" and not kw.get("workflow"):
                raise fail(key("workflow"), 'deployments = "workflow" needs the workflow\'s file name '
                                            '(e.g. "deploy.yml") or name')
            return RepoSettings(**kw)

        kw: dict[str, Any] = {}
        if "base_url" in raw:
            url = raw["base_url"]
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
                raise fail("base_url", f'must be an http(s) URL such as "https://github.example.com/api/v3", got {url!r}')
            kw["base_url"] = url.rstrip("/")
        if "repos" in raw:
            repos = strings("repos", raw["repos"])
            for r in repos:
                if not REPO_NAME.match(r):
                    raise fail("repos", f'"{r}" is not OWNER/NAME')
            kw["repos"] = repos
        if "org" in raw:
            if not isinstance(raw["org"], str) or not re.match(r"^[A-Za-z0-9_.-]+$", raw["org"]):
                raise fail("org", f"must be an organisation login, got {raw['org']!r}")
            kw["org"] = raw["org"]
        for key in ("include", "exclude"):
            if key in raw:
                kw[key] = strings(key, raw[key])
        for key in ("incident_label", "service_label_prefix", "severity_label_prefix"):
            if key in raw:
                if not isinstance(raw[key], str) or not raw[key].strip():
                    raise fail(key, "must be a non-empty string")
                kw[key] = raw[key].strip()
        if "max_rate_limit_wait" in raw:
            kw["max_rate_limit_wait"] = number("max_rate_limit_wait", raw["max_rate_limit_wait"], 0, 86400)
        if "min_request_interval" in raw:
            kw["min_request_interval"] = number("min_request_interval", raw["min_request_interval"], 0, 10)
        if "token_env" in raw:   # checked (and registered as a secret) by cadence.core.config
            kw["token_env"] = str(raw["token_env"])
        if "parallelism" in raw:
            kw["parallelism"] = number("parallelism", raw["parallelism"], 1, 16, int)
        if "app_installation_id" in raw:
            kw["app_installation_id"] = number("app_installation_id", raw["app_installation_id"], 1, 10**12, int)
        if "actions" in raw:
            if not isinstance(raw["actions"], bool):
                raise fail("actions", f"must be true or false, got {raw['actions']!r}")
            kw["actions"] = raw["actions"]
        if "since" in raw:
            value = raw["since"]
            if isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError as exc:
                    raise fail("since", f"must be a date YYYY-MM-DD, got {value!r}") from exc
            if isinstance(value, datetime):
                value = value.date()
            if not isinstance(value, date):
                raise fail("since", f"must be a date YYYY-MM-DD, got {value!r}")
            kw["since"] = datetime(value.year, value.month, value.day)
        defaults = repo_settings("", {k: raw[k] for k in ("deployments", "workflow", "environments")
                                      if k in raw}, RepoSettings()) if any(
            k in raw for k in ("deployments", "workflow", "environments")) else RepoSettings()
        per_repo = {}
        repo_tables = raw.get("repo", {})
        if not isinstance(repo_tables, dict):
            raise fail("repo", 'must be a table of [sources.github.repo."OWNER/NAME"] sections')
        for name, body in repo_tables.items():
            if not REPO_NAME.match(name):
                raise fail(f"repo.{name}", "section name must be OWNER/NAME")
            bad = sorted(set(body) - REPO_KEYS) if isinstance(body, dict) else []
            if bad:
                raise fail(f'repo."{name}".{bad[0]}', f"unknown key; expected one of {', '.join(sorted(REPO_KEYS))}")
            per_repo[name.lower()] = repo_settings(f'repo."{name}"', body, defaults)
        kw["defaults"] = defaults
        kw["per_repo"] = per_repo
        settings = cls(**kw)
        return settings
