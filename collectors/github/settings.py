"""``[sources.github]`` validated: what to read and how, per repository."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cadence.core.config import Config
from cadence.core.settings.checks import SectionChecks, Selecting
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
class GitHubSettings(Selecting):
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

    @classmethod
    def from_config(cls, config: Config) -> GitHubSettings:
        raw = config.source("github")
        where = f"{config.path}: sources.github" if config.path else "sources.github"
        checks = SectionChecks(where)
        fail = checks.fail
        checks.known(raw, CONFIG_KEYS)

        def repo_settings(prefix, body, base: RepoSettings) -> RepoSettings:
            kw = checks.scope(prefix, body, base, SIGNALS, ("workflow", "environment", "service"))
            if kw["deployments"] == "workflow" and not kw.get("workflow"):
                raise fail(f"{prefix}.workflow" if prefix else "workflow",
                           'deployments = "workflow" needs the workflow\'s file name (e.g. "deploy.yml") or name')
            return RepoSettings(**kw)

        kw: dict[str, Any] = {}
        if "base_url" in raw:
            url = raw["base_url"]
            if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
                raise fail("base_url", f'must be an http(s) URL such as "https://github.example.com/api/v3", got {url!r}')
            kw["base_url"] = url.rstrip("/")
        if "repos" in raw:
            repos = checks.strings("repos", raw["repos"])
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
                kw[key] = checks.strings(key, raw[key])
        checks.forge_labels(raw, kw)
        if "min_request_interval" in raw:
            kw["min_request_interval"] = checks.number("min_request_interval", raw["min_request_interval"], 0, 10)
        if "token_env" in raw:   # checked (and registered as a secret) by cadence.core.config
            kw["token_env"] = str(raw["token_env"])
        if "parallelism" in raw:
            kw["parallelism"] = checks.number("parallelism", raw["parallelism"], 1, 16, int)
        if "app_installation_id" in raw:
            kw["app_installation_id"] = checks.number("app_installation_id", raw["app_installation_id"], 1, 10**12, int)
        if "actions" in raw:
            kw["actions"] = checks.flag("actions", raw["actions"])
        if "since" in raw:
            kw["since"] = checks.since("since", raw["since"])
        defaults = repo_settings("", {k: raw[k] for k in ("deployments", "workflow", "environments")
                                      if k in raw}, RepoSettings()) if any(
            k in raw for k in ("deployments", "workflow", "environments")) else RepoSettings()
        per_repo = checks.sections(raw, "repo", REPO_NAME, "OWNER/NAME", REPO_KEYS,
                                   lambda prefix, body: repo_settings(prefix, body, defaults))
        kw["defaults"] = defaults
        kw["per_repo"] = per_repo
        settings = cls(**kw)
        return settings
