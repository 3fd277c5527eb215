"""``cadence notify``: the weekly digest and the alert check, to Slack, Teams, e-mail and webhooks.

A thin shell over ``cadence.notify.service``; channels, routing and rules are in cadence.toml
``[notify]`` (docs/notify.md), secrets in the environment.
"""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import NotifyError


@click.group(name="notify")
def command() -> None:
    """Send the weekly digest and threshold alerts (docs/notify.md)."""


def _echo_outcomes(outcomes, dry_run: bool) -> None:
    for o in outcomes:
        if dry_run:
            where = f"to {o.channel} ({o.kind})" if o.kind != "-" else "(no channel configured: shown only)"
            click.echo(f"--- would send {o.subject} {where} ---")
            click.echo(o.text, nl=False)
        elif o.status == "sent":
            click.echo(f"sent {o.subject} to {o.channel} ({o.kind}), {o.attempts} attempt(s)")
        elif o.status == "deferred":
            click.echo(f"deferred {o.subject} for {o.channel}: quiet hours")
        else:
            click.echo(f"FAILED {o.subject} to {o.channel} ({o.kind}): {o.error}", err=True)


@command.command(name="digest")
@click.option("--week", metavar="YYYY-Www", help="ISO week to summarise, e.g. 2026-W47.")
@click.option("--last-week", is_flag=True, help="The last complete ISO week in UTC (the default).")
@click.option("--channel", metavar="NAME", help="Send only to this [notify.channels.NAME].")
@click.option("--by", type=click.Choice(["team", "org"]), default=None,
              help="One section per team, or one for the organisation (default: [notify.digest] by, else team).")
@click.option("--dry-run", is_flag=True, help="Print exactly what would be sent (as text) and send nothing.")
@pass_app
def digest(app: AppContext, week, last_week, channel, by, dry_run) -> None:
    """Send the week's digest: per team (or the organisation) the five DORA keys with band and change
    on the previous week and the 4-week average, notable changes and incidents, cloud cost and cost
    per deployment, top cost movers, anomalies and data freshness warnings, each with a link into
    the dashboard. E-mails carry the week's export CSVs."""
    from cadence.core.clock import utcnow
    from cadence.notify.service import run_digest
    from metrics.export import last_complete_week, parse_iso_week

    if week and last_week:
        raise click.UsageError("Use --week or --last-week, not both.")
    label = week or last_complete_week(utcnow().date())
    parse_iso_week(label)
    outcomes = run_digest(app.db_path, app.effective_config, label, by=by, channel=channel, dry_run=dry_run)
    _echo_outcomes(outcomes, dry_run)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise NotifyError(f"{len(failed)} of {len(outcomes)} digest deliveries failed (see above and Data health); "
                          "fix the channel and re-run with --channel NAME.")


@command.command(name="check")
@click.option("--dry-run", is_flag=True, help="Evaluate and print what would be sent; send and record nothing.")
@pass_app
def check(app: AppContext, dry_run) -> None:
    """Evaluate every [[notify.alerts]] rule now. An alert is sent once when it starts firing and once
    when it resolves; a re-run sends nothing new. Failed sends are retried with back-off, recorded on
    Data health, and tried again at the next check. Run it every few minutes (cron, systemd)."""
    from cadence.notify.service import run_check

    config = app.effective_config
    if config.notify is None or not config.notify.alerts:
        where = f" in {config.path}" if config.path else " (no config file found)"
        click.echo(f"No alert rules{where}; add [[notify.alerts]] entries (docs/notify.md).", err=True)
        return
    report = run_check(app.db_path, config, dry_run=dry_run)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"{len(report.firing)} alert(s) firing; {len(report.started)} started, "
               f"{len(report.resolved)} resolved{' (dry run: nothing recorded)' if dry_run else ''}.")
    for a in report.firing:
        click.echo(f"  firing: {a.title}")
    _echo_outcomes(report.outcomes, dry_run)
    if report.failed:
        raise NotifyError(f"{len(report.failed)} alert deliveries failed (see above and Data health); they are "
                          "retried at the next check.")
    if report.failed_rules:
        raise NotifyError(f"rule(s) {', '.join(sorted(report.failed_rules))} could not be evaluated (see the notes "
                          "above); their alerts were left as they were.")


@command.command(name="test")
@click.option("--channel", metavar="NAME", required=True, help="The [notify.channels.NAME] to send to.")
@pass_app
def test(app: AppContext, channel) -> None:
    """Send a short test message to one channel, to check its URL, SMTP settings or signing key."""
    from cadence.notify.service import run_test

    outcome = run_test(app.db_path, app.config, channel)
    _echo_outcomes([outcome], False)
    if outcome.status == "failed":
        raise NotifyError(f'the test message to "{channel}" failed (see above).')


@command.command(name="status")
@pass_app
def status(app: AppContext) -> None:
    """List every alert the warehouse knows (firing first) and the last deliveries."""
    from cadence.commands.metrics import render
    from cadence.notify.state import alert_states, recent_deliveries
    from warehouse import read_connection

    with read_connection(app.db_path) as con:
        alerts = alert_states(con)
        deliveries = recent_deliveries(con, limit=20)
    click.echo("Alerts:" if len(alerts) else "No alerts recorded yet.")
    if len(alerts):
        click.echo(render(alerts, "table"))
    click.echo("Recent deliveries:" if len(deliveries) else "No deliveries recorded yet.")
    if len(deliveries):
        click.echo(render(deliveries, "table"))
