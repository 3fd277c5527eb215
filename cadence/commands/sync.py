"""``cadence sync SOURCE``: run a collector. The commands are the pulled sources of the registry
(``collectors.registry``): each one's options, help and ``sync`` come from its ``Source`` entry, so
adding a source adds its command here without touching this file."""

from __future__ import annotations

import sys
from typing import Any

import click

from cadence.cli import DAY, AppContext
from cadence.core.errors import CadenceError
from collectors import registry
from collectors.report import SyncReport


def _click_option(opt: registry.Option) -> click.Option:
    kw: dict[str, Any] = {"help": opt.help, "multiple": opt.multiple}
    if opt.metavar:
        kw["metavar"] = opt.metavar
    if opt.kind == "flag":
        return click.Option([opt.flag, opt.dest], is_flag=True, help=opt.help)
    kw["type"] = {"text": click.STRING, "int": click.INT, "day": DAY,
                  "date": click.DateTime(formats=["%Y-%m-%d"]),
                  "choice": click.Choice(list(opt.choices))}[opt.kind]
    return click.Option([opt.flag, opt.dest], default=None, **kw)


def _sync_options(source: registry.Source, params: dict[str, Any]) -> dict[str, Any]:
    """The click values as ``sync`` keywords: dates as dates, repeated options as lists or None."""
    out = {}
    for opt in source.options:
        value = params.get(opt.dest)
        if opt.multiple:
            value = list(value) or None
        elif opt.kind in ("day", "date") and value is not None:
            value = value.date()
        out[opt.dest] = value
    return out


def echo_report(report: SyncReport) -> None:
    """Print ``report`` as ``cadence sync`` does: the summary on its stream, warnings on stderr."""
    for line in report.summary:
        click.echo(line, err=report.stream == "stderr")
    for line in report.warnings:
        click.echo(line, err=True)


def run_source(source: registry.Source, app: AppContext, options: dict[str, Any]) -> SyncReport:
    """Run one source for the CLI: a progress display for multi-scope sources, the report printed
    (also what did land before an error), and a non-zero exit when a scope failed."""
    try:
        if source.progress:
            from cadence.progress import open_progress

            # A bar per scope on a terminal; plain timestamped lines in CI and cron (stderr, so the
            # summary on stdout stays easy to capture).
            with open_progress(source.name, sys.stderr, quiet=app.quiet) as progress:
                report = source.run(app.db_path, app.config, progress=progress, **options)
        else:
            report = source.run(app.db_path, app.config, **options)
    except CadenceError as exc:
        # What did succeed (and what the run cost) is worth showing beside the error.
        partial = getattr(exc, "sync_report", None)
        if partial is not None:
            echo_report(partial)
        raise
    echo_report(report)
    report.raise_for_errors()
    return report


def make_command(source: registry.Source) -> click.Command:
    """``cadence sync <source.command>`` from the source's declaration."""

    @click.pass_obj
    def callback(app: AppContext, **params: Any) -> None:
        run_source(source, app, _sync_options(source, params))

    return click.Command(source.command, callback=callback, help=source.help or f"Sync {source.title}.",
                         params=[_click_option(o) for o in source.options])


class _SyncGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(s.command for s in registry.pulled())

    def get_command(self, ctx, name):
        source = registry.by_command(name)
        return make_command(source) if source is not None else None


@click.group(name="sync", cls=_SyncGroup)
def command() -> None:
    """Pull data from a configured source into the warehouse (incremental; safe to re-run)."""
