"""``cadence metrics``: the DORA metrics per scope and period, as a table, CSV or JSON.

A thin shell over ``metrics.dora_metrics`` on a read-only connection (so it runs beside a sync).
Also holds the output helpers that ``cadence drilldown`` shares.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import TYPE_CHECKING

import click

from cadence.cli import DAY, AppContext, pass_app
from cadence.core.config import BENCHMARKS, Config

if TYPE_CHECKING:   # pandas is imported where used: every CLI command starts faster without it
    import pandas as pd

BY_CHOICES = ("org", "team", "repo", "service")
FORMATS = ("table", "csv", "json")
DATE = DAY   # YYYY-MM-DD within the dates Cadence computes with


def _plain(value):
    """A JSON/CSV-ready value: dates as YYYY-MM-DD, times as YYYY-MM-DDTHH:MM:SSZ, NaN as None."""
    import pandas as pd

    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict]:
    """The frame as a list of plain dicts (column order kept)."""
    columns = list(df.columns)
    return [{c: _plain(v) for c, v in zip(columns, row)} for row in df.itertuples(index=False)]


def render(df: pd.DataFrame, fmt: str) -> str:
    """The frame as text: an aligned table, CSV with a header (as `cadence export` writes it), or a
    JSON list of objects."""
    if fmt == "csv":
        # The one CSV writer (the export's): fixed number formats, formula-like text neutralised.
        from metrics.export import to_csv_bytes

        return to_csv_bytes(df).decode("utf-8").removesuffix("\n")
    rows = records(df)
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if not rows:
        return "(no rows)"
    import pandas as pd

    shown = pd.DataFrame([{c: ("-" if v is None else f"{v:.2f}" if isinstance(v, float) else v)
                           for c, v in row.items()} for row in rows], columns=list(df.columns))
    return shown.to_string(index=False)


def team_filter(config: Config, team: str | None, by: str, scope: str | None):
    """(by, scope, keep): how --team narrows a request. By org or team it becomes the team's scope;
    by repo or service it keeps the team's repos or services (``keep``, applied to the rows)."""
    if not team:
        return by, scope, None
    owned = config.require_team(team)
    if by in ("org", "team"):
        return "team", team, None
    return by, scope, set(owned.repos if by == "repo" else owned.services)


def keep_scopes(df: pd.DataFrame, keep: set[str] | None) -> pd.DataFrame:
    if keep is None:
        return df
    return df[df["scope"].isin(keep)].reset_index(drop=True)


def range_options(fn):
    fn = click.option("--scope", metavar="VALUE", help="Keep only this scope value (a team, repo or service name).")(fn)
    fn = click.option("--team", metavar="NAME", help="Only this team: by org/team its own row; by repo/service its repos/services.")(fn)
    fn = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
                      help="Output format.")(fn)
    fn = click.option("--by", type=click.Choice(BY_CHOICES), default="org", show_default=True,
                      help="Group by: the whole org (scope \"all\"), team, repo or service.")(fn)
    fn = click.option("--end", type=DATE, required=True, help="Last day, inclusive (YYYY-MM-DD, UTC).")(fn)
    fn = click.option("--start", type=DATE, required=True, help="First day (YYYY-MM-DD, UTC).")(fn)
    return fn


def check_range(start: datetime, end: datetime) -> tuple[date, date]:
    if end < start:
        raise click.BadParameter(f"--end {end:%Y-%m-%d} is before --start {start:%Y-%m-%d}.",
                                 param_hint="--end")
    return start.date(), end.date()


@click.command(name="metrics")
@range_options
@click.option("--period", type=click.Choice(("week", "month", "total")), default="week", show_default=True,
              help="One row per ISO week (Monday, UTC), calendar month, or the whole range.")
@click.option("--benchmark", type=click.Choice(BENCHMARKS), default=None,
              help="DORA report year for the performance bands (default: config `benchmark`, else 2024).")
@pass_app
def command(app: AppContext, start, end, by, fmt, team, scope, period, benchmark) -> None:
    """Print the DORA metrics (deployment frequency, lead time, change failure rate, recovery time,
    rework rate) and their bands, one row per scope and period. See docs/metrics.md."""
    from metrics import dora_metrics
    from warehouse import read_connection

    start_day, end_day = check_range(start, end)
    config = app.effective_config
    by, scope, keep = team_filter(config, team, by, scope)
    with read_connection(app.db_path) as con:
        df = dora_metrics(con, config, start_day, end_day, by=by, period=period,
                          benchmark=benchmark, scope=scope)
    click.echo(render(keep_scopes(df, keep), fmt))
