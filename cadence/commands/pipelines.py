"""``cadence pipelines``: CI pipeline figures per scope — runs, success and flaky rates, duration and
queue percentiles, default-branch red hours, time to feedback, CI minutes and their cost.

A thin shell over ``metrics.pipelines.pipeline_summary`` on a read-only connection (it runs beside a
sync). Definitions: docs/metrics.md ("CI pipelines").
"""

from __future__ import annotations

from datetime import timedelta

import click

from cadence.cli import AppContext, pass_app
from cadence.commands.metrics import DATE, render

DEFAULT_DAYS = 28


@click.command(name="pipelines")
@click.option("--start", type=DATE, default=None, help="First day (YYYY-MM-DD, UTC); default 27 days before --end.")
@click.option("--end", type=DATE, default=None, help="Last day, inclusive (YYYY-MM-DD, UTC); default today.")
@click.option("--by", type=click.Choice(("org", "team", "repo", "workflow")), default="org", show_default=True,
              help='Group by: the whole org (scope "all"), team, repo or workflow ("repo: workflow").')
@click.option("--format", "fmt", type=click.Choice(("table", "json")), default="table", show_default=True,
              help="Output format.")
@pass_app
def command(app: AppContext, start, end, by, fmt) -> None:
    """Print one row per scope with the keys scope, runs, success_rate, flaky_rate,
    duration_p50_minutes, duration_p90_minutes, queue_p50_minutes, red_hours_default_branch,
    feedback_p50_minutes, ci_minutes, ci_cost (USD). Rates are fractions 0..1."""
    from cadence.core.clock import utcnow
    from metrics.pipelines import SUMMARY_KEYS, pipeline_summary
    from warehouse import read_connection

    end_day = end.date() if end else utcnow().date()
    start_day = start.date() if start else end_day - timedelta(days=DEFAULT_DAYS - 1)
    if end_day < start_day:
        raise click.BadParameter(f"--end {end_day} is before --start {start_day}.", param_hint="--end")
    config = app.effective_config
    with read_connection(app.db_path) as con:
        df = pipeline_summary(con, config, start_day, end_day, by=by, period="total")
    df = df[list(SUMMARY_KEYS)]
    if df.empty and fmt == "table":
        click.echo(f"No pipeline runs between {start_day} and {end_day}; run `cadence sync github` or "
                   "`cadence ingest pipeline_runs FILE` (docs/ingest.md).", err=True)
        return
    click.echo(render(df, fmt))
