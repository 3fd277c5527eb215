"""Vega-Lite charts for the dashboard (``st.vega_lite_chart``): every chart has a title, axis units
and a tooltip with the exact values. Colours come from the Streamlit theme (``theme="streamlit"``),
so the same chart reads in light and dark mode; only the few semantic colours (band, anomaly,
forecast) are fixed, and they were picked to keep contrast on both backgrounds.

Why Vega-Lite and not Plotly (issue 23, measured in headless Chromium on the 2-core machine): six
charts cost the browser about 0.45 s to draw with Plotly and 0.22 s with Vega-Lite on every visit,
and the first page with a Plotly chart loads and starts Plotly's 4.7 MB bundle (1.5 s), while the
Overview's trend charts need Vega anyway (docs/performance.md). The Overview's tile sparklines are
small SVG images (``sparkline``), not Vega views.

A builder returns a ``Chart``: the spec and the long-format rows it reads. Charts are built once per
data version: each builder below is memoised on a fingerprint of its arguments (the frames'
contents, not their identity), so a rerun, a revisit or another session drawing the same rows gets
the chart already built. A builder's chart is shared, so it is never changed in place:
``mark_anomalies`` returns a new one, and ``show`` hands Streamlit a copy of the spec.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

ANOMALY = "#e4572e"
FORECAST = "#8e7dbe"
ACTUAL = "#4f6bed"        # the theme's first categorical colour (.streamlit/config.toml), for the forecast's legend
BAND_FILL = "#8e7dbe"     # drawn at BAND_OPACITY
BAND_OPACITY = 0.22
HEIGHT = 300              # a chart's whole height: title, legend, axes and plot (Streamlit sizes it to fit)
ROW = 28                  # per bar of a horizontal chart, per service of the timeline
DECORATION = 150          # what a chart's title, legend and axes take of its height

# How a value reads in a tooltip (d3-format), per unit, and the unit's axis title and tick format.
FORMAT = {"hours": ",.1f", "fraction": ".1%", "count": ",.0f", "per week": ",.2f", "USD": "$,.2f",
          "days": ",.1f", "minutes": ",.1f"}
AXIS = {"hours": "hours", "fraction": "%", "count": "count", "per week": "deploys / week", "USD": "USD",
        "days": "days"}
TICKS = {"fraction": ".0%", "USD": "$,.0f"}
LEGEND = {"orient": "top", "title": None, "labelLimit": 240}
LEGEND_CHARS = 36         # a legend's labels (characters in all) that fit on one row of a narrow chart
DATE_FORMAT = {"week": "%d %b %Y", "month": "%b %Y", "day": "%a %d %b %Y", "quarter": "%b %Y"}
DATE_TITLE = {"week": "week of", "month": "month", "day": "day", "quarter": "quarter from"}


@dataclass(frozen=True, eq=False)
class Chart:
    """A Vega-Lite ``spec`` and the ``data`` it reads (shared once built: never changed)."""

    spec: dict
    data: pd.DataFrame = field(default_factory=pd.DataFrame)
    # a stack's rows: each of its charts reads its own named dataset (``stack``)
    datasets: dict[str, pd.DataFrame] = field(default_factory=dict)


MAX_FIGURES = 256
_figures: OrderedDict[tuple, Chart] = OrderedDict()
_figures_lock = threading.Lock()


def _fingerprint(value: Any) -> Any:
    """A hashable stand-in for an argument: frames and series by their contents (columns, types,
    index and values, in order), containers element by element, anything else as itself."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        digest = hashlib.blake2b(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes(),
                                 digest_size=16).hexdigest()
        shape = (tuple(map(str, value.columns)), tuple(map(str, value.dtypes))) \
            if isinstance(value, pd.DataFrame) else (str(value.name), str(value.dtype))
        return (type(value).__name__, shape, digest)
    if isinstance(value, dict):
        return ("dict", tuple((k, _fingerprint(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_fingerprint(v) for v in value))
    hash(value)   # anything else must be hashable as it is (TypeError: not memoised)
    return value


def once_per_data(builder: Callable[..., Chart] | None = None, *,
                  reads: Callable[..., Sequence[Any]] | None = None) -> Any:
    """Memoise a chart builder on its arguments' contents (see the module's docstring). ``reads``
    (given the builder's arguments) names the columns of the first argument, a frame, that the
    builder reads: only those are fingerprinted and passed on (a metrics frame has dozens)."""
    if builder is None:
        return functools.partial(once_per_data, reads=reads)

    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> Chart:
        if reads is not None and args and isinstance(args[0], pd.DataFrame):
            frame = args[0]
            used = [c for c in dict.fromkeys(reads(*args, **kwargs)) if c is not None and c in frame.columns]
            args = (frame[used], *args[1:])
        try:
            key = (builder.__name__, _fingerprint(args), _fingerprint(tuple(sorted(kwargs.items()))))
        except TypeError:   # an argument with no fingerprint (cells holding lists): build it every time
            return builder(*args, **kwargs)
        with _figures_lock:
            chart = _figures.get(key)
            if chart is not None:
                _figures.move_to_end(key)
                return chart
        chart = builder(*args, **kwargs)
        with _figures_lock:
            _figures[key] = chart
            while len(_figures) > MAX_FIGURES:
                _figures.popitem(last=False)
        return chart
    return build


def clear_figures() -> None:
    """Forget the memoised figures (cadence.dashboard.ui.clear_caches)."""
    with _figures_lock:
        _figures.clear()


def _titled(title: str, height: int = HEIGHT, **spec: Any) -> dict:
    return {"title": {"text": title, "anchor": "start", "fontSize": 15, "offset": 12},
            "height": height, **spec}


def _is_time(values: pd.Series) -> bool:
    """Dates or timestamps (DuckDB's DATE columns arrive as datetime.date objects)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if values.dtype != object:
        return False
    first = values.dropna().head(1)
    return len(first) == 1 and isinstance(first.iloc[0], date)


def _as_time(values: pd.Series) -> pd.Series:
    """``values`` as datetime64 (UTC wall time, no zone): what the spec's utc scales read."""
    stamps = pd.to_datetime(values)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


def _time_x(x: str, period: str, title: str | None = None) -> dict:
    """A date axis on a UTC scale (labels in UTC whatever the viewer's zone)."""
    return {"field": x, "type": "temporal", "title": title, "scale": {"type": "utc"},
            "axis": {"format": "%d %b" if period not in ("month", "quarter") else "%b %Y", "labelOverlap": True}}


def _when(values: pd.Series, period: str) -> pd.Series:
    """Dates written out for tooltips (in Python, so no viewer's time zone can shift them)."""
    return values.dt.strftime(DATE_FORMAT.get(period, "%d %b %Y"))


def _time_tip(period: str) -> dict:
    return {"field": "when", "title": DATE_TITLE.get(period, "date")}


def _value_y(unit: str, field_name: str = "value", *, title: str | None = None, stack: bool = False) -> dict:
    axis: dict[str, Any] = {"title": AXIS.get(unit, unit) if title is None else title}
    if unit in TICKS:
        axis["format"] = TICKS[unit]
    enc = {"field": field_name, "type": "quantitative", "axis": axis, "scale": {"zero": True}}
    if not stack:
        enc["stack"] = None
    return enc


def _value_tip(unit: str, title: str, field_name: str = "value") -> dict:
    return {"field": field_name, "type": "quantitative", "title": title, "format": FORMAT.get(unit, ",.2f")}


def _period_of(values: pd.Series) -> str:
    """week, month, day or quarter: the most common step between sorted distinct dates."""
    days = pd.Series(sorted(values.dropna().unique())).diff().dt.days.dropna()
    step = days.median() if len(days) else 7
    return "day" if step <= 1 else ("week" if step <= 7 else ("month" if step <= 31 else "quarter"))


def _band_end(values: pd.Series) -> pd.Series:
    """Where a bar that starts at each date ends: 85 % of the step between dates (a gap between bars)."""
    days = pd.Series(sorted(values.dropna().unique())).diff().dropna()
    step = days.median() if len(days) else pd.Timedelta(days=1)
    return values + step * 0.85


@once_per_data(reads=lambda df, x, series, **_: [x, *series])
def lines(df: pd.DataFrame, x: str, series: dict[str, str], *, title: str, unit: str,
          period: str = "week", dash: Sequence[str] = ()) -> Chart:
    """One line per column in ``series`` ({column: legend label}); dotted for the columns in ``dash``."""
    cols = [c for c in series if c in df]
    long = df[[x, *cols]].melt(id_vars=[x], value_vars=cols, var_name="column", value_name="value")
    long["series"] = long["column"].map(series)
    long = long.drop(columns="column")
    labels = [series[c] for c in cols]
    temporal = _is_time(df[x])
    if temporal:
        long[x] = _as_time(long[x])
        long["when"] = _when(long[x], period)
    encoding: dict[str, Any] = {
        "x": _time_x(x, period) if temporal else {"field": x, "type": "ordinal", "title": None, "sort": None},
        "y": _value_y(unit),
        "tooltip": [_time_tip(period) if temporal else {"field": x, "title": x}, {"field": "series"},
                    _value_tip(unit, AXIS.get(unit, unit))],
    }
    if len(labels) > 1:
        legend = {**LEGEND, "symbolType": "stroke"}
        if sum(len(label) for label in labels) > LEGEND_CHARS:   # one row would run past a narrow chart's edge
            legend["columns"] = 1
        encoding["color"] = {"field": "series", "type": "nominal", "scale": {"domain": labels}, "legend": legend}
    if any(c in dash for c in cols):
        encoding["strokeDash"] = {"field": "series", "type": "nominal", "legend": None,
                                  "scale": {"domain": labels, "range": [[2, 3] if c in dash else [1, 0] for c in cols]}}
    mark = {"type": "line", "strokeWidth": 2, "point": {"size": 28}, "invalid": "break-paths-show-domains"}
    return Chart(_titled(title, mark=mark, encoding=encoding), long)


def top_n(df: pd.DataFrame, x: str, y: str, color: str, n: int = 8) -> tuple[pd.DataFrame, list]:
    """Keep the ``n`` largest groups of ``color`` (by total ``y``), sum the rest as "other"; returns
    the rows and the group order (largest first, "other" last)."""
    totals = df.groupby(color)[y].sum().sort_values(ascending=False)
    if len(totals) <= n + 1:  # all groups shown: name order, so a team keeps its colour across charts
        return df, sorted(totals.index, key=str)
    keep = list(totals.index[:n])
    out = df.assign(**{color: [c if c in keep else "other" for c in df[color]]})
    return out.groupby([x, color], as_index=False, sort=False)[y].sum(), [*keep, "other"]


def _stacked(rows: pd.DataFrame, x: str, groups: list, *, title: str, unit: str, horizontal: bool,
             label: str, axis_title: str | None = None, legend: bool = True) -> Chart:
    """Bars of ``rows`` (columns x, group, value) stacked by group in ``groups`` order."""
    rows = rows.assign(group=rows["group"].astype(str), order=rows["group"].astype(str).map(
        {str(g): i for i, g in enumerate(groups)}))
    domain = [str(g) for g in groups]
    value = _value_y(unit, title=axis_title, stack=True)
    temporal = _is_time(rows[x])
    period = "week"
    if temporal:
        rows = rows.assign(**{x: _as_time(rows[x])})
        period = _period_of(rows[x])
        rows = rows.assign(when=_when(rows[x], period))
    tip = [_time_tip(period) if temporal else {"field": x}]
    if legend:
        tip.append({"field": "group", "title": label})
    tip.append(_value_tip(unit, AXIS.get(unit, unit) if legend else label))
    encoding: dict[str, Any] = {"tooltip": tip, "order": {"field": "order", "type": "quantitative"}}
    if legend:
        encoding["color"] = {"field": "group", "type": "nominal", "scale": {"domain": domain}, "legend": LEGEND}
    height = HEIGHT
    if horizontal:
        encoding["y"] = {"field": x, "type": "nominal", "title": None, "sort": None, "axis": {"labelOverlap": False}}
        encoding["x"] = value
        height = max(HEIGHT, ROW * rows[x].nunique() + DECORATION)
    elif temporal:
        # Each period's bar spans its period on a true time axis: x to x_end, stacked here (a ranged
        # bar is not stacked by Vega-Lite) from 0 in the groups' order.
        rows = rows.sort_values([x, "order"], kind="stable")
        top = rows.groupby(x, sort=False)["value"].cumsum()
        rows = rows.assign(x_end=_band_end(rows[x]), value_end=top, value_start=top - rows["value"])
        encoding["x"] = _time_x(x, period)
        encoding["x2"] = {"field": "x_end"}
        encoding["y"] = {**value, "field": "value_end"}
        encoding["y2"] = {"field": "value_start"}
    else:
        encoding["x"] = {"field": x, "type": "nominal", "title": None, "sort": None, "axis": {"labelAngle": 0}}
        encoding["y"] = value
    return Chart(_titled(title, height, mark={"type": "bar"}, encoding=encoding), rows)


@once_per_data(reads=lambda df, x, y, *, color=None, **_: [x, y, color])
def bars(df: pd.DataFrame, x: str, y: str, *, title: str, unit: str, color: str | None = None,
         horizontal: bool = False, label: str | None = None, max_groups: int = 8) -> Chart:
    """Bars, stacked by ``color`` when given (the largest ``max_groups`` groups, the rest as "other")."""
    if color:
        rows, order = top_n(df, x, y, color, max_groups)
        long = rows[[x, color, y]].rename(columns={color: "group", y: "value"})
        return _stacked(long, x, order, title=title, unit=unit, horizontal=horizontal, label=color)
    long = df[[x, y]].rename(columns={y: "value"}).assign(group=label or y)
    return _stacked(long, x, [label or y], title=title, unit=unit, horizontal=horizontal, label=label or y,
                    legend=False)


@once_per_data(reads=lambda df, x, stages, **_: [x, *stages])
def stacked_stages(df: pd.DataFrame, x: str, stages: dict[str, str], *, title: str,
                   horizontal: bool = False) -> Chart:
    """Lead-time stages (coding, pickup, review, deploy) stacked, in hours."""
    cols = [c for c in stages if c in df]
    long = df[[x, *cols]].melt(id_vars=[x], value_vars=cols, var_name="column", value_name="value")
    long["group"] = long["column"].map(stages)
    return _stacked(long.drop(columns="column"), x, [stages[c] for c in cols], title=title, unit="hours",
                    horizontal=horizontal, label="stage",
                    axis_title="hours (p50 of each stage)" if horizontal else None)


# Lead-time buckets a lead reads at a glance (upper bounds in hours).
BUCKETS = [(1, "< 1 h"), (4, "1–4 h"), (12, "4–12 h"), (24, "12–24 h"), (48, "1–2 days"), (96, "2–4 days"),
           (168, "4–7 days"), (336, "1–2 weeks"), (672, "2–4 weeks"), (float("inf"), "> 4 weeks")]


@once_per_data
def histogram(values: pd.Series, *, title: str) -> Chart:
    """Distribution of durations in hours over human buckets (lead times are heavy-tailed, so equal
    bins would put nearly everything in the first), with the p50 and p90 named in the title."""
    import numpy as np

    v = values.dropna().astype(float)
    edges = [0.0] + [b for b, _ in BUCKETS]
    counts, _ = np.histogram(v.clip(upper=1e9), bins=[*edges[:-1], 1e9 + 1])
    share = counts / counts.sum() if counts.sum() else counts.astype(float)
    rows = pd.DataFrame({"bucket": [name for _, name in BUCKETS], "changes": counts, "share": share})
    if len(v):
        title = f"{title} · p50 {v.quantile(0.5):,.1f} h, p90 {v.quantile(0.9):,.1f} h"
    encoding = {
        "x": {"field": "bucket", "type": "nominal", "sort": None, "title": "lead time (first commit → production)",
              "axis": {"labelAngle": 0}},
        "y": {"field": "changes", "type": "quantitative", "title": "changes"},
        "tooltip": [{"field": "bucket", "title": "lead time"}, {"field": "changes", "format": ",.0f"},
                    {"field": "share", "format": ".1%"}],
    }
    return Chart(_titled(title, mark={"type": "bar"}, encoding=encoding), rows)


def show(chart: Chart, *, key: str) -> None:
    """Draw ``chart`` (a copy of its spec: Streamlit adjusts the spec it is given)."""
    spec = copy.deepcopy(chart.spec)
    if chart.datasets:
        spec["datasets"] = dict(chart.datasets)   # Streamlit sends them as Arrow and takes them out of the spec
    st.vega_lite_chart(None if chart.datasets else chart.data, spec, width="stretch", theme="streamlit", key=key)


# Channels whose legend each chart of a stack keeps to itself (Vega-Lite would merge them); every
# scale is its own too (a vconcat shares x by default).
OWN_CHANNELS = ("color", "strokeDash")
STACK_SPACING = 32
# What a chart's title and x axis, and each row of its legend, take of its HEIGHT when drawn alone
# (autosize "fit"); in a stack the height is the plot's (Vega-Lite fits no concatenation), so the
# stacked charts keep the heights they have apart and side-by-side stacks stay level.
STACK_DECORATION = 80
LEGEND_HEIGHT = 28
LEGEND_ROW = 20


def _stackable(spec: dict) -> bool:
    """A single view whose legend fits on one row of a narrow column (or is one label per row): a
    legend wider than the column leaves a stacked chart's plot no width at all (a single view's
    autosize copes)."""
    if any(k in spec for k in ("layer", "vconcat", "hconcat", "concat", "facet", "repeat")):
        return False
    return _legend_rows(spec) <= 1 or spec["encoding"]["color"].get("legend", {}).get("columns") == 1


def _legend_chars(spec: dict) -> int:
    color = spec.get("encoding", {}).get("color") or {}
    return sum(len(str(v)) for v in color.get("scale", {}).get("domain", []))


def stack(charts: Sequence[Chart]) -> Chart:
    """Charts one under another as ONE Vega-Lite view (``vconcat``), each with its own rows, title,
    axes, scales, legend and tooltips, as if drawn apart.

    Why (issue 23, measured in headless Chromium on the 2-core machine): a Vega view costs the
    browser about 40 ms to set up on every visit, whatever it draws; the Overview's six charts as
    three stacks came back 0.1-0.15 s sooner on a revisit. Only single views stack: Streamlit gives
    each chart of a stack the column's width as its plot width, which single views fit and layered
    ones overflow by their axis width, so ``show_stack`` draws a layered chart as a view of its own.
    A chart's height is its whole height drawn alone (titles, axes and legend inside); in a stack it
    is the plot's, so the plot gets what decoration leaves.
    """
    subs, datasets = [], {}
    for i, chart in enumerate(charts):
        name = f"chart_{i}"
        sub = {**chart.spec, "data": {"name": name}}
        if isinstance(sub.get("height"), (int, float)):
            rows = _legend_rows(sub)
            sub["height"] = max(sub["height"] - STACK_DECORATION - (LEGEND_HEIGHT + LEGEND_ROW * rows if rows else 0), 60)
        subs.append(sub)
        datasets[name] = _for_dataset(chart.data)
    return Chart({"vconcat": subs, "spacing": STACK_SPACING,
                  "resolve": {"scale": {c: "independent" for c in ("x", "y", *OWN_CHANNELS)},
                              "axis": {"x": "independent", "y": "independent"},
                              "legend": {c: "independent" for c in OWN_CHANNELS}}}, datasets=datasets)


def _legend_rows(spec: dict) -> int:
    """Rows of a chart's colour legend: 0 without one, one per label in one column, and otherwise
    one row when its labels fit a narrow column (LEGEND_CHARS), more when they do not."""
    color = spec.get("encoding", {}).get("color")
    if not color or color.get("legend", {}) is None:
        return 0
    labels = color.get("scale", {}).get("domain", [])
    if color.get("legend", {}).get("columns") == 1:
        return max(len(labels), 1)
    return 1 if _legend_chars(spec) <= LEGEND_CHARS else 2


def _for_dataset(df: pd.DataFrame) -> pd.DataFrame:
    """Rows as a named dataset can carry them: Streamlit hands a named dataset's Arrow columns to Vega
    as they are, so 64-bit integers (BigInt in the browser) become floats and times are milliseconds
    (a ``timestamp[s]`` column would be read as milliseconds), as its ``data`` path does by itself."""
    out = df.reset_index(drop=True)
    for col in out.columns:
        if pd.api.types.is_integer_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col]):
            out[col] = out[col].astype("float64")
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].astype("datetime64[ms]")
    return out


