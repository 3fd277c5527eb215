"""``cadence sync github``: pull requests, deployments and incident issues from GitHub."""

from __future__ import annotations

import sys

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import SourceError
from cadence.progress import open_progress


@click.command(name="github")
@click.option("--repo", "repos", multiple=True, metavar="OWNER/NAME",
              help="Sync only this repository (repeatable); default: [sources.github] repos / org.")
@pass_app
def command(app: AppContext, repos: tuple[str, ...]) -> None:
    """Sync pull requests, deployments and incident issues from GitHub (incremental; token from
    GITHUB_TOKEN, or a GitHub App via GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_PATH)."""
    from collectors.github import sync

    # A bar per repository on a terminal; plain timestamped lines in CI and cron (stderr, so the
    # summary on stdout stays easy to capture).
    with open_progress("github", sys.stderr, quiet=app.quiet) as progress:
        report = sync(app.db_path, app.config, repos=repos or None, progress=progress)
    rows = ", ".join(f"{n} {table}" for table, n in report.rows.items())
    left = (f"{report.rate_remaining} of {report.rate_limit}" if report.rate_remaining is not None
            else "unknown")
    click.echo(f"GitHub: {len(report.synced)} of {len(report.repos)} repositories synced into {app.db_path}; "
               f"rows written: {rows}.")
    click.echo(f"Requests: {report.requests} (+{report.not_modified} not modified, free); "
               f"rate limit left: {left}.")
    for repo, flags in sorted(report.flags.items()):
        for flag in flags:
            click.echo(f"Flagged {repo}: {flag['message']}", err=True)
    if report.failed:
        first = next(iter(report.failed.items()))
        raise SourceError(f"{len(report.failed)} of {len(report.repos)} repositories failed (the others were "
                          f"written); first: {first[0]}: {first[1]}")
