"""``cadence.toml``: teams, production environments, attribution window, rework labels, sources.

Teams are configuration, not data: each maps repos, services and cost-allocation tag values to a
team. A wrong file fails at start with one line naming the file, the key and what is wrong.
Secrets never live here: tokens come from the environment (see ``secret``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError
from cadence.core.scrub import SECRET_ENV, register_secret_env  # noqa: F401 (SECRET_ENV: the list of secrets)
from cadence.core.settings import aws_exports, gitlab
from cadence.core.settings.auth import AuthSettings, parse_auth
from cadence.core.settings.capacity import ReviewSettings, parse_review
from cadence.core.settings.notify import NotifySettings, parse_notify
from cadence.core.settings.pipelines import parse_pipelines
from cadence.core.settings.schedule import Schedule, parse_schedule
from cadence.core.settings.slos import SLO, parse_slos

DEFAULT_CONFIG_FILE = "cadence.toml"
DEFAULT_DB = Path("data") / "cadence.duckdb"
DEMO_DB = Path("data") / "demo.duckdb"
DEFAULT_PRODUCTION = ("production", "prod", "live")
DEFAULT_REWORK_LABELS = ("hotfix", "revert", "rollback")
KNOWN_SOURCES = ("github", "pagerduty", "aws", "webhook", "export", "prometheus", "gitlab", "cost_exports",
                 "aws_exports")
# Sources whose token variable `token_env` can rename (their default: GITHUB_TOKEN, PAGERDUTY_TOKEN).
TOKEN_ENV_SOURCES = ("github", "pagerduty")
# A variable's name, in capitals as by convention: a token pasted into token_env by mistake (mixed
# case, or with + - /) is refused without being repeated.
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
TOP_LEVEL_KEYS = {"database", "production_environments", "attribution_window_days",
                  "rework_labels", "teams", "sources", "cost_allocation", "benchmark", "slos",
                  "auth", "investment", "exclude_authors", "capacity", "notify",
                  "pipelines", "schedule"}
TEAM_KEYS = {"repos", "services", "cost_tags", "accounts", "notify"}
BENCHMARKS = ("2021", "2023", "2024")
COST_ALLOCATION_KEYS = {"accounts", "services", "shared_split", "shared_tags"}
SHARED_SPLITS = ("none", "even", "proportional")
# The scope of activity (deployments, changes, incidents) whose repo and service no team owns: every
# by-team output reports it under this name instead of dropping it. Cost has its own names
# (cadence.core.allocation: "unallocated", "shared"). Reserved: no [teams.NAME] may use it.
NO_TEAM = "(no team)"
# No setting nests deeper than a few levels; tomllib itself recurses once per level and would end in
# a RecursionError near 500, so a file nested deeper than this is refused before it is parsed.
MAX_NESTING = 100
SHOWN_VALUE_CHARS = 80


@dataclass(frozen=True)
class Team:
    name: str
    repos: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    cost_tags: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()   # the team's own digest channels ([notify.channels.NAME])


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    database: Path | None = None
    production_environments: tuple[str, ...] = DEFAULT_PRODUCTION
    attribution_window_days: int = 7
    rework_labels: tuple[str, ...] = DEFAULT_REWORK_LABELS
    benchmark: str = "2024"
    teams: dict[str, Team] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    cost_allocation: dict[str, Any] = field(default_factory=dict)
    slos: tuple[SLO, ...] = ()
    auth: AuthSettings | None = None  # [auth]: who may enter a signed-in dashboard (cadence.auth)
    # [investment], exclude_authors, [capacity]: the capacity review (cadence/core/settings/capacity.py)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    notify: NotifySettings | None = None  # [notify]: digest and alert channels (cadence.notify)
    pipelines: Any = None  # [pipelines]: cadence.core.settings.pipelines.PipelineSettings (None: the defaults)
    schedule: Schedule | None = None  # [schedule]: what `cadence serve` runs when (cadence.core.settings.schedule)

    # -- team mapping (used by metrics through the team_map tables) ---------------------------
    def team_rows(self) -> list[tuple[str, str, str]]:
        """(team, kind, value) for every repo, service, cost tag and account a team owns."""
        rows = []
        for team in self.teams.values():
            rows += [(team.name, "repo", v) for v in team.repos]
            rows += [(team.name, "service", v) for v in team.services]
            rows += [(team.name, "cost_tag", v) for v in team.cost_tags]
            rows += [(team.name, "account", v) for v in team.accounts]
        return rows

    def teams_of(self, kind: str, value: str) -> list[str]:
        return sorted({t for t, k, v in self.team_rows() if k == kind and v == value})

    def require_team(self, name: str) -> Team:
        """The named team, or a ConfigError that lists the teams there are."""
        if name not in self.teams:
            known = ", ".join(sorted(self.teams)) or "none configured"
            where = f" in {self.path}" if self.path else ""
            raise ConfigError(f'Unknown team "{name}"{where}; known teams: {known}.')
        return self.teams[name]

    def source(self, name: str) -> dict[str, Any]:
        return dict(self.sources.get(name, {}))


def _fail(path: Path | None, key: str, problem: str) -> ConfigError:
    where = str(path) if path else "configuration"
    return ConfigError(f"{where}: {key}: {problem}")


def _show(value: Any) -> str:
    """A wrong value as an error message quotes it: its repr, cut short (a value can be huge or
    nested hundreds deep)."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"a {type(value).__name__} nested too deeply to show"
    return text if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS - 3] + "..."