def show_stack(charts: Sequence[Chart | None], *, key: str) -> None:
    """Draw ``charts`` one under another (``None`` left out): the single views among them as one
    Vega view (``stack``), any other (layered, or with a wide legend) as its own, in their order."""
    present = [c for c in charts if c is not None]
    run: list[Chart] = []
    part = 0

    def flush() -> None:
        nonlocal part
        if run:
            show(run[0] if len(run) == 1 else stack(run), key=f"{key}-{part}" if part else key)
            part += 1
            run.clear()

    for chart in present:
        if _stackable(chart.spec):
            run.append(chart)
        else:
            flush()
            run.append(chart)
            flush()
    flush()


# The incident timeline's rows at most: one row per service, and past a few dozen rows the chart
# is taller than a screen and slow to draw (500 services, 8,000 incidents on the large benchmark
# warehouse: a 14,000-pixel chart, 4 s in the browser). The page's tables keep every incident.
TIMELINE_SERVICES = 25


def busiest_services(incidents: pd.DataFrame, n: int = TIMELINE_SERVICES) -> list:
    """The ``n`` services with the most incidents (ties by name), in that order."""
    counts = incidents.groupby("service", dropna=False).size().reset_index(name="n")
    counts["name"] = counts["service"].astype(str)
    return counts.sort_values(["n", "name"], ascending=[False, True])["service"].head(n).tolist()


