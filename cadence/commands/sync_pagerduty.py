"""``cadence sync pagerduty``: incidents from PagerDuty's REST API (see collectors/pagerduty.py)."""

from __future__ import annotations

import click

from cadence.cli import DAY, AppContext, pass_app


@click.command(name="pagerduty")
@click.option("--since", type=DAY, default=None,
              help="Read incidents created since this UTC date (YYYY-MM-DD) instead of from the "
                   "saved cursor; the first run defaults to sources.pagerduty.since, else 180 days back.")
@pass_app
def command(app: AppContext, since) -> None:
    """Sync PagerDuty incidents (token from PAGERDUTY_TOKEN; incremental, safe to re-run)."""
    from collectors import pagerduty

    result = pagerduty.sync(app.db_path, app.config, since=since.date() if since else None)
    click.echo(f"pagerduty: {result['incidents']} incident rows written in {result['windows']} "
               f"windows ({result['requests']} requests); {result['open']} still open; "
               f"cursor {result['cursor']}", err=True)
