"""``cadence report capacity``: the quarterly capacity review as one self-contained HTML file.

A thin shell over ``cadence.report.capacity.capacity_report_html`` (the Capacity page's "Download
report" button calls the same function, so both give the same bytes). The file is written whole or
not at all: to a temporary file beside the target, then renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from cadence.cli import AppContext, pass_app
from cadence.core.errors import CadenceError


@click.group(name="report")
def command() -> None:
    """Documents to read away from the dashboard (capacity review)."""


def _contributor_change(values: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    out = {}
    for raw in values:
        team, sep, number = raw.partition("=")
        try:
            if not sep or not team.strip():
                raise ValueError
            out[team.strip()] = int(number)
        except ValueError:
            raise click.BadParameter(f'"{raw}" is not TEAM=N (e.g. checkout=+2 or data=-1).',
                                     param_hint="--contributors") from None
    return tuple(sorted(out.items()))


@command.command(name="capacity")
@click.option("--quarter", "quarter", metavar="YYYY-Qn",
              help="The quarter to review, e.g. 2026-Q4 (default: the current quarter, up to today).")
@click.option("--out", "out", metavar="FILE.html", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the document (default: capacity-review-YYYY-Qn.html here).")
@click.option("--traffic-growth", type=float, default=None, metavar="PCT",
              help="Expected traffic growth next quarter in percent (default: [capacity] traffic_growth, 0).")
@click.option("--contributors", "contributors", multiple=True, metavar="TEAM=N",
              help="Planned change in a team's active contributors next quarter, e.g. checkout=+2 (repeatable).")
@pass_app
def capacity(app: AppContext, quarter, out, traffic_growth, contributors) -> None:
    """Write the quarterly capacity review: the organisation summary, then a page per team with
    throughput and contributors, investment balance, DORA keys with bands, cost, idle and saving,
    next quarter's forecast and the changes behind the unplanned share. One HTML file that opens
    offline and prints on A4."""
    from cadence.core.clock import utcnow
    from cadence.report.capacity import capacity_report_html
    from metrics.capacity import quarter_label, quarter_of
    from metrics.capacity_review import check_scenario, parse_quarter
    from warehouse import read_connection

    today = utcnow().date()
    label = quarter or quarter_label(quarter_of(today))
    start = parse_quarter(label)
    if start > today:
        raise CadenceError(f"quarter {label} has not started yet (today is {today}); pick a past or the current "
                           "quarter.")
    change = _contributor_change(contributors)
    check_scenario(traffic_growth or 0.0, dict(change))
    config = app.effective_config
    target = out or Path(f"capacity-review-{quarter_label(start)}.html")
    if not app.db_path.exists():
        raise CadenceError(f"database {app.db_path} does not exist; run `cadence demo` or a sync first, or pass --db.")
    with read_connection(app.db_path) as con:
        html = capacity_report_html(con, config, quarter_label(start), as_of=today, traffic_growth=traffic_growth,
                                    contributor_change=change)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes it private; a report is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    click.echo(f"Capacity review {quarter_label(start)} written to {target} ({len(html) / 1024:.0f} KB).")
