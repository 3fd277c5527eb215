"""``cadence export``: last week's metrics and the changes behind them as two CSV files.

A thin shell over ``metrics.export``: pick the ISO week, optionally sync the configured sources
first (``--sync``, through ``collectors.registry``), compute both tables from one read-only
connection, then write them atomically. Everything is computed before anything is written, so a
failure leaves the output directory as it was.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import CadenceError, ExportError
from cadence.core.scrub import scrub

log = logging.getLogger(__name__)

DEFAULT_OUT = "exports"


def run_configured_syncs(app: AppContext) -> list[str]:
    """Sync every configured source of the registry (``collectors.registry``), in its order, as
    ``cadence sync X`` would; stop at the first failure with an ExportError naming the source and its
    reason. Returns the sync commands run."""
    from cadence.commands.sync import echo_report
    from collectors import registry

    todo = registry.configured(app.config)
    if not todo:
        where = f" in {app.config.path}" if app.config.path else " (no config file found)"
        sections = ", ".join(f"[sources.{s.section}]" for s in registry.pulled() if s.section)
        raise ExportError(f"--sync found no source to sync{where}; add one of {sections}, or drop --sync.")
    done = []
    for source in todo:
        log.info("export: syncing %s", source.name)
        reason = None
        try:
            # A collector's report lines go to stderr: stdout may be carrying the CSV (--out -).
            with contextlib.redirect_stdout(sys.stderr):
                report = source.run(app.db_path, app.config)
                echo_report(report)
                report.raise_for_errors()
        except CadenceError as exc:
            reason = str(exc)
        except Exception as exc:  # a collector bug still means "not synced": report, don't export
            log.debug("sync %s failed", source.name, exc_info=True)
            reason = f"{type(exc).__name__}: {exc}"
        if reason is not None:
            raise ExportError(scrub(f"--sync: `cadence sync {source.command}` failed: {reason.strip()} "
                                      f"Nothing exported; fix the source and re-run."))
        done.append(source.command)
    return done


@click.command(name="export")
@click.option("--week", metavar="YYYY-Www", help="ISO week to export, e.g. 2026-W47.")
@click.option("--last-week", is_flag=True,
              help="Export the last complete ISO week in UTC (the default when no --week is given).")
@click.option("--by", type=click.Choice(["team", "repo", "service", "org"]), default="team",
              show_default=True, help="One row per team, repo, service, or one for the organisation.")
@click.option("--out", "out", default=DEFAULT_OUT, show_default=True, metavar="DIR|-",
              help="Directory for the two CSV files (created if missing); - writes one table to "
                   "standard output.")
@click.option("--only", type=click.Choice(["metrics", "changes", "slos"]), default=None,
              help="Write just this table (with --out -, the default is metrics).")
@click.option("--sync", "sync_first", is_flag=True,
              help="Run every configured collector first; export only if all succeed.")
@pass_app
def command(app: AppContext, week: str | None, last_week: bool, by: str, out: str,
            only: str | None, sync_first: bool) -> None:
    """Write a week's metrics per scope and the changes behind them as CSV.

    Files: cadence-metrics-YYYY-Www.csv and cadence-changes-YYYY-Www.csv, and, where SLOs are
    declared, cadence-slos-YYYY-Www.csv (columns in docs/export.md). Re-running over unchanged data
    gives byte-identical files.
    """
    from metrics.export import build_export, export_file_names, last_complete_week, no_team_note, parse_iso_week
    from metrics.export import write_files_atomically
    from warehouse import read_connection

    if week and last_week:
        raise click.UsageError("Use --week or --last-week, not both.")
    label = week or last_complete_week()   # CADENCE_NOW pins "today" (cadence.core.clock)
    parse_iso_week(label)  # a bad week fails before any sync runs
    to_stdout = out == "-"
    tables = [only] if only else (["metrics"] if to_stdout else ["metrics", "changes"])

    app.config  # load and validate the config before anything runs  # noqa: B018
    if sync_first:
        synced = run_configured_syncs(app)
        click.echo(f"synced: {', '.join(synced)}", err=True)
    db_path = app.db_path
    config = app.effective_config
    if not only and not to_stdout and config.slos:
        tables.append("slos")  # SLOs declared (or the demo's): their figures as of the week's end
    if only == "slos" and not config.slos:
        where = f" in {config.path}" if config.path else " (no config file found)"
        raise ExportError(f"--only slos: no SLOs are declared{where}; add [[slos]] entries (docs/sources.md) "
                          "or export another table.")
    with read_connection(db_path) as con:
        result = build_export(con, config, label, by=by, tables=tables)
    names = export_file_names(result.label)
    note = no_team_note(result, config) if by == "team" else None
    if note:
        click.echo(f"Note: {note}", err=True)

    if to_stdout:
        data = result.payloads[tables[0]]
        sys.stdout.flush()
        stream = getattr(sys.stdout, "buffer", None)
        if stream is None:  # a text-only stdout (some embedders): same characters, as text
            sys.stdout.write(data.decode("utf-8"))
        else:
            stream.write(data)
            stream.flush()
        return
    written = write_files_atomically(Path(out), {names[t]: result.payloads[t] for t in tables})
    for t, path in zip(tables, written, strict=True):
        rows = len(result.tables[t])
        click.echo(f"{path} ({rows} row{'s' if rows != 1 else ''})")
    if not len(result.tables.get("metrics", [1])):
        click.echo(f"Warning: no activity or cost in {result.label} ({result.start} to {result.end}); "
                   f"the files hold the header only. Check that the sources are synced.", err=True)
