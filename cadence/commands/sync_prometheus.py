"""``cadence sync prometheus``: hourly SLIs of the declared SLOs (see collectors/prometheus/)."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import SourceError


@click.command(name="prometheus")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Read hours from this UTC date (YYYY-MM-DD) on instead of from the saved cursor; "
                   "the first run reads the longest SLO window plus 3 days.")
@click.option("--slo", "only", multiple=True, metavar="NAME",
              help="Only this SLO (repeatable); default: every SLO with good and total selectors.")
@pass_app
def command(app: AppContext, since, only) -> None:
    """Sync hourly good and total events of each [[slos]] entry from Prometheus
    ([sources.prometheus] base_url; PROMETHEUS_TOKEN or PROMETHEUS_USERNAME/PASSWORD; incremental,
    safe to re-run). Hours without samples are gaps, counted neither good nor bad."""
    from collectors import prometheus

    try:
        report = prometheus.sync(app.db_path, app.config, since=since.date() if since else None,
                                 only=list(only) or None)
    except SourceError as exc:
        partial = getattr(exc, "report", None)
        if partial is not None:
            for line in partial.summary()[:-1]:
                if "FAILED" not in line:
                    click.echo(line, err=True)
        raise
    for line in report.summary():
        click.echo(line, err=True)
    if report.failed:
        scope, message = next(iter(report.failed.items()))
        raise SourceError(f"{len(report.failed)} SLO(s) failed; first: {scope}: {message}")
