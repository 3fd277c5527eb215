"""``cadence sync github``: pull requests, deployments and incident issues from GitHub."""

from __future__ import annotations

import sys
import threading

import click

from cadence.cli import AppContext, pass_app
from cadence.errors import SourceError


class _Progress:
    """One status line per run on a terminal (rewritten in place); nothing otherwise, where the
    collector's log lines already say what happened."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.state: dict[str, str] = {}
        self.lock = threading.Lock()

    def __call__(self, repo: str, message: str) -> None:
        if not self.enabled:
            return
        with self.lock:
            self.state[repo] = message
            line = " | ".join(f"{r}: {m}" for r, m in list(self.state.items())[-3:])
            self.stream.write("\r\x1b[2K" + line[:200])
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.state:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


@click.command(name="github")
@click.option("--repo", "repos", multiple=True, metavar="OWNER/NAME",
              help="Sync only this repository (repeatable); default: [sources.github] repos / org.")
@pass_app
def command(app: AppContext, repos: tuple[str, ...]) -> None:
    """Sync pull requests, deployments and incident issues from GitHub (incremental; token from
    GITHUB_TOKEN, or a GitHub App via GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY_PATH)."""
    from collectors.github import sync

    progress = _Progress()
    try:
        report = sync(app.db_path, app.config, repos=repos or None, progress=progress)
    finally:
        progress.close()
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
