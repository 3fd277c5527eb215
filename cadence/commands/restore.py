"""``cadence restore DIR``: bring a ``cadence backup`` back."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app


@click.command(name="restore")
@click.argument("src", metavar="DIR")
@click.option("--force", is_flag=True,
              help="Replace an existing warehouse (kept beside it as NAME.before-restore).")
@pass_app
def command(app: AppContext, src: str, force: bool) -> None:
    """Restore the backup in DIR to the warehouse path (--db / CADENCE_DB / config `database`); an
    existing warehouse is replaced only with --force. Stop `cadence serve` first."""
    from cadence.service.backup import restore

    manifest = restore(src, app.db_path, force=force)
    rows = sum(manifest["tables"].values())
    click.echo(f"Restored {src} (taken {manifest['created_at']}) to {app.db_path}: {len(manifest['tables'])} "
               f"tables, {rows:,} rows checked.")
