"""``cadence slo``: every declared SLO with its attainment, error budget, burn rates and status.

A thin shell over ``metrics.slo.slo_status`` on a read-only connection (it runs beside a sync).
"""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app
from cadence.commands.metrics import DATE, render


@click.command(name="slo")
@click.option("--at", type=DATE, default=None,
              help="As of this UTC date's end (DATE 24:00); default: the end of the last complete UTC hour.")
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True,
              help="Output format.")
@click.option("--team", metavar="NAME", help="Only the SLOs of this team's services.")
@pass_app
def command(app: AppContext, at, fmt, team) -> None:
    """Print one row per [[slos]] entry: good, total, attainment and budget remaining (fractions),
    burn rates over 1 h, 6 h and 3 d, status (exhausted, fast-burn, slow-burn, ok, no-data), the
    projected exhaustion date, the share of the budget burned while change failures were open, and
    deployments made into an exhausted budget. Definitions: docs/metrics.md."""
    from metrics.slo import slo_status
    from warehouse import read_connection

    config = app.effective_config
    if team:
        config.require_team(team)
    if not config.slos:
        if fmt == "json":
            click.echo("[]")
        where = f" in {config.path}" if config.path else ""
        click.echo(f"No SLOs declared{where}; add [[slos]] entries to cadence.toml (docs/sources.md#prometheus).",
                   err=True)
        return
    with read_connection(app.db_path) as con:
        df = slo_status(con, config, at.date() if at else None, team=team)
    click.echo(render(df if fmt == "json" else _readable(df), fmt))


# Fractions near 1 need more than the two decimals of the shared table format.
DECIMALS = {"objective": 4, "attainment": 5, "budget_remaining": 3, "burn_rate_1h": 2, "burn_rate_6h": 2,
            "burn_rate_3d": 2, "budget_burned_by_change_failures": 3}


def _readable(df):
    import math

    out = df.astype(object).copy()
    for column, places in DECIMALS.items():
        out[column] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{places}f}"
                       for v in df[column]]
    for column in ("good", "total"):
        out[column] = [f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}" for v in df[column]]
    return out
