"""What every dashboard page shares: the sidebar filters, session-state keys, data loading,
formatting, tables with CSV download, drill-downs and empty states.

Filters live in the URL (widgets bound to ``st.query_params``), so a view survives a reload and can
be shared as a link. Data loads through ``load``: a short read-only connection per call, never held
across reruns (a held connection would block every sync), and results cached for the server process
(``RESULTS``) on the arguments plus the warehouse's last-write token, so a finished sync shows on the
next interaction without a restart. DORA figures read the facts of their range from one store
(metrics.facts), so a page's several groupings of one range compute the costly part once.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import streamlit as st

from cadence.core.config import NO_TEAM, Config, load_config, resolve_config_path, resolve_db_path
from cadence.core.errors import CadenceError
from cadence.core.lru import SingleFlightLRU
from cadence.core.scrub import install_log_scrubber, scrub
from warehouse.db import connect, last_write_token, read_connection
from warehouse.meta import effective_config, is_demo_database

log = logging.getLogger(__name__)
install_log_scrubber()   # every log line the dashboard writes, Streamlit's included

# -- session-state keys (the bound ones double as URL query-parameter names) -----------------------
KEY_RANGE = "range"          # date-range preset
KEY_DATES = "dates"          # custom start/end, shown when the preset is "custom"
KEY_TEAM = "team"
KEY_SCOPE = "scope"          # repo or service, as "repo:NAME" / "service:NAME"
KEY_PERIOD = "period"        # week / month
KEY_BENCHMARK = "benchmark"  # DORA benchmark year for the bands
KEY_FILTERS = "_cadence_filters"
# Capacity page (bound to the URL, so a scenario can be shared as a link)
KEY_GROWTH = "growth"        # expected traffic growth next quarter, percent
KEY_WEIGHT = "weight"        # investment balance weighted by change count or by coding effort
KEY_CONTRIBUTORS = "dc-"     # + team: planned change in that team's active contributors
KEY_SCENARIO_TEAMS = "dc"    # the teams whose contributors change (an input for each)
KEY_TAB = "tab"              # a page's tab shown (only that tab's content is computed and drawn)
# The pages split into tabs (page_tabs), by URL path, the first tab the default; the warm-up runs the others
TABS = {"delivery": ("Trends", "Per team", "Changes"),
        "stability": ("Trends", "Incidents", "Failed deployments"),
        "costs": ("Over time", "Movers and anomalies"),
        "capacity": ("Investment balance", "Contributors", "Next quarter", "Right-sizing")}

ALL = "All"
PRESETS = {
    "4w": "Last 4 weeks",
    "12w": "Last 12 weeks",
    "26w": "Last 26 weeks",
    "qtd": "This quarter",
    "lq": "Last quarter",
    "ytd": "This year",
    "12m": "Last 12 months",
    "custom": "Custom dates",
}
DEFAULT_PRESET = "12w"
PRESET_OF = {label: code for code, label in PRESETS.items()}
PERIOD_OF = {"Weekly": "week", "Monthly": "month"}
BENCHMARK_YEARS = ("2024", "2023", "2021")

BAND_COLORS = {"elite": "green", "high": "blue", "medium": "orange", "low": "red"}

# -- database and configuration -------------------------------------------------------------------

def db_path() -> Path:
    """The warehouse the dashboard reads: CADENCE_DB > config ``database`` > data/cadence.duckdb."""
    return resolve_db_path(None, _user_config())


def _config_token() -> str:
    path = resolve_config_path(None)
    if path is None:
        return "-"
    try:
        return f"{path}:{path.stat().st_mtime_ns}"
    except OSError:
        return f"{path}:missing"


def _user_config() -> Config:
    return _cached_user_config(_config_token(), os.environ.get("CADENCE_CONFIG", ""))


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_user_config(token: str, env: str) -> Config:
    return load_config(None)


@st.cache_resource(show_spinner=False, max_entries=16)
def _cached_effective_config(db: str, write_token: str, config_token: str) -> Config:
    return effective_config(_user_config(), db)


def config() -> Config:
    """The config metrics are computed with (the demo's teams on the demo database)."""
    db = db_path()
    return _cached_effective_config(str(db), last_write_token(db), _config_token())


@st.cache_data(show_spinner=False, max_entries=8)
def _cached_is_demo(db: str, write_token: str) -> bool:
    return is_demo_database(db)


def is_demo() -> bool:
    db = db_path()
    try:
        return _cached_is_demo(str(db), last_write_token(db))
    except CadenceError as exc:  # locked since the page started: say so, as load() does
        st.error(str(exc))
        st.stop()


# -- loading ---------------------------------------------------------------------------------------

_run = threading.local()


@contextmanager
def one_connection_per_run() -> Iterator[None]:
    """Let every cache miss of one script run share a single read-only connection, opened on the
    first miss and closed when the run ends (also on st.stop/st.rerun), never kept across runs."""
    _run.connection = None
    _run.db = None
    try:
        yield
    finally:
        con, _run.connection, _run.db = _run.connection, None, "unset"
        if con is not None:
            con.close()


def _connection(db: str):
    shared = getattr(_run, "db", "unset")
    if shared == "unset":  # outside app.py's run (a test calling load directly): one per call
        return read_connection(db)
    if _run.connection is None or _run.db != db:
        if _run.connection is not None:
            _run.connection.close()
        _run.connection, _run.db = connect(db, read_only=True), db
    return nullcontext(_run.connection)


class ResultCache(SingleFlightLRU):
    """Results of metrics calls for the whole server process, least recently used dropped first
    (at most ``max_entries`` and about ``max_bytes`` of frames). Keys carry the warehouse's last-write
    token, so a write makes every older entry unreachable (they age out).

    One computation per key at a time (cadence.core.lru): a second session (or the warm-up,
    cadence.dashboard.warm) asking for what is being computed waits for that result instead of
    computing it again. Hits return the stored objects themselves, without the copy ``st.cache_data``
    makes (it unpickles every hit: seconds for a frame of a few hundred thousand rows); frames come
    back as shallow copies (``_fresh``), which pandas' copy-on-write keeps from ever changing the
    stored one.
    """

    def __init__(self, max_entries: int = 512, max_bytes: int = 768 * 2**20) -> None:
        super().__init__(max_entries, max_bytes=max_bytes, size_of=_size_of)


def _size_of(value: Any) -> int:
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(index=False, deep=True).sum())   # strings counted: the bound holds
    if isinstance(value, (list, tuple)):
        return sum(_size_of(v) for v in value)
    return 64