def _str_list(path, key, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, key, f"must be a list of non-empty strings, got {_show(value)}")
    return tuple(v.strip() for v in value)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    """Validate a parsed TOML document and build a Config; raises ConfigError on the first fault."""
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key; expected one of {', '.join(sorted(TOP_LEVEL_KEYS))}")
    kwargs: dict[str, Any] = {"path": path}
    if "database" in data:
        if not isinstance(data["database"], str) or not data["database"]:
            raise _fail(path, "database", "must be a file path string")
        db = Path(os.path.expanduser(data["database"]))
        if not db.is_absolute() and path is not None:
            db = path.parent / db
        kwargs["database"] = db
    if "production_environments" in data:
        envs = _str_list(path, "production_environments", data["production_environments"])
        if not envs:
            raise _fail(path, "production_environments", "must name at least one environment")
        kwargs["production_environments"] = tuple(e.lower() for e in envs)
    if "attribution_window_days" in data:
        v = data["attribution_window_days"]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= 365:
            raise _fail(path, "attribution_window_days", f"must be a whole number of days from 1 to 365, got {_show(v)}")
        kwargs["attribution_window_days"] = v
    if "rework_labels" in data:
        kwargs["rework_labels"] = tuple(x.lower() for x in _str_list(path, "rework_labels", data["rework_labels"]))
    if "benchmark" in data:
        b = str(data["benchmark"])
        if b not in BENCHMARKS:
            raise _fail(path, "benchmark", f"must be one of {', '.join(BENCHMARKS)}, got {_show(data['benchmark'])}")
        kwargs["benchmark"] = b

    teams_raw = data.get("teams", {})
    if not isinstance(teams_raw, dict):
        raise _fail(path, "teams", "must be a table of [teams.NAME] sections")
    teams = {}
    for name, body in teams_raw.items():
        if name == NO_TEAM:
            raise _fail(path, f"teams.{name}", "is the name Cadence reports activity of no team under; pick another")
        if not isinstance(body, dict):
            raise _fail(path, f"teams.{name}", "must be a table with repos, services and cost_tags")
        bad = sorted(set(body) - TEAM_KEYS)
        if bad:
            raise _fail(path, f"teams.{name}.{bad[0]}", f"unknown key; expected {', '.join(sorted(TEAM_KEYS))}")
        teams[name] = Team(name=name, **{k: _str_list(path, f"teams.{name}.{k}", body[k]) for k in body})
    kwargs["teams"] = teams

    sources = data.get("sources", {})
    if not isinstance(sources, dict):
        raise _fail(path, "sources", "must be a table of [sources.NAME] sections")
    for name, body in sources.items():
        if name not in KNOWN_SOURCES:
            raise _fail(path, f"sources.{name}", f"unknown source; expected one of {', '.join(KNOWN_SOURCES)}")
        if not isinstance(body, dict):
            raise _fail(path, f"sources.{name}", "must be a table")
        for key in body:
            if any(word in key.lower() for word in ("token", "secret", "password")) and key != "token_env":
                raise _fail(path, f"sources.{name}.{key}",
                            "secrets do not belong in the config file; set them in the environment")
        if "token_env" in body:
            _token_env(path, name, body["token_env"])
    if "gitlab" in sources:   # [sources.gitlab]'s own rules: cadence/core/settings/gitlab.py
        gitlab.parse_settings(sources["gitlab"], path)
    kwargs["sources"] = sources

    alloc = data.get("cost_allocation", {})
    if not isinstance(alloc, dict):
        raise _fail(path, "cost_allocation", "must be a table")
    bad = sorted(set(alloc) - COST_ALLOCATION_KEYS)
    if bad:
        raise _fail(path, f"cost_allocation.{bad[0]}",
                    f"unknown key; expected {', '.join(sorted(COST_ALLOCATION_KEYS))}")
    if alloc.get("shared_split", "none") not in SHARED_SPLITS:
        raise _fail(path, "cost_allocation.shared_split",
                    f"must be one of {', '.join(SHARED_SPLITS)}, got {_show(alloc['shared_split'])}")
    if "shared_tags" in alloc:
        _str_list(path, "cost_allocation.shared_tags", alloc["shared_tags"])
    for section in ("accounts", "services"):
        mapping = alloc.get(section, {})
        if not isinstance(mapping, dict):
            raise _fail(path, f"cost_allocation.{section}", "must map a value to a team name")
        for value, team in mapping.items():
            if not isinstance(team, str):
                raise _fail(path, f"cost_allocation.{section}.{value}",
                            f'must be a team name (or "shared"), got {_show(team)}')
            if team not in teams and team != "shared":  # "shared": split by shared_split
                known = ", ".join(sorted(teams)) or "none configured"
                raise _fail(path, f"cost_allocation.{section}.{value}",
                            f'unknown team "{team}"; known teams: {known}')
    kwargs["cost_allocation"] = alloc
    kwargs["slos"] = parse_slos(data.get("slos"), path)   # [[slos]]: cadence/core/settings/slos.py
    if "auth" in data:
        kwargs["auth"] = parse_auth(data["auth"], path)
    kwargs["review"] = parse_review(data, path)
    kwargs["notify"] = parse_notify(data.get("notify"), path, teams,
                                    {name: team.notify for name, team in teams.items()})
    if "pipelines" in data:   # CI default branches and minute rates: cadence/core/settings/pipelines.py
        kwargs["pipelines"] = parse_pipelines(data["pipelines"], path)
    if "schedule" in data:   # what `cadence serve` runs when: cadence/core/settings/schedule.py
        kwargs["schedule"] = parse_schedule(data["schedule"], path)
    config = Config(**kwargs)
    if {"cost_exports", "aws_exports"} & set(sources) or "athena" in sources.get("aws", {}):
        aws_exports.check_sections(config)   # the billing-export sections: cadence/core/settings/aws_exports.py
    return config