ATTRIBUTION = ["explicit", "service", "repo", "none"]


@once_per_data(reads=lambda df, **_: ["incident_id", "service", "created_at", "resolved_at", "attribution",
                                      "deployment_id"])
def incident_timeline(incidents: pd.DataFrame, *, title: str, max_services: int = TIMELINE_SERVICES) -> Chart:
    """Each incident as a bar from created to resolved (to the latest creation while open), one row
    per service (the ``max_services`` with the most incidents), coloured by how it was attributed
    to a deployment."""
    services = busiest_services(incidents, max_services)
    t = incidents[incidents["service"].isin(services)]
    rows = pd.DataFrame({
        "incident_id": t["incident_id"], "service": t["service"].astype(str), "created_at": _as_time(t["created_at"]),
        "end": _as_time(t["resolved_at"].fillna(incidents["created_at"].max())),
        "state": t["resolved_at"].isna().map({True: "open", False: "resolved"}),
        "attribution": t["attribution"].astype(str), "deployment_id": t["deployment_id"].fillna("none"),
    })
    rows["duration_hours"] = (rows["end"] - rows["created_at"]).dt.total_seconds() / 3600
    rows["created"] = rows["created_at"].dt.strftime("%d %b %Y %H:%M")
    rows["resolved"] = rows["end"].dt.strftime("%d %b %Y %H:%M").where(rows["state"] == "resolved", "open")
    encoding = {
        "x": _time_x("created_at", "day"),
        "x2": {"field": "end"},
        "y": {"field": "service", "type": "nominal", "title": "service", "sort": [str(s) for s in services],
              "axis": {"labelOverlap": False}},
        "color": {"field": "attribution", "type": "nominal", "scale": {"domain": ATTRIBUTION}, "legend": LEGEND},
        "tooltip": [{"field": "incident_id", "title": "incident"}, {"field": "state"},
                    {"field": "created", "title": "created (UTC)"}, {"field": "resolved", "title": "resolved (UTC)"},
                    {"field": "duration_hours", "title": "hours", "format": ",.1f"},
                    {"field": "deployment_id", "title": "deployment"}, {"field": "attribution"}],
    }
    height = max(HEIGHT, ROW * len(services) + DECORATION)
    return Chart(_titled(title, height, mark={"type": "bar", "minBandSize": 2}, encoding=encoding), rows)