def _fresh(value: Any) -> Any:
    """What a page gets from the cache: frames as shallow copies (copy-on-write: a page changing
    its copy never changes the stored frame), lists and tuples of them likewise."""
    if isinstance(value, pd.DataFrame):
        return value.copy(deep=False)
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_fresh(v) for v in value)
    return value


RESULTS = ResultCache()


def facts_store():
    """The server's store of DORA facts per range (metrics.facts): the rollup every DORA figure of
    a view reads, computed once per data version and range."""
    from metrics.facts import FactStore

    global _FACTS
    if _FACTS is None:
        _FACTS = FactStore(max_entries=6)
    return _FACTS


_FACTS = None


def clear_caches() -> None:
    """Forget every result, fact table and figure this process holds (and Streamlit's own caches):
    the next view computes from the warehouse again. For benchmarks that time cold views."""
    from cadence.dashboard import charts

    RESULTS.clear()
    if _FACTS is not None:
        _FACTS.clear()
    charts.clear_figures()
    st.cache_data.clear()
    st.cache_resource.clear()


def data_version(db: str, write_token: str, config_token: str) -> str:
    """What the fact store is keyed on: the warehouse, its last write and the config file."""
    return f"{db}|{write_token}|{config_token}"


def load_key(fn: Callable[..., Any], db: str, write_token: str, config_token: str,
             kwargs: dict[str, Any]) -> tuple:
    """The cache key of ``load(fn, **kwargs)``: the function, every argument, the database, its
    last write and the config file."""
    items = tuple(sorted(kwargs.items()))
    try:
        hash(items)
    except TypeError:
        items = repr(items)
    return (fn.__module__, fn.__qualname__, db, write_token, config_token, items)


def compute(fn: Callable[..., Any], db: str, write_token: str, config_token: str, kwargs: dict[str, Any]) -> Any:
    """``fn(con, config, **kwargs)`` on a read-only connection, DORA queries reading the fact store."""
    from metrics.facts import using_store

    cfg = _cached_effective_config(db, write_token, config_token)
    with using_store(facts_store(), data_version(db, write_token, config_token)), _connection(db) as con:
        return fn(con, cfg, **kwargs)


