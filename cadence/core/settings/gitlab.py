"""``[sources.gitlab]`` validated: where GitLab is, which projects, and per-project choices.

The names mirror ``[sources.github]`` (docs/sources.md#github) wherever the idea is the same:
``include``/``exclude``, ``incident_label``, ``service_label_prefix``, ``severity_label_prefix``,
``max_rate_limit_wait``, ``parallelism``, ``since``, and per project ``service``, ``deployments``
(where deployments come from) and ``environments``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError

DEFAULT_BASE_URL = "https://gitlab.com"
SIGNALS = ("auto", "environments", "releases")
CONFIG_KEYS = {"base_url", "projects", "groups", "include_subgroups", "include", "exclude", "deployments",
               "environments", "environment", "incident_label", "service_label_prefix",
               "severity_label_prefix", "max_rate_limit_wait", "parallelism", "since", "project"}
PROJECT_KEYS = {"deployments", "environments", "environment", "service"}
# GitLab paths: a namespace (group, subgroups or user) and the project, joined by "/".
PROJECT_PATH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$")
GROUP_PATH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$")


@dataclass(frozen=True)
class ProjectSettings:
    """Per-project choices (``[sources.gitlab.project."GROUP/NAME"]``)."""

    deployments: str = "auto"              # auto | environments | releases
    environments: tuple[str, ...] = ()     # production environments of this project (else the global rule)
    environment: str | None = None         # the environment name recorded for releases
    service: str | None = None             # default: the project's path ("app" for "group/app")


@dataclass(frozen=True)
class GitLabSettings:
    """``[sources.gitlab]`` validated."""

    base_url: str = DEFAULT_BASE_URL
    projects: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    include_subgroups: bool = True
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    incident_label: str | None = None      # issues with this label count as incidents too
    service_label_prefix: str = "service:"
    severity_label_prefix: str = "severity:"
    max_rate_limit_wait: float = 300.0
    parallelism: int = 4
    since: datetime | None = None
    defaults: ProjectSettings = field(default_factory=ProjectSettings)
    per_project: dict[str, ProjectSettings] = field(default_factory=dict)

    def for_project(self, path: str) -> ProjectSettings:
        return self.per_project.get(path.lower(), self.defaults)

    def selected(self, paths: Iterable[str]) -> list[str]:
        """``paths`` kept by the include/exclude patterns (fnmatch on the full path, case-insensitive)."""
        out = []
        for p in paths:
            low = p.lower()
            if self.include and not any(fnmatch.fnmatchcase(low, pat.lower()) for pat in self.include):
                continue
            if any(fnmatch.fnmatchcase(low, pat.lower()) for pat in self.exclude):
                continue
            out.append(p)
        return out


def parse_settings(raw: dict[str, Any], path: Path | None = None) -> GitLabSettings:
    """Validate the raw ``[sources.gitlab]`` table; a fault raises ConfigError naming the file and key."""
    where = f"{path}: sources.gitlab" if path else "sources.gitlab"

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}.{key}: {problem}")

    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    unknown = sorted(set(raw) - CONFIG_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key; expected one of {', '.join(sorted(CONFIG_KEYS))}")

    def strings(key: str, value) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail(key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(v.strip().strip("/") for v in value)

    def text(key: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail(key, "must be a non-empty string")
        return value.strip()

    def number(key: str, value, lo, hi, kind=float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise fail(key, f"must be a number from {lo} to {hi}, got {value!r}")
        return kind(value)

    def project_settings(prefix: str, body, base: ProjectSettings) -> ProjectSettings:
        def key(k):
            return f"{prefix}.{k}" if prefix else k

        if not isinstance(body, dict):
            raise fail(prefix, "must be a table")
        kw = dict(base.__dict__)
        if "deployments" in body:
            if body["deployments"] not in SIGNALS:
                raise fail(key("deployments"), f"must be one of {', '.join(SIGNALS)}, got {body['deployments']!r}")
            kw["deployments"] = body["deployments"]
        for k in ("environment", "service"):
            if k in body:
                kw[k] = text(key(k), body[k])
        if "environments" in body:
            kw["environments"] = tuple(e.lower() for e in strings(key("environments"), body["environments"]))
        return ProjectSettings(**kw)

    kw: dict[str, Any] = {}
    if "base_url" in raw:
        url = raw["base_url"]
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url):
            raise fail("base_url", 'must be an http(s) URL such as "https://gitlab.example.com", '
                                   f"got {url!r}")
        url = url.rstrip("/")
        if url.endswith("/api/v4"):
            raise fail("base_url", f'is the instance URL without /api/v4: "{url[:-len("/api/v4")]}"')
        kw["base_url"] = url
    for key, pattern, what in (("projects", PROJECT_PATH, "GROUP/PROJECT (the path in the project's URL)"),
                               ("groups", GROUP_PATH, 'a group path such as "shop" or "shop/backend"')):
        if key in raw:
            kw[key] = strings(key, raw[key])
            wrong = [v for v in kw[key] if not pattern.match(v)]
            if wrong:
                raise fail(key, f'"{wrong[0]}" is not {what}')
    if "include_subgroups" in raw:
        if not isinstance(raw["include_subgroups"], bool):
            raise fail("include_subgroups", f"must be true or false, got {raw['include_subgroups']!r}")
        kw["include_subgroups"] = raw["include_subgroups"]
    for k in ("include", "exclude"):
        if k in raw:
            kw[k] = strings(k, raw[k])
    for k in ("incident_label", "service_label_prefix", "severity_label_prefix"):
        if k in raw:
            kw[k] = text(k, raw[k])
    if "max_rate_limit_wait" in raw:
        kw["max_rate_limit_wait"] = number("max_rate_limit_wait", raw["max_rate_limit_wait"], 0, 86400)
    if "parallelism" in raw:
        kw["parallelism"] = number("parallelism", raw["parallelism"], 1, 16, int)
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
    top = {k: raw[k] for k in ("deployments", "environments", "environment") if k in raw}
    defaults = project_settings("", top, ProjectSettings()) if top else ProjectSettings()
    tables = raw.get("project", {})
    if not isinstance(tables, dict):
        raise fail("project", 'must be a table of [sources.gitlab.project."GROUP/PROJECT"] sections')
    per_project = {}
    for name, body in tables.items():
        if not PROJECT_PATH.match(name):
            raise fail(f'project."{name}"', "section name must be GROUP/PROJECT")
        bad = sorted(set(body) - PROJECT_KEYS) if isinstance(body, dict) else []
        if bad:
            raise fail(f'project."{name}".{bad[0]}', f"unknown key; expected one of {', '.join(sorted(PROJECT_KEYS))}")
        per_project[name.lower()] = project_settings(f'project."{name}"', body, defaults)
    return GitLabSettings(defaults=defaults, per_project=per_project, **kw)