def _epoch_ms(values: pd.Series) -> list[int]:
    """Dates as epoch milliseconds (UTC), for rows written into a spec."""
    return [int(v) for v in _as_time(values).astype("datetime64[ms]").astype("int64")]


DAY_BAR_MIDDLE = pd.Timedelta(hours=24 * 0.85 / 2)   # the middle of a daily bar (_band_end: 85 % of the day)


def mark_anomalies(chart: Chart, anomalies: pd.DataFrame, totals: pd.DataFrame, *, x: str = "period_start",
                   y: str = "effective_cost") -> Chart:
    """Mark each anomalous day at the top of that day's bar, with what was expected in the tooltip
    (a new chart: ``chart`` may be a shared, memoised one)."""
    if anomalies.empty:
        return chart
    top = dict(zip(totals[x], totals[y], strict=True))
    at = [top.get(d, v) for d, v in zip(anomalies["charge_date"], anomalies["actual"], strict=True)]
    days = _as_time(anomalies["charge_date"])
    points = [{x: t, "when": w, "at": float(a), "scope": str(s), "actual": float(act), "expected": float(exp),
               "direction": str(d)}
              for t, w, a, s, act, exp, d in zip(_epoch_ms(days + DAY_BAR_MIDDLE), _when(days, "day"), at, anomalies["scope"],
                                                 anomalies["actual"], anomalies["expected"], anomalies["direction"],
                                                 strict=True)]
    base = copy.deepcopy(chart.spec)
    title, height = base.pop("title"), base.pop("height")
    usd = {"type": "quantitative", "format": "$,.2f"}
    marker = {
        "data": {"values": points},
        "mark": {"type": "point", "shape": "triangle-down", "size": 140, "filled": True, "color": ANOMALY,
                 "stroke": "white", "strokeWidth": 1, "opacity": 1},
        "encoding": {"x": {"field": x, "type": "temporal"}, "y": {"field": "at", "type": "quantitative"},
                     "tooltip": [{"field": "when", "title": "anomaly on"},
                                 {"field": "scope"}, {"field": "direction"},
                                 {"field": "actual", **usd}, {"field": "expected", **usd}]},
    }
    return Chart({"title": title, "height": height, "layer": [base, marker]}, chart.data)


