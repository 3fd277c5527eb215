"""``cadence sync aws-costs``: AWS Cost Explorer, commitments and CloudWatch utilization
(see collectors/aws_costs.py). Credentials and endpoints come from boto3's standard chain."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import CadenceError


@click.command(name="aws-costs")
@click.option("--only", "only", multiple=True, type=click.Choice(["costs", "commitments", "utilization"]),
              help="Sync only this part (repeatable); default: all three.")
@click.option("--lookback-months", type=int, default=None,
              help="Months of Cost Explorer history before the current one (at most 13; default "
                   "sources.aws.lookback_months, else 13). Only days not yet held are fetched.")
@pass_app
def command(app: AppContext, only: tuple[str, ...], lookback_months: int | None) -> None:
    """Sync AWS cost (Cost Explorer, USD 0.01 per request), commitments and utilization."""
    from collectors import aws_costs

    parts = tuple(only) or aws_costs.PARTS
    try:
        report = aws_costs.sync(app.db_path, app.config, parts=parts, lookback_months=lookback_months)
    except CadenceError as exc:
        # What did succeed (and what the run cost) is worth showing beside the error.
        for line in getattr(exc, "report", None).lines() if getattr(exc, "report", None) else []:
            click.echo(line)
        raise
    for line in report.lines():
        click.echo(line)
