"""``cadence demo``: write the demo warehouse (Brightcart, twelve months, six teams)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from click.core import ParameterSource

from cadence.cli import AppContext
from cadence.core.clock import utcnow
from cadence.core.config import DEMO_DB


def demo_path(ctx: click.Context, db_opt: str | None) -> Path:
    """``demo --db`` > the global ``--db`` typed on the command line > data/demo.duckdb.

    The global option also reads CADENCE_DB, which usually names the real warehouse: the demo
    never goes there unless the user typed the path, so real data is not replaced by accident.
    """
    if db_opt:
        return Path(db_opt)
    parent = ctx.parent
    app = ctx.find_object(AppContext)
    if parent is not None and app is not None and app.db_arg \
            and parent.get_parameter_source("db_arg") == ParameterSource.COMMANDLINE:
        return Path(app.db_arg)
    return DEMO_DB


@click.command(name="demo")
@click.option("--db", "db_opt", metavar="PATH",
              help=f"Where to write it (default {DEMO_DB}; CADENCE_DB is not used here).")
@click.option("--seed", default=42, show_default=True, type=int,
              help="Random seed: the same seed gives the same rows.")
@click.option("--force", is_flag=True,
              help="Overwrite PATH even if it holds a database that is not a demo one.")
@click.pass_context
def command(ctx: click.Context, db_opt: str | None, seed: int, force: bool) -> None:
    """Build a realistic, deterministic 12-month demo database.

    Brightcart, an online retailer: six teams from elite to struggling (and one improving over
    the year), 18 repositories, deployments, pull requests, incidents, AWS costs across six
    accounts, utilization and commitments. The year ends on the Sunday before today. Rebuilding
    replaces the file atomically, so a running dashboard never sees half a demo.
    """
    from collectors import registry

    path = demo_path(ctx, db_opt)
    for line in registry.get("demo").run(path, None, seed=seed, today=utcnow().date(), force=force).lines():
        click.echo(line)
    if path == DEMO_DB:
        click.echo("Open it with `cadence dashboard` (used when no real database is configured), "
                   f"or `cadence --db {path} dashboard`.")
    else:
        click.echo(f"Open it with `cadence --db {path} dashboard`.")