@once_per_data
def forecast(history: pd.DataFrame, predicted: pd.DataFrame, *, title: str, x: str = "period_start",
             y: str = "effective_cost", level: str = "95 %") -> Chart:
    """Daily history, then the forecast line inside its interval band."""
    actual = pd.DataFrame({"date": history[x], "value": history[y], "series": "actual"})
    future = predicted.dropna(subset=["forecast"]) if not predicted.empty else pd.DataFrame(
        columns=["date", "forecast", "lower", "upper"])
    ahead = pd.DataFrame({"date": future["date"], "value": future["forecast"], "series": "forecast",
                          "lower": future["lower"], "upper": future["upper"]})
    rows = pd.concat([actual.assign(lower=float("nan"), upper=float("nan")), ahead], ignore_index=True)
    rows["date"] = _as_time(rows["date"])
    rows["when"] = _when(rows["date"], "day")
    band = f"{level} interval"
    x_enc = _time_x("date", "day")
    usd = {"type": "quantitative", "format": "$,.2f"}
    tip_date = _time_tip("day")
    layers = [
        {"transform": [{"filter": "datum.series === 'forecast'"}],
         "mark": {"type": "area", "opacity": BAND_OPACITY, "color": BAND_FILL},
         "encoding": {"x": x_enc, "y": {"field": "lower", "type": "quantitative"}, "y2": {"field": "upper"},
                      "tooltip": [tip_date, {"field": "lower", "title": f"lower ({level})", **usd},
                                  {"field": "upper", "title": f"upper ({level})", **usd}]}},
        {"mark": {"type": "line", "strokeWidth": 2},
         "encoding": {"x": x_enc, "y": _value_y("USD"),
                      "color": {"field": "series", "type": "nominal", "legend": LEGEND,
                                "scale": {"domain": ["actual", "forecast", band],
                                          "range": [ACTUAL, FORECAST, BAND_FILL]}},
                      "strokeDash": {"field": "series", "type": "nominal", "legend": None,
                                     "scale": {"domain": ["actual", "forecast"], "range": [[1, 0], [6, 4]]}},
                      "tooltip": [tip_date, {"field": "series"}, {"field": "value", "title": "cost", **usd}]}},
    ]
    if ahead.empty:
        layers = layers[1:]
    return Chart(_titled(title, layer=layers), rows)