def _token_env(path: Path | None, source: str, value: Any) -> None:
    """``[sources.X] token_env``: the name of the variable holding X's token (never the token).
    Its value is a secret from now on: scrubbed from every message like GITHUB_TOKEN's."""
    key = f"sources.{source}.token_env"
    if source not in TOKEN_ENV_SOURCES:
        raise _fail(path, key, "only [sources.github] and [sources.pagerduty] read their token from a "
                               "variable you name; the webhook's is CADENCE_WEBHOOK_TOKEN, AWS credentials "
                               "come from boto3's chain (AWS_PROFILE, a role, AWS_* variables)")
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise _fail(path, key, "must be the name of an environment variable in capitals, such as "
                               "CADENCE_GITHUB_TOKEN (its name, never the token itself; the value given is "
                               "not repeated here)")
    register_secret_env(value)


def resolve_config_path(explicit: str | os.PathLike | None = None) -> Path | None:
    """--config > CADENCE_CONFIG > ./cadence.toml when it exists > none (defaults)."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CADENCE_CONFIG")
    if env:
        return Path(env)
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.exists() else None


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    """Load and validate the configuration; with no file, the defaults."""
    path = resolve_config_path(explicit)
    if path is None:
        return Config()
    if not path.exists():
        raise ConfigError(f"{path}: file not found; copy cadence.example.toml to start one.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_config(parse_toml(raw, path), path)


def parse_toml(raw: bytes, path: Path | None = None) -> dict[str, Any]:
    """The TOML document in ``raw``; a file that is not UTF-8, is nested too deeply or is not TOML
    fails with one ConfigError naming the file, the key (or line) and what to do."""
    where = str(path) if path else "configuration"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        spot = _statement_at(raw.decode("utf-8", errors="replace"), line)
        at = f"at line {line}" if spot != f"line {line}" else "here"
        raise ConfigError(f"{where}: {spot}: not valid UTF-8 {at} (byte 0x{raw[exc.start]:02x}); "
                          "save the file as UTF-8") from None
    deep = _too_deep(text)
    if deep is not None:
        spot, line = deep
        raise ConfigError(f"{where}: {spot}: arrays or inline tables nested too deeply (more than "
                          f"{MAX_NESTING} levels, at line {line}); no setting nests more than a few")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    except RecursionError:   # _too_deep missed a nesting tomllib could not follow
        raise ConfigError(f"{where}: not valid TOML: nested too deeply") from None


_HEADER = re.compile(r"\s*\[\[?\s*(.+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""\s*((?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'))*)\s*=""")


