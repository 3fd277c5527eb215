"""``cadence backup --to DIR``: a consistent copy of the warehouse, safe while the service runs."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app


@click.command(name="backup")
@click.option("--to", "to", required=True, metavar="DIR", help="New (or empty) directory to write the backup into.")
@click.option("--force", is_flag=True, help="Replace what DIR holds.")
@pass_app
def command(app: AppContext, to: str, force: bool) -> None:
    """Copy the warehouse into DIR with a manifest (rows per table, checksums). Runs beside
    `cadence serve`: writers wait for the copy, readers are not held up."""
    from cadence.service.backup import backup

    manifest = backup(app.db_path, to, force=force)
    rows = sum(manifest["tables"].values())
    click.echo(f"Backed up {app.db_path} to {to}: {len(manifest['tables'])} tables, {rows:,} rows, "
               f"schema version {manifest['schema_version']}. Restore with `cadence restore {to}`.")