@once_per_data(reads=lambda df, **_: ["hour", "budget_remaining", "change_failure"])
def burn_down(burn: pd.DataFrame, *, title: str) -> Chart:
    """An SLO's error budget left, hour by hour over its window, with the hours a change failure was
    open marked."""
    rows = pd.DataFrame({"hour": _as_time(burn["hour"]), "budget_remaining": burn["budget_remaining"],
                         "change_failure": burn["change_failure"].astype(bool)})
    rows["when"] = rows["hour"].dt.strftime("%d %b %H:%M")
    when = {"field": "when", "title": "hour (UTC)"}
    x_enc = _time_x("hour", "day")
    layers = [
        {"mark": {"type": "line", "strokeWidth": 2},
         "encoding": {"x": x_enc, "y": _value_y("fraction", "budget_remaining", title="budget left"),
                      "tooltip": [when, _value_tip("fraction", "budget left", "budget_remaining")]}},
        {"transform": [{"filter": "datum.change_failure"}],
         "mark": {"type": "point", "filled": True, "size": 30, "color": ANOMALY, "opacity": 1},
         "encoding": {"x": x_enc, "y": {"field": "budget_remaining", "type": "quantitative"},
                      "tooltip": [when, {"field": "change_failure", "title": "change failure open"}]}},
    ]
    return Chart(_titled(title, layer=layers), rows)


