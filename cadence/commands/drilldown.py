"""``cadence drilldown {changes,deployments,incidents}``: the rows behind the DORA numbers.

A thin shell over ``metrics.drilldown`` on a read-only connection; output as in ``cadence metrics``.
"""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app
from cadence.commands.metrics import check_range, keep_scopes, range_options, render, team_filter


@click.command(name="drilldown")
@click.argument("kind", type=click.Choice(("changes", "deployments", "incidents")))
@range_options
@pass_app
def command(app: AppContext, kind, start, end, by, fmt, team, scope) -> None:
    """Print the changes (with their deployment, link rule and lead-time stages), deployments (with
    why each failed or is rework) or incidents (with their attributed deployment) of a date range."""
    from metrics import drilldown
    from warehouse import read_connection

    start_day, end_day = check_range(start, end)
    config = app.effective_config
    by, scope, keep = team_filter(config, team, by, scope)
    with read_connection(app.db_path) as con:
        df = drilldown(con, config, kind, start_day, end_day, by=by, scope=scope)
    click.echo(render(keep_scopes(df, keep), fmt))
