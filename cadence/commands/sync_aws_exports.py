"""``cadence sync aws-exports``: AWS Data Exports (CUR 2.0 or FOCUS 1.0) into ``costs``, incremental
by billing period, from S3 (``[sources.aws_exports]``, collectors/aws_exports/s3.py) and/or through
Athena (``[sources.aws.athena]``, collectors/aws_exports/athena.py). Credentials and endpoints come
from boto3's standard chain."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import ConfigError


@click.command(name="aws-exports")
@click.option("--location", "locations", multiple=True, metavar="S3_URI",
              help="Read this s3://bucket/prefix/ (repeatable) instead of [sources.aws_exports] location.")
@click.option("--only", type=click.Choice(["s3", "athena"]),
              help="Only the S3 reader or only Athena; default: whichever is configured.")
@click.option("--full", is_flag=True, help="Re-read every billing period, changed or not.")
@pass_app
def command(app: AppContext, locations: tuple[str, ...], only: str | None, full: bool) -> None:
    """Sync AWS Data Exports into costs: only billing periods whose files changed are read again."""
    config = app.config
    use_s3 = only != "athena" and (bool(locations) or "aws_exports" in config.sources)
    use_athena = only != "s3" and "athena" in config.source("aws")
    if not use_s3 and not use_athena:
        raise ConfigError("Nothing to sync: set [sources.aws_exports] location = \"s3://bucket/prefix/\" (or give "
                          "--location), or [sources.aws.athena] to query the export with Athena.")
    if use_s3:
        from collectors.aws_exports import s3

        for report in s3.sync(app.db_path, config, locations=list(locations) or None, full=full):
            for line in report.lines():
                click.echo(line)
    if use_athena:
        from collectors.aws_exports import athena

        for line in athena.sync(app.db_path, config, full=full).lines():
            click.echo(line)