SPARK_WIDTH, SPARK_HEIGHT = 100, 28   # the viewBox: stretched to the tile's width, 40 px high


def sparkline(values: Sequence[float], *, kind: str = "area", label: str) -> str:
    """A tile's sparkline as a small SVG image (``kind`` "area" or "bar"), ``label`` its hover title.

    Not a Vega view: ``st.metric``'s own sparkline is one (vega-embed, compiled and run in the
    browser), and the Overview's six cost a revisit ~0.1 s after the page was otherwise drawn
    (docs/performance.md). The values are the page's own numbers; the label is escaped."""
    import base64
    import html

    ys = [float(v) for v in values]
    if len(ys) < 2:
        return ""
    lo, hi = min(ys), max(ys)
    if kind == "bar" or (lo < 0 < hi):
        lo = min(lo, 0.0)
    span = (hi - lo) or 1.0

    def y(v: float) -> float:
        return round(SPARK_HEIGHT - 1 - (v - lo) / span * (SPARK_HEIGHT - 2), 2)

    if kind == "bar":
        step = SPARK_WIDTH / len(ys)
        marks = "".join(f'<rect x="{i * step + step * 0.15:.2f}" y="{y(v)}" width="{step * 0.7:.2f}" '
                        f'height="{max(y(lo) - y(v), 0.5):.2f}"/>' for i, v in enumerate(ys))
        body = f'<g fill="{ACTUAL}" fill-opacity="0.6">{marks}</g>'
    else:
        step = SPARK_WIDTH / (len(ys) - 1)
        points = " ".join(f"{i * step:.2f},{y(v)}" for i, v in enumerate(ys))
        body = (f'<polygon points="0,{SPARK_HEIGHT} {points} {SPARK_WIDTH},{SPARK_HEIGHT}" fill="{ACTUAL}" '
                f'fill-opacity="0.15"/><polyline points="{points}" fill="none" stroke="{ACTUAL}" '
                'stroke-width="1.5" vector-effect="non-scaling-stroke" stroke-linejoin="round"/>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
           f'preserveAspectRatio="none">{body}</svg>')
    # As an image: st.html keeps HTML only (its sanitizer drops inline SVG), and an image's alt and
    # title give the hover text and what a screen reader says.
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    title = html.escape(label, quote=True)
    return (f'<img src="{source}" alt="{title}" title="{title}" '
            'style="display:block;width:100%;height:40px">')


def show_sparkline(values: Sequence[float], *, kind: str = "area", label: str) -> None:
    """Draw ``sparkline`` in the page (nothing for fewer than two values)."""
    tag = sparkline(values, kind=kind, label=label)
    if tag:
        st.html(tag)