def load(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """Call a metrics function ``fn(con, config, **kwargs)`` on a short read-only connection.

    Cached for the server process (``RESULTS``) on the function, the arguments, the config file and
    the warehouse's last write. A ``CadenceError`` (locked database, bad config) becomes ``st.error``
    and stops the page.
    """
    db = str(db_path())
    try:
        token, config_token = last_write_token(db), _config_token()
        key = load_key(fn, db, token, config_token, kwargs)
        return _fresh(RESULTS.get(key, lambda: compute(fn, db, token, config_token, kwargs)))
    except CadenceError as exc:
        st.error(scrub(str(exc)))
        st.stop()


def load_derived(derive: Callable[[Any], Any], fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``derive(load(fn, **kwargs))``, cached beside that result: for work a page does on a large
    result every run (sorting a few hundred thousand changes for the 25 slowest) that is the same
    as long as the result is. ``derive`` must depend on nothing else."""
    db = str(db_path())
    try:
        token, config_token = last_write_token(db), _config_token()
        key = (*load_key(fn, db, token, config_token, kwargs), "derived", derive.__module__, derive.__qualname__)
        return _fresh(RESULTS.get(key, lambda: derive(load(fn, **kwargs))))
    except CadenceError as exc:
        st.error(scrub(str(exc)))
        st.stop()


# -- filters ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """The view every page shows: a date range (end inclusive), an optional team and repo/service,
    the trend period and the benchmark year of the bands."""

    start: date
    end: date
    preset: str
    team: str | None
    repo: str | None
    service: str | None
    period: str
    benchmark: str
    as_of: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Filters:
        """The equal-length period just before this one (for the change shown on each tile)."""
        return replace(self, start=self.start - timedelta(days=self.days),
                       end=self.start - timedelta(days=1))

    @property
    def by(self) -> str:
        if self.service:
            return "service"
        if self.repo:
            return "repo"
        return "team" if self.team else "org"

    @property
    def scope(self) -> str | None:
        return self.service or self.repo or self.team

    def dora_args(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for ``metrics.dora_metrics`` / ``metrics.drilldown`` of this view."""
        return {"start": self.start, "end": self.end, "by": self.by, "scope": self.scope, **extra}

    @property
    def scope_label(self) -> str:
        parts = [f"team {self.team}" if self.team else "all teams"]
        if self.repo:
            parts.append(f"repo {self.repo}")
        if self.service:
            parts.append(f"service {self.service}")
        return " · ".join(parts)

    @property
    def range_label(self) -> str:
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y} ({self.days} days)"


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def preset_range(preset: str, as_of: date) -> tuple[date, date]:
    """Start and end (inclusive) of a preset, ending at ``as_of``. Week presets start on a Monday
    so weekly trends show whole weeks."""
    if preset in ("4w", "12w", "26w"):
        weeks = int(preset[:-1])
        return week_start(as_of) - timedelta(weeks=weeks - 1), as_of
    if preset == "qtd":
        return quarter_start(as_of), as_of
    if preset == "lq":
        end = quarter_start(as_of) - timedelta(days=1)
        return quarter_start(end), end
    if preset == "ytd":
        return date(as_of.year, 1, 1), as_of
    if preset == "12m":
        first = date(as_of.year - 1, as_of.month, 1)
        return first, as_of
    raise ValueError(f"unknown preset {preset!r}")


def as_of_day() -> date:
    """The day the date-range presets end on (see ``_as_of``)."""
    return _as_of(_today())


def _as_of(today: date) -> date:
    """The last day with data (capped at today), so presets on a demo or stale warehouse still show
    data; today when the warehouse is empty."""
    from metrics.catalog import data_extent

    extent = load(data_extent)
    last = extent["last_date"].dropna().max() if not extent.empty else None
    if last is None or pd.isna(last):
        return today
    return min(pd.Timestamp(last).date(), today)


def _today() -> date:
    """Today in UTC, from cadence.core.clock: ``CADENCE_NOW`` pins it (tests, benchmarks, screenshots)."""
    from cadence.core.clock import utcnow

    return utcnow().date()


def _scope_label(option: str) -> str:
    """"repo:shop/api" -> "shop/api (repo)"; the label is also what the URL carries."""
    if option == ALL:
        return option
    kind, _, value = option.partition(":")
    return f"{value} ({kind})"


def sidebar_filters() -> Filters:
    """Draw the shared filters in the sidebar and return the view; call once per run (app.py)."""
    from metrics.catalog import scope_options

    cfg = config()
    as_of = _as_of(_today())
    st.sidebar.markdown("### Filters")
    # Options are the labels themselves: a bound widget writes its shown text into the URL.
    labels = list(PRESETS.values())
    label = st.sidebar.selectbox("Date range", labels, index=labels.index(PRESETS[DEFAULT_PRESET]),
                                 key=KEY_RANGE, bind="query-params")
    preset = PRESET_OF[label]
    if preset == "custom":
        default = preset_range(DEFAULT_PRESET, as_of)
        picked = st.sidebar.date_input("From – to", value=default, key=KEY_DATES, bind="query-params",
                                       max_value=max(as_of, _today()))
        if not picked:
            start, end = default
        elif len(picked) == 1:  # the second date not picked yet: one day
            start = end = picked[0]
        else:
            start, end = min(picked), max(picked)
    else:
        start, end = preset_range(preset, as_of)
        st.sidebar.caption(f"{start:%d %b %Y} – {end:%d %b %Y} · data through {as_of:%d %b %Y}")
    synced_caption()

    options = load(scope_options)
    # "(no team)" is offered when some repo or service belongs to no team; it sorts last.
    teams = sorted(set(cfg.teams) | set(options["team"].dropna()), key=lambda t: (t == NO_TEAM, t))
    team = st.sidebar.selectbox("Team", [ALL, *teams], key=KEY_TEAM, bind="query-params",
                                help="Teams come from cadence.toml; pick one to filter every page.")
    mine = options if team == ALL else options[options["team"] == team]
    scopes = [f"{k}:{v}" for k, v in zip(mine["kind"], mine["value"], strict=True)]
    scope = st.sidebar.selectbox("Repo or service", [ALL, *scopes], key=KEY_SCOPE, bind="query-params",
                                 format_func=_scope_label)
    period = PERIOD_OF[st.sidebar.segmented_control("Trend period", list(PERIOD_OF), default="Weekly",
                                                    required=True, key=KEY_PERIOD, bind="query-params")
                       or "Weekly"]
    default_year = cfg.benchmark if cfg.benchmark in BENCHMARK_YEARS else BENCHMARK_YEARS[0]
    benchmark = st.sidebar.selectbox("DORA benchmark", BENCHMARK_YEARS, index=BENCHMARK_YEARS.index(default_year),
                                     key=KEY_BENCHMARK, bind="query-params",
                                     help="Which published DORA clusters the performance bands use.")
    kind, _, value = scope.partition(":") if scope != ALL else ("", "", "")
    filters = Filters(start=start, end=end, preset=preset, team=None if team == ALL else team,
                      repo=value if kind == "repo" else None, service=value if kind == "service" else None,
                      period=period, benchmark=benchmark, as_of=as_of)
    st.session_state[KEY_FILTERS] = filters
    return filters


def synced_caption() -> None:
    """"Data as of …": the end of the latest successful sync `cadence serve` ran (job_runs); nothing
    when the warehouse has none (filled by hand, or the demo)."""
    from metrics.service import data_as_of

    synced = load(data_as_of)["synced_at"].iloc[0]
    if not pd.isna(synced):
        st.sidebar.caption(f"Data as of {pd.Timestamp(synced):%d %b %Y %H:%M} UTC (latest scheduled sync)")


def start() -> bool:
    """Check the config and the database, then draw the filters; False (with the reason shown)
    when no page can run."""
    try:
        db = db_path()
        config()
    except CadenceError as exc:
        st.error(scrub(str(exc)), icon=":material/error:")
        return False
    if not db.exists():
        st.error(f'No database at "{db}". Run `cadence demo` for demo data, or `cadence sync github` / '
                 "`cadence ingest deployments FILE` to start your own; set `CADENCE_DB` to use another file.",
                 icon=":material/database:")
        return False
    sidebar_filters()
    return True


def filters() -> Filters:
    """The view chosen in the sidebar this run (app.py draws the sidebar before the page runs)."""
    _ensure_app_ran()
    return st.session_state[KEY_FILTERS]


def _ensure_app_ran() -> None:
    """Streamlit quirk: the very first run of a fresh server decides "pages folder or
    st.navigation?" before app.py runs; a page folder named pages/ makes it pick the old
    folder mode, so a first request for e.g. /delivery runs that page file *without* app.py. Switch
    the mode off (what st.navigation does) and rerun, so app.py draws the sidebar and the page."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def focus_team(team: str | None) -> None:
    """Filter every page to ``team`` (a callback: runs before the sidebar is drawn again)."""
    st.session_state[KEY_TEAM] = team or ALL
    st.session_state[KEY_SCOPE] = ALL


# -- page furniture --------------------------------------------------------------------------------

def header(title: str, subtitle: str | None = None) -> Filters:
    """Page title, the view it shows, and the filters."""
    f = filters()
    st.title(title)
    st.caption(f"{subtitle + ' · ' if subtitle else ''}{f.scope_label} · {f.range_label}")
    return f


def fill_commands(table: str) -> str:
    """What to run to fill ``table``, from the source registry: each ``cadence sync`` that fills it,
    then ``cadence ingest`` when files can ("`cadence sync github` or `cadence ingest changes FILE`")."""
    from collectors import registry

    commands = [f"`cadence sync {s.command}`" for s in registry.pulled() if table in s.tables]
    if table in registry.get("files").tables:
        commands.append(f"`cadence ingest {table} FILE`")
    if not commands:
        return "`cadence sync` or `cadence ingest`"
    return commands[0] if len(commands) == 1 else f"{', '.join(commands[:-1])} or {commands[-1]}"


def demo_banner() -> None:
    if is_demo():
        from collectors import registry

        first, *others = [f"`cadence sync {s.command}`" for s in registry.pulled()]
        st.info("**Demo data.** This is a generated organisation, not yours. To see your own numbers, "
                "copy `cadence.example.toml` to `cadence.toml`, set `GITHUB_TOKEN`, then run "
                f"{first} (and {', '.join(others)}) or `cadence ingest deployments FILE`; point `CADENCE_DB` "
                "at that database.", icon=":material/science:")


def empty_state(what: str, extra: str = "") -> None:
    """Say there is nothing to show and what to run to fill it."""
    command = fill_commands(what)
    st.info(f"No {what} in this view yet — run {command}{extra}, or widen the date range.",
            icon=":material/inbox:")


def band_badge(band: str | None, year: str, container: Any = st) -> None:
    if not band or pd.isna(band):
        container.badge("no band", color="gray", help="Not enough data in this view for a DORA band.")
        return
    container.badge(f"{str(band).capitalize()} · DORA {year}", color=BAND_COLORS.get(str(band), "gray"),
                    help=f"Performance band from the DORA {year} benchmark clusters.")


def csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV as the export writes it: stable number formats, spreadsheet formulas neutralised."""
    from metrics.export import to_csv_bytes

    return to_csv_bytes(df)


def cost_team(f: Filters) -> str | None:
    """The team whose cost this view shows: the picked team, or the one team owning the picked repo
    or service (cost is allocated to teams, not to repos or services); None for the organisation."""
    if f.team:
        return f.team
    if f.repo or f.service:
        owners = config().teams_of("service" if f.service else "repo", f.scope)
        return owners[0] if len(owners) == 1 else None
    return None


def cost_in_view(costs: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Rows of a by-team cost table that belong to the view (every team's for the organisation)."""
    team = cost_team(f)
    if costs.empty or team is None:
        return costs
    return costs[costs["scope"] == team]


def in_view(df: pd.DataFrame, kind: str, f: Filters, column: str = "scope") -> pd.DataFrame:
    """Rows of a by-repo or by-service table that belong to the view (the picked repo/service, or
    the repos/services the picked team owns)."""
    if df.empty:
        return df
    if kind == "repo" and f.repo:
        return df[df[column] == f.repo]
    if kind == "service" and f.service:
        return df[df[column] == f.service]
    if f.team:
        cfg = config()
        owners = [cfg.teams_of(kind, v) for v in df[column]]
        return df[[f.team in o or (f.team == NO_TEAM and not o) for o in owners]]
    return df


def slos_in_view(status: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Rows of ``metrics.slo.slo_status`` (already of the picked team) that belong to the view: the
    picked service's SLOs when a service is picked. SLOs belong to services, so a picked repo keeps
    the team's (or every) SLO."""
    if f.service and not status.empty:
        return status[status["service"] == f.service].reset_index(drop=True)
    return status


def metrics_table(f: Filters, *, key: str) -> None:
    """The view's metrics per period in the export's columns (``cadence export``), downloadable."""
    from metrics.export import export_metrics_table

    box = rows_expander(f"Metrics per {f.period} (the export's columns)", key=key, icon=":material/table_chart:")
    if box is None:
        return
    with box:
        rows = load(export_metrics_table, start=f.start, end=f.end, by=f.by if f.by != "org" else "org",
                    period=f.period, benchmark=f.benchmark, scope=f.scope)
        if rows.empty:
            empty_state("deployments")
            return
        table(rows, f"metrics-{f.by}-{f.start}-{f.end}", key=f"{key}-table")


def table(df: pd.DataFrame, name: str, *, key: str, column_config: dict | None = None,
          height: int | str = "auto", **kwargs: Any) -> Any:
    """A dataframe with a CSV download of its rows (all columns, as the export writes them). A scope
    column that holds one value only (e.g. "all") is left out of the view, not out of the file.
    Without the ``cost`` role, cost columns are left out of both (``without_costs``)."""
    df = without_costs(df)  # the backstop: a page that forgot the role still sends no money column
    column_config = {k: v for k, v in (column_config or {}).items() if k in df.columns}
    if "scope" in df.columns and df["scope"].nunique(dropna=False) <= 1:
        column_config.setdefault("scope", None)
    shown = st.dataframe(df, hide_index=True, column_config=column_config, height=height, key=key, **kwargs)
    # A large table's file is made when the button is clicked, not on every run (its CSV takes longer
    # to write than the rest of the page); a small one's with the page.
    data = (lambda: csv_bytes(df)) if len(df) > DEFERRED_CSV_ROWS else csv_bytes(df)
    st.download_button("Download CSV", data, file_name=f"cadence-{name}.csv", mime="text/csv",
                       key=f"{key}-csv", icon=":material/download:", on_click="ignore")
    return shown


DEFERRED_CSV_ROWS = 5_000


DRILL_LABELS = {"deployments": "deployments", "changes": "changes", "incidents": "incidents"}


def health_findings(health: pd.DataFrame) -> None:
    """Coverage figures from ``metrics.health.data_health``, each with what to do about it."""
    if health.empty:
        st.info("Nothing to check yet in this view.", icon=":material/inbox:")
        return
    table(health, "data-health", key="dh-health", height=35 * (len(health) + 1) + 3, column_config={
        "check": st.column_config.TextColumn("check", width="large"),
        "value": st.column_config.NumberColumn("count", format="localized"),
        "total": st.column_config.NumberColumn("of", format="localized"),
        "share": st.column_config.ProgressColumn("share", format="percent", min_value=0, max_value=1),
        "what_to_do": st.column_config.TextColumn("what to do", width="large")})
    found = health[health["value"] > 0].sort_values("share", ascending=False)
    if len(found):
        st.markdown("**What the non-zero findings mean and what to do**\n\n" + "\n".join(
            f"- **{r.check}** — {r.value:,} of {r.total:,} ({fmt_pct(r.share)}): {r.what_to_do}"
            for r in found.itertuples()))


def page_tabs(page: str) -> dict[str, Any]:
    """``page``'s tabs (``TABS``), by name: ``st.tabs`` bound to the URL as ``?tab=``, so only the open
    tab's ``.open`` is True and a page computes and draws only that tab's content."""
    names = TABS[page]
    return dict(zip(names, st.tabs(names, key=KEY_TAB, bind="query-params"), strict=True))


def rows_expander(label: str, *, key: str, icon: str = ":material/table_rows:") -> Any:
    """An expander whose content is computed only while it is open (returns None when closed), so
    the rows behind a page cost nothing until someone asks for them."""
    box = st.expander(label, key=key, icon=icon, on_change="rerun")
    return box if box.open else None


def drilldown(kind: str, f: Filters, label: str | None = None, *, key: str) -> None:
    """An expander with the rows behind a number (``metrics.drilldown``), downloadable."""
    from metrics import drilldown as drill

    box = rows_expander(label or f"Open the {kind} behind these numbers", key=key)
    if box is None:
        return
    with box:
        rows = load(drill, kind=kind, **f.dora_args())
        if rows.empty:
            empty_state(kind)
            return
        st.caption(f"{len(rows):,} {kind} · {f.scope_label} · {f.range_label}")
        table(rows, f"{kind}-{f.start}-{f.end}", key=f"{key}-table", column_config=_drill_columns(rows))


def _drill_columns(df: pd.DataFrame) -> dict:
    cfg = {}
    for col in df.columns:
        if col.endswith("_hours"):
            cfg[col] = st.column_config.NumberColumn(col.replace("_", " "), format="%.1f h")
        elif col in ("url", "link_url", "pr_url"):
            cfg[col] = st.column_config.LinkColumn(col)
    return cfg


# -- formatting ------------------------------------------------------------------------------------

def is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or (not isinstance(v, str) and pd.isna(v))


def fmt_hours(h: Any) -> str:
    """Hours as the unit a lead reads fastest: minutes, hours or days."""
    if is_missing(h):
        return "—"
    h = float(h)
    if h < 1:
        return f"{h * 60:.0f} min"
    if h < 48:
        return f"{h:.1f} h"
    return f"{h / 24:.1f} days"


def fmt_pct(x: Any, digits: int = 1) -> str:
    return "—" if is_missing(x) else f"{float(x) * 100:.{digits}f} %"


def fmt_money(x: Any, currency: str = "$") -> str:
    if is_missing(x):
        return "—"
    x = float(x)
    if abs(x) >= 1_000_000:
        return f"{currency}{x / 1_000_000:,.2f}M"
    if abs(x) >= 10_000:
        return f"{currency}{x / 1000:,.1f}k"
    return f"{currency}{x:,.0f}"


def fmt_per_week(x: Any) -> str:
    return "—" if is_missing(x) else f"{float(x):,.1f} / week"


def fmt_number(x: Any, digits: int = 1) -> str:
    return "—" if is_missing(x) else f"{float(x):,.{digits}f}"


def change(current: Any, previous: Any, *, kind: str = "relative") -> str | None:
    """The change against the previous period as a signed label, None when it cannot be said."""
    if is_missing(current) or is_missing(previous):
        return None
    current, previous = float(current), float(previous)
    if kind == "points":
        return f"{(current - previous) * 100:+.1f} pp"
    if previous == 0:
        return None
    return f"{(current / previous - 1) * 100:+.0f} %"


# -- sign-in and roles (cadence.auth) --------------------------------------------------------------

def auth_settings():
    """The config's ``[auth]`` section, re-read when the file changes (None when there is none)."""
    return _user_config().auth


def can_see_costs() -> bool:
    """Whether this run's user holds the ``cost`` role (always, on a dashboard without sign-in).
    Pages leave out every cost figure, column, download and drill-down when it is False."""
    from cadence.auth.gate import current_access

    return current_access().can("cost")


def can_see_admin_details() -> bool:
    """Whether this run's user holds the ``admin`` role: Data health's cursors and errors, and any
    button that starts a sync."""
    from cadence.auth.gate import current_access

    return current_access().can("admin")


# Columns that carry money (or come from the cloud bill) and so need the ``cost`` role: every name with
# "cost" in it (effective_cost, cost_per_deployment, cost_of_idle, ...) and these.
COST_COLUMN_NAMES = frozenset({"utilization", "commitment_utilization", "coverage", "currency"})


def is_cost_column(name: Any) -> bool:
    text = str(name).lower()
    return "cost" in text or text in COST_COLUMN_NAMES


def without_costs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without its cost columns for a user without the ``cost`` role (unchanged otherwise)."""
    if can_see_costs():
        return df
    return df.drop(columns=[c for c in df.columns if is_cost_column(c)])


def require_costs() -> None:
    """Stop a page that is all about money for a user without the ``cost`` role. The navigation
    does not offer such pages to them; this holds even if something links there anyway."""
    if not can_see_costs():
        st.title("Not available")
        st.info("This page shows cost figures, which your sign-in's roles do not include; ask whoever runs "
                "Cadence for the cost role if you need it.", icon=":material/lock:")
        st.stop()
