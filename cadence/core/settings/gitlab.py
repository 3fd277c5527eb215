"""``[sources.gitlab]`` validated: where GitLab is, which projects, and per-project choices.

The names mirror ``[sources.github]`` (docs/sources.md#github) wherever the idea is the same:
``include``/``exclude``, ``incident_label``, ``service_label_prefix``, ``severity_label_prefix``,
``max_rate_limit_wait``, ``parallelism``, ``since``, and per project ``service``, ``deployments``
(where deployments come from) and ``environments``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError
from cadence.core.settings.checks import SectionChecks, Selecting

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
class GitLabSettings(Selecting):
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


def parse_settings(raw: dict[str, Any], path: Path | None = None) -> GitLabSettings:
    """Validate the raw ``[sources.gitlab]`` table; a fault raises ConfigError naming the file and key."""
    where = f"{path}: sources.gitlab" if path else "sources.gitlab"
    checks = SectionChecks(where)
    fail = checks.fail
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    checks.known(raw, CONFIG_KEYS)

    def project_settings(prefix: str, body, base: ProjectSettings) -> ProjectSettings:
        return ProjectSettings(**checks.scope(prefix, body, base, SIGNALS, ("environment", "service"),
                                              lower_environments=True, trim="/"))

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
            kw[key] = checks.strings(key, raw[key], trim="/")
            wrong = [v for v in kw[key] if not pattern.match(v)]
            if wrong:
                raise fail(key, f'"{wrong[0]}" is not {what}')
    if "include_subgroups" in raw:
        kw["include_subgroups"] = checks.flag("include_subgroups", raw["include_subgroups"])
    for k in ("include", "exclude"):
        if k in raw:
            kw[k] = checks.strings(k, raw[k], trim="/")
    checks.forge_labels(raw, kw)
    if "parallelism" in raw:
        kw["parallelism"] = checks.number("parallelism", raw["parallelism"], 1, 16, int)
    if "since" in raw:
        kw["since"] = checks.since("since", raw["since"])
    top = {k: raw[k] for k in ("deployments", "environments", "environment") if k in raw}
    defaults = project_settings("", top, ProjectSettings()) if top else ProjectSettings()
    per_project = checks.sections(raw, "project", PROJECT_PATH, "GROUP/PROJECT", PROJECT_KEYS,
                                  lambda prefix, body: project_settings(prefix, body, defaults))
    return GitLabSettings(defaults=defaults, per_project=per_project, **kw)
