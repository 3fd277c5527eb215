"""``cadence ingest KIND FILE``: load deployments, changes, incidents or costs from CSV or JSON Lines
(``collectors.files``); cost exports (FOCUS, CUR 2.0, Parquet, s3://) go to
``collectors.cost_exports``."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import IngestError
from collectors.files import KINDS, detect_format, ingest_file


def _ingest_cost_export(app: AppContext, source: str) -> bool:
    """Hand FOCUS/CUR exports, Parquet and s3:// to the cost-export loader; False when not one."""
    looks_like_export = source.startswith("s3://") or source.lower().endswith(".parquet") or Path(source).is_dir()
    try:
        from collectors import cost_exports
    except ImportError:
        if looks_like_export:
            raise IngestError(f"{source}: cost exports (FOCUS, CUR 2.0, Parquet, s3://) need "
                              f"collectors.cost_exports, which this installation lacks.") from None
        return False
    if not cost_exports.is_cost_export(source):
        return False
    from collectors import registry

    click.echo(registry.get("cost-exports").run(app.db_path, app.config, source=source).format())
    return True


def _is_pipe(file: str) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(file).st_mode)
    except OSError:
        return False


@click.command(name="ingest")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("file", metavar="FILE")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]),
              help="Input format; needed when FILE is - (stdin), else taken from the extension.")
@pass_app
def command(app: AppContext, kind: str, file: str, fmt: str | None) -> None:
    """Load KIND rows (deployments, changes, incidents, costs) from a CSV or JSON Lines FILE.

    FILE may be - to read standard input (with --format). Every row is checked before anything is
    written: a bad file exits non-zero naming file, line, column and reason, and the database is
    unchanged. Rows are upserted on their key, so ingesting a file again changes nothing.
    Columns and examples: docs/ingest.md. For costs, FOCUS and CUR 2.0 exports (CSV or Parquet,
    local or s3://) are read too.
    """
    config = app.config
    if file == "-" or _is_pipe(file):
        # Standard input, or a named pipe such as `<(zcat deploys.csv.gz)`: read once into a
        # temporary file, which the ingest can read as often as it needs.
        if file == "-" and not fmt:
            raise click.UsageError("reading standard input (-) needs --format csv or --format jsonl.")
        fmt = fmt or detect_format(file)
        with tempfile.TemporaryDirectory(prefix="cadence-ingest-") as tmp:
            path = Path(tmp) / f"stdin.{fmt}"
            with path.open("wb") as out:
                if file == "-":
                    shutil.copyfileobj(sys.stdin.buffer, out)
                else:
                    with open(file, "rb") as pipe:
                        shutil.copyfileobj(pipe, out)
            if kind == "costs" and fmt == "csv" and _ingest_cost_export(app, str(path)):
                return
            result = ingest_file(app.db_path, kind, path, config=config, fmt=fmt,
                                 name="<stdin>" if file == "-" else file)
    else:
        if kind == "costs" and _ingest_cost_export(app, file):
            return
        if not Path(file).exists():
            raise IngestError(f"{file}: no such file; check the path.")
        detect_format(file, fmt)
        result = ingest_file(app.db_path, kind, file, config=config, fmt=fmt)
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    click.echo(f"{result.summary()} into {app.db_path}")
