"""``cadence sync gitlab``: merge requests, deployments and incident issues from GitLab."""

from __future__ import annotations

import sys

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import SourceError
from cadence.progress import open_progress


@click.command(name="gitlab")
@click.option("--project", "projects", multiple=True, metavar="GROUP/PROJECT",
              help="Sync only this project (repeatable); default: [sources.gitlab] projects / groups.")
@pass_app
def command(app: AppContext, projects: tuple[str, ...]) -> None:
    """Sync merge requests, deployments and incident issues from GitLab.com or a self-managed
    GitLab (incremental; token from GITLAB_TOKEN, scope read_api)."""
    from collectors.gitlab import sync

    # A bar per project on a terminal; plain timestamped lines in CI and cron (stderr, so the
    # summary on stdout stays easy to capture).
    with open_progress("gitlab", sys.stderr, quiet=app.quiet) as progress:
        report = sync(app.db_path, app.config, projects=projects or None, progress=progress)
    lines = report.summary()
    for line in lines:
        click.echo(line, err=line.startswith("Flagged "))
    if report.failed:
        first = next(iter(report.failed.items()))
        raise SourceError(f"{len(report.failed)} of {len(report.projects)} projects failed (the others were "
                          f"written); first: {first[0]}: {first[1]}")
