"""Every source Cadence reads, declared once: the CLI, ``cadence export --sync``, ``cadence serve``,
Data health and the dashboard's hints all read this list.

A source declares its name, the ``[sources.X]`` section that configures it, the tables it fills,
how it is incremental, the ``cadence sync`` command that pulls it (None for sources that are pushed
or loaded: the webhook, file ingest, the demo), the options that command takes, and ``sync``: a
``"module:function"`` path to ``sync(db_path, config, **options) -> SyncReport``, imported only
when the source runs, so reading the registry costs no collector's imports. Adding a source is one
module plus one ``Source(...)`` below (docs/adding-a-source.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cadence.core.config import Config
from cadence.core.errors import ConfigError
from collectors.report import SyncReport

OptionKind = Literal["text", "int", "day", "date", "flag", "choice"]


@dataclass(frozen=True)
class Option:
    """One option of a source's ``cadence sync`` command, as data (the CLI makes the click option).

    ``dest`` is the keyword ``sync`` receives. ``day`` is a checked UTC date (the CLI's ``DAY``),
    ``date`` a plain YYYY-MM-DD; both reach ``sync`` as a ``datetime.date``. ``multiple`` options
    reach it as a list, or None when not given.
    """

    flag: str
    dest: str
    help: str
    kind: OptionKind = "text"
    multiple: bool = False
    choices: tuple[str, ...] = ()
    metavar: str | None = None


@dataclass(frozen=True)
class Source:
    name: str                              # "github"; the registry's key
    title: str                             # "GitHub", for people
    tables: tuple[str, ...]                # what it fills
    incremental: str                       # how a re-run avoids re-reading (one sentence)
    section: str | None = None             # [sources.<section>] in cadence.toml
    command: str | None = None             # `cadence sync <command>`; None: not pulled
    sync: str | Callable[..., SyncReport] | None = None   # "module:function" (or the function) ->
                                           # sync(db_path, config, **options) -> SyncReport
    options: tuple[Option, ...] = ()
    help: str = ""                         # the sync command's help text
    progress: bool = False                 # sync takes progress=(scope, message, state) callback
    states: dict[str, str] = field(default_factory=dict)   # sync_state.source -> command that fills it
    how_to_fill: str = ""                  # what a user runs, for empty states ("`cadence sync github`")
    configured: Callable[[Config], bool] | None = None     # default: its section is present

    def __post_init__(self) -> None:
        # A pulled source records its runs under its own name and is filled by its command, unless
        # it says otherwise.
        if self.command and not self.states:
            object.__setattr__(self, "states", {self.name: f"cadence sync {self.command}"})
        if self.command and not self.how_to_fill:
            object.__setattr__(self, "how_to_fill", f"`cadence sync {self.command}`")

    def is_configured(self, config: Config) -> bool:
        if self.configured is not None:
            return self.configured(config)
        return self.section is not None and self.section in config.sources

    def load(self) -> Callable[..., SyncReport]:
        """The source's ``sync`` function (imported now)."""
        if self.sync is None:
            raise ConfigError(f"source {self.name} has no sync function: {self.how_to_fill or 'it is pushed'}")
        if callable(self.sync):
            return self.sync
        module, _, name = self.sync.partition(":")
        return getattr(importlib.import_module(module), name)

    def run(self, db_path: str | Path, config: Config, **options: Any) -> SyncReport:
        """Run the source's sync; the report carries its start and end."""
        from collectors.report import utcnow

        started = utcnow()
        report = self.load()(db_path, config, **options)
        report.started_at = report.started_at or started
        report.finished_at = report.finished_at or utcnow()
        return report


# What a code host's sync fills (GitHub, GitLab).
_CODE_HOST_TABLES = ("changes", "deployments", "deployment_changes", "incidents", "pipeline_runs", "pipeline_jobs")

SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Add ``source`` (a test may add a toy one; ``unregister`` takes it out again)."""
    if source.name in SOURCES:
        raise ValueError(f"source {source.name!r} is registered already")
    if source.command and any(s.command == source.command for s in SOURCES.values()):
        raise ValueError(f"`cadence sync {source.command}` belongs to another source already")
    SOURCES[source.name] = source
    return source


def unregister(name: str) -> None:
    SOURCES.pop(name, None)


def sources() -> list[Source]:
    """Every source, in the order syncs run (the order below)."""
    return list(SOURCES.values())


def get(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise ConfigError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None


def pulled() -> list[Source]:
    """The sources with a ``cadence sync`` command."""
    return [s for s in SOURCES.values() if s.command]


def by_command(command: str) -> Source | None:
    return next((s for s in SOURCES.values() if s.command == command), None)


def configured(config: Config) -> list[Source]:
    """The pulled sources ``config`` sets up, in sync order."""
    return [s for s in pulled() if s.is_configured(config)]


def sync_commands() -> dict[str, str]:
    """``[sources.X]`` section -> ``cadence sync`` command, for the pulled sources."""
    return {s.section: s.command for s in pulled() if s.section}


def command_for_state(state_source: str) -> str:
    """The command that fills a ``sync_state.source`` (Data health's advice)."""
    base = state_source.split(":")[0]
    for s in SOURCES.values():
        if base in s.states:
            return s.states[base]
    return f"cadence sync {base}"


def fill_hints(table: str) -> list[str]:
    """What a user runs to fill ``table``, one hint per source that fills it (registry order)."""
    return [s.how_to_fill for s in SOURCES.values() if table in s.tables and s.how_to_fill]


def tables_of(names: Iterable[str]) -> set[str]:
    return {t for n in names for t in get(n).tables}


# -- the sources ------------------------------------------------------------------------------------

register(Source(
    name="github", title="GitHub", section="github", command="github",
    tables=_CODE_HOST_TABLES,
    incremental="Per repository: pull requests by updatedAt cursor, deployments and incident issues since the "
                "last run, the first-parent chain from the last commit seen; ETags make unchanged pages free.",
    sync="collectors.adapters:sync_github", progress=True,
    options=(Option("--repo", "repos", "Sync only this repository (repeatable); default: [sources.github] "
                    "repos / org.", multiple=True, metavar="OWNER/NAME"),),
    help="Sync pull requests, deployments and incident issues from GitHub (incremental; token from "
         "GITHUB_TOKEN, or a GitHub App via GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_PATH)."))

register(Source(
    name="github-actions", title="GitHub Actions", section="github",
    tables=("pipeline_runs", "pipeline_jobs"),
    incremental="Per repository (scope OWNER/NAME:actions): workflow runs created since the cursor, and runs "
                "still in progress at the last run; read within `cadence sync github` (actions = false turns "
                "it off).",
    how_to_fill="`cadence sync github` (GitHub Actions runs)"))

register(Source(
    name="gitlab", title="GitLab", section="gitlab", command="gitlab",
    tables=_CODE_HOST_TABLES,
    incremental="Per project: merge requests by updated_at cursor, deployments, incident issues and pipelines "
                "since the last run; ETags make unchanged pages free.",
    sync="collectors.adapters:sync_gitlab", progress=True,
    options=(Option("--project", "projects", "Sync only this project (repeatable); default: [sources.gitlab] "
                    "projects / groups.", multiple=True, metavar="GROUP/PROJECT"),),
    help="Sync merge requests, deployments and incident issues from GitLab.com or a self-managed GitLab "
         "(incremental; token from GITLAB_TOKEN, scope read_api)."))

register(Source(
    name="pagerduty", title="PagerDuty", section="pagerduty", command="pagerduty",
    tables=("incidents",),
    incremental="Incidents created since the cursor (less an overlap), in windows; incidents open at the last "
                "run are read again until they resolve.",
    sync="collectors.adapters:sync_pagerduty",
    options=(Option("--since", "since", "Read incidents created since this UTC date (YYYY-MM-DD) instead of from "
                    "the saved cursor; the first run defaults to sources.pagerduty.since, else 180 days back.",
                    kind="day"),),
    help="Sync PagerDuty incidents (token from PAGERDUTY_TOKEN; incremental, safe to re-run)."))

register(Source(
    name="aws-costs", title="AWS Cost Explorer", section="aws", command="aws-costs",
    tables=("costs", "commitments", "utilization"),
    incremental="Only days not yet held, plus days Cost Explorer still marks estimated; commitments and "
                "CloudWatch utilization from their own cursors.",
    sync="collectors.adapters:sync_aws_costs",
    options=(Option("--only", "only", "Sync only this part (repeatable); default: all three.",
                    kind="choice", multiple=True, choices=("costs", "commitments", "utilization")),
             Option("--lookback-months", "lookback_months", "Months of Cost Explorer history before the current "
                    "one (at most 13; default sources.aws.lookback_months, else 13). Only days not yet held are "
                    "fetched.", kind="int")),
    help="Sync AWS cost (Cost Explorer, USD 0.01 per request), commitments and utilization.",
    states={"aws-cost-explorer": "cadence sync aws-costs", "aws": "cadence sync aws-costs"}))

register(Source(
    name="aws-exports", title="AWS Data Exports", section="aws_exports", command="aws-exports",
    tables=("costs",),
    incremental="Per billing period: only periods whose files changed (S3 ETags, or Athena's file list) are "
                "read again; a period's rows are replaced as a whole.",
    sync="collectors.adapters:sync_aws_exports",
    configured=lambda config: "aws_exports" in config.sources or "athena" in config.source("aws"),
    options=(Option("--location", "locations", "Read this s3://bucket/prefix/ (repeatable) instead of "
                    "[sources.aws_exports] location.", multiple=True, metavar="S3_URI"),
             Option("--only", "only", "Only the S3 reader or only Athena; default: whichever is configured.",
                    kind="choice", choices=("s3", "athena")),
             Option("--full", "full", "Re-read every billing period, changed or not.", kind="flag")),
    help="Sync AWS Data Exports into costs: only billing periods whose files changed are read again.",
    states={"aws-exports": "cadence sync aws-exports", "aws-athena": "cadence sync aws-exports --only athena"}))

register(Source(
    name="cost-exports", title="Cost exports (FOCUS, CUR 2.0)", section="cost_exports",
    tables=("costs",),
    incremental="A file's rows replace what the same source held for the same providers, billing accounts and "
                "days, so loading a file again changes nothing.",
    sync="collectors.adapters:sync_cost_export",
    how_to_fill="`cadence ingest costs FILE`"))

register(Source(
    name="prometheus", title="Prometheus SLIs", section="prometheus", command="prometheus",
    tables=("sli_hours",),
    incremental="Per SLO: hours after the cursor, up to the last complete hour; a changed selector starts the "
                "SLO over.",
    sync="collectors.adapters:sync_prometheus",
    options=(Option("--since", "since", "Read hours from this UTC date (YYYY-MM-DD) on instead of from the saved "
                    "cursor; the first run reads the longest SLO window plus 3 days.", kind="date"),
             Option("--slo", "only", "Only this SLO (repeatable); default: every SLO with good and total "
                    "selectors.", multiple=True, metavar="NAME")),
    help="Sync hourly good and total events of each [[slos]] entry from Prometheus ([sources.prometheus] "
         "base_url; PROMETHEUS_TOKEN or PROMETHEUS_USERNAME/PASSWORD; incremental, safe to re-run). Hours "
         "without samples are gaps, counted neither good nor bad."))

register(Source(
    name="files", title="CSV / JSON Lines files",
    tables=("deployments", "changes", "deployment_changes", "incidents", "costs", "sli_hours"),
    incremental="Rows are upserted on their key: loading a file again changes nothing.",
    sync="collectors.adapters:sync_file",
    how_to_fill="`cadence ingest KIND FILE`"))

register(Source(
    name="webhook", title="Webhook", section="webhook",
    tables=("deployments", "incidents", "changes"),
    incremental="Pushed: each POST is upserted on its key as it arrives.",
    states={"webhook": "cadence webhook"},
    how_to_fill="`cadence webhook` (pushed deployments, incidents, changes)"))

register(Source(
    name="demo", title="Demo data",
    tables=("deployments", "changes", "deployment_changes", "incidents", "costs", "utilization", "commitments",
            "sli_hours", "pipeline_runs", "pipeline_jobs"),
    incremental="Not incremental: the whole demo warehouse is written again, atomically, from a seed.",
    sync="collectors.adapters:sync_demo",
    states={"demo": "cadence demo"},
    how_to_fill="`cadence demo`"))


__all__ = ["Option", "SOURCES", "Source", "by_command", "command_for_state", "configured", "fill_hints", "get",
           "pulled", "register", "sources", "sync_commands", "tables_of", "unregister"]