def _walk(text: str):
    """Yield ``(line, table, key, depth)`` at each ``[``/``{`` that opens a value: the line it is on,
    the table header and key of the statement it belongs to, and the nesting depth it reaches.
    Strings and comments are skipped; enough of TOML to locate a fault, not to parse the file."""
    depth, line, i, n = 0, 1, 0, len(text)
    table, key = "", ""
    at_line_start = True
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            at_line_start = True
            continue
        if c in " \t\r":
            i += 1
            continue
        if depth == 0 and at_line_start:
            end = text.find("\n", i)
            end = n if end < 0 else end
            row = text[i:end]
            header = _HEADER.match(row) if c == "[" else None
            if header:
                table, key = header.group(1), ""
                i = end
                continue
            found = _KEY.match(row)
            if found:
                key = found.group(1)
                i += found.end()
                at_line_start = False
                continue
        at_line_start = False
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif c in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if c == '"' and text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    line += 1
                j += 1
            i = j + len(quote)
        elif c in "[{":
            depth += 1
            yield line, table, key, depth
            i += 1
        elif c in "]}":
            depth = max(depth - 1, 0)
            i += 1
        else:
            i += 1


def _qualified(table: str, key: str) -> str:
    return f"{table}.{key}" if table and key else key or table


def _too_deep(text: str) -> tuple[str, int] | None:
    """(key or line, line) of the first value nested deeper than MAX_NESTING, else None."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return None
    for line, table, key, depth in _walk(text):
        if depth > MAX_NESTING:
            return _qualified(table, key) or f"line {line}", line
    return None


def _statement_at(text: str, line: int) -> str:
    """The key set on ``line`` (qualified by its table), else "line N"."""
    table = ""
    for number, row in enumerate(text.split("\n")[:line], start=1):
        header = _HEADER.match(row) if row.lstrip().startswith("[") else None
        if header and "\ufffd" not in header.group(1):
            table = header.group(1)
        elif number == line:
            found = _KEY.match(row)
            if found and "\ufffd" not in found.group(1):
                return _qualified(table, found.group(1))
    return f"line {line}"


def resolve_db_path(explicit: str | os.PathLike | None = None, config: Config | None = None) -> Path:
    """--db > CADENCE_DB > the config's ``database`` > data/cadence.duckdb."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CADENCE_DB")
    if env:
        return Path(env)
    if config is not None and config.database is not None:
        return config.database
    return DEFAULT_DB


def db_is_configured(explicit: str | os.PathLike | None = None, config: Config | None = None) -> bool:
    """True when the user named a database (flag, env or config) rather than taking the default."""
    return bool(explicit or os.environ.get("CADENCE_DB") or (config and config.database))


def secret(name: str) -> str | None:
    """A token from the environment; never from the config file, never logged. Reading a variable
    here makes its value one that ``cadence.core.scrub`` removes from every message."""
    register_secret_env(name)
    value = os.environ.get(name, "").strip()
    return value or None
