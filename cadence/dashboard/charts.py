"""Plotly figures for the dashboard: every chart has a title, axis units and a hover with the exact
values. Colours come from the Streamlit theme (``theme="streamlit"``), so the same figure reads in
light and dark mode; only the few semantic colours (band, anomaly, forecast) are fixed, and they
were picked to keep contrast on both backgrounds.

Figures are built once per data version: each builder below is memoised on a fingerprint of its
arguments (the frames' contents, not their identity), so a rerun, a revisit or another session
drawing the same rows gets the figure already built (building one is most of a warm page run). A
builder's figure is shared, so it is never changed in place: ``mark_anomalies`` draws on a copy.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

ANOMALY = "#e4572e"
FORECAST = "#8e7dbe"
BAND_FILL = "rgba(142,125,190,0.22)"
HEIGHT = 320

# How a value reads in a hover, per unit.
HOVER = {
    "hours": "%{y:,.1f} h",
    "fraction": "%{y:.1%}",
    "count": "%{y:,.0f}",
    "per week": "%{y:,.2f}",
    "USD": "$%{y:,.2f}",
    "days": "%{y:,.1f}",
}
AXIS = {"hours": "hours", "fraction": "%", "count": "count", "per week": "deploys / week", "USD": "USD",
        "days": "days"}


MAX_FIGURES = 256
_figures: OrderedDict[tuple, go.Figure] = OrderedDict()
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


def once_per_data(builder: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
    """Memoise a figure builder on its arguments' contents (see the module's docstring)."""
    @functools.wraps(builder)
    def build(*args: Any, **kwargs: Any) -> go.Figure:
        try:
            key = (builder.__name__, _fingerprint(args), _fingerprint(tuple(sorted(kwargs.items()))))
        except TypeError:   # an argument with no fingerprint (cells holding lists): build it every time
            return builder(*args, **kwargs)
        with _figures_lock:
            fig = _figures.get(key)
            if fig is not None:
                _figures.move_to_end(key)
                return fig
        fig = builder(*args, **kwargs)
        fig.__dict__["_cadence_memoised"] = True
        with _figures_lock:
            _figures[key] = fig
            while len(_figures) > MAX_FIGURES:
                _figures.popitem(last=False)
        return fig
    return build


def clear_figures() -> None:
    """Forget the memoised figures (cadence.dashboard.ui.clear_caches)."""
    with _figures_lock:
        _figures.clear()


def layout(fig: go.Figure, title: str, unit: str, *, x_title: str = "", height: int = HEIGHT,
            barmode: str | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "y": 1, "yref": "container", "yanchor": "top",
               "pad": {"t": 10}, "font": {"size": 15}},
        height=height, margin={"l": 8, "r": 8, "t": 72, "b": 8},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1, "title": None,
                "traceorder": "normal"},
        hovermode="x unified", barmode=barmode,
    )
    fig.update_yaxes(title_text=AXIS.get(unit, unit), rangemode="tozero",
                     tickformat=".0%" if unit == "fraction" else None,
                     tickprefix="$" if unit == "USD" else None)
    fig.update_xaxes(title_text=x_title or None)
    if len(fig.data) > 4:  # many series: a legend column on the right instead of rows under the axis
        fig.update_layout(legend={"orientation": "v", "yanchor": "top", "y": 1, "xanchor": "left", "x": 1.02})
    return fig


def _x_hover(period: str) -> str:
    return "Week of %{x|%d %b %Y}" if period == "week" else ("%{x|%b %Y}" if period == "month" else "%{x|%d %b %Y}")


@once_per_data
def lines(df: pd.DataFrame, x: str, series: dict[str, str], *, title: str, unit: str,
          period: str = "week", dash: Sequence[str] = ()) -> go.Figure:
    """One line per column in ``series`` ({column: legend label})."""
    fig = go.Figure()
    for col, label in series.items():
        if col not in df:
            continue
        fig.add_trace(go.Scatter(
            x=df[x], y=df[col], name=label, mode="lines+markers", connectgaps=False,
            line={"dash": "dot" if col in dash else "solid", "width": 2}, marker={"size": 5},
            hovertemplate=f"{label}: {HOVER.get(unit, '%{y}')}<extra></extra>"))
    fig.update_traces(xhoverformat="%d %b %Y")
    fig = layout(fig, title, unit)
    if len(fig.data) < 2:
        fig.update_layout(showlegend=False)
    return fig


def top_n(df: pd.DataFrame, x: str, y: str, color: str, n: int = 8) -> tuple[pd.DataFrame, list]:
    """Keep the ``n`` largest groups of ``color`` (by total ``y``), sum the rest as "other"; returns
    the rows and the group order (largest first, "other" last)."""
    totals = df.groupby(color)[y].sum().sort_values(ascending=False)
    if len(totals) <= n + 1:  # all groups shown: name order, so a team keeps its colour across charts
        return df, sorted(totals.index, key=str)
    keep = list(totals.index[:n])
    out = df.assign(**{color: [c if c in keep else "other" for c in df[color]]})
    return out.groupby([x, color], as_index=False, sort=False)[y].sum(), [*keep, "other"]


@once_per_data
def bars(df: pd.DataFrame, x: str, y: str, *, title: str, unit: str, color: str | None = None,
         horizontal: bool = False, label: str | None = None, max_groups: int = 8) -> go.Figure:
    """Bars, stacked by ``color`` when given (the largest ``max_groups`` groups, the rest as "other")."""
    fig = go.Figure()
    if color:
        rows, order = top_n(df, x, y, color, max_groups)
        groups = [(name, rows[rows[color] == name]) for name in order]
    else:
        groups = [(label or y, df)]
    value = HOVER.get(unit, "%{y}")
    if horizontal:
        value = value.replace("%{y", "%{x")
    for name, part in groups:
        fig.add_trace(go.Bar(
            x=part[y] if horizontal else part[x], y=part[x] if horizontal else part[y], name=str(name),
            orientation="h" if horizontal else "v",
            hovertemplate=f"{name}: {value}<extra></extra>"))
    fig = layout(fig, title, unit, barmode="stack")
    if horizontal:
        fig.update_layout(hovermode="y unified")
        fig.update_xaxes(title_text=AXIS.get(unit, unit), tickprefix="$" if unit == "USD" else None,
                         tickformat=".0%" if unit == "fraction" else None)
        fig.update_yaxes(title_text=None, autorange="reversed", tickprefix=None, tickformat=None)
    if not color:
        fig.update_layout(showlegend=False)
    return fig


@once_per_data
def stacked_stages(df: pd.DataFrame, x: str, stages: dict[str, str], *, title: str,
                   horizontal: bool = False) -> go.Figure:
    """Lead-time stages (coding, pickup, review, deploy) stacked, in hours."""
    fig = go.Figure()
    for col, label in stages.items():
        fig.add_trace(go.Bar(
            x=df[col] if horizontal else df[x], y=df[x] if horizontal else df[col], name=label,
            orientation="h" if horizontal else "v",
            hovertemplate=f"{label}: %{{{'x' if horizontal else 'y'}:,.1f}} h<extra></extra>"))
    fig = layout(fig, title, "hours", barmode="stack")
    if horizontal:
        fig.update_layout(hovermode="y unified")
        fig.update_xaxes(title_text="hours (p50 of each stage)")
        fig.update_yaxes(title_text=None, autorange="reversed")
    return fig


# Lead-time buckets a lead reads at a glance (upper bounds in hours).
BUCKETS = [(1, "< 1 h"), (4, "1–4 h"), (12, "4–12 h"), (24, "12–24 h"), (48, "1–2 days"), (96, "2–4 days"),
           (168, "4–7 days"), (336, "1–2 weeks"), (672, "2–4 weeks"), (float("inf"), "> 4 weeks")]


@once_per_data
def histogram(values: pd.Series, *, title: str) -> go.Figure:
    """Distribution of durations in hours over human buckets (lead times are heavy-tailed, so equal
    bins would put nearly everything in the first), with the p50 and p90 named in the title."""
    import numpy as np

    v = values.dropna().astype(float)
    edges = [0.0] + [b for b, _ in BUCKETS]
    counts, _ = np.histogram(v.clip(upper=1e9), bins=[*edges[:-1], 1e9 + 1])
    labels = [name for _, name in BUCKETS]
    share = counts / counts.sum() if counts.sum() else counts
    fig = go.Figure(go.Bar(x=labels, y=counts, customdata=share, name="changes",
                           hovertemplate="%{x}: %{y:,} changes (%{customdata:.1%})<extra></extra>"))
    if len(v):
        title = f"{title} · p50 {v.quantile(0.5):,.1f} h, p90 {v.quantile(0.9):,.1f} h"
    fig = layout(fig, title, "count")
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_yaxes(title_text="changes")
    fig.update_xaxes(title_text="lead time (first commit → production)", type="category")
    return fig


class _Built(go.Figure):
    """A built figure's dict, handed to ``st.plotly_chart`` as a figure: Streamlit takes
    ``to_dict()`` of a figure as already validated, and this one returns the dict made once
    (``go.Figure.to_dict`` deep-copies every array, on every run). Never drawn on: only shown."""

    def __init__(self, spec: dict) -> None:   # noqa: super().__init__ skipped on purpose: nothing to validate
        self.__dict__["_spec"] = spec

    def to_dict(self) -> dict:
        return self.__dict__["_spec"]


def _spec(fig: go.Figure) -> dict:
    """``fig.to_dict()``; made once for a memoised figure (shared, so never changed once built)."""
    if not fig.__dict__.get("_cadence_memoised"):
        return fig.to_dict()
    spec = fig.__dict__.get("_cadence_spec")
    if spec is None:
        spec = fig.__dict__["_cadence_spec"] = fig.to_dict()
    return spec


def show(fig: go.Figure, *, key: str) -> None:
    st.plotly_chart(_Built(_spec(fig)), width="stretch", theme="streamlit", key=key,
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]})


# The incident timeline's rows at most: one row per service, and past a few dozen rows the chart
# is taller than a screen and slow to draw (500 services, 8,000 incidents on the large benchmark
# warehouse: a 14,000-pixel chart, 4 s in the browser). The page's tables keep every incident.
TIMELINE_SERVICES = 25


def busiest_services(incidents: pd.DataFrame, n: int = TIMELINE_SERVICES) -> list:
    """The ``n`` services with the most incidents (ties by name), in that order."""
    counts = incidents.groupby("service", dropna=False).size().reset_index(name="n")
    counts["name"] = counts["service"].astype(str)
    return counts.sort_values(["n", "name"], ascending=[False, True])["service"].head(n).tolist()


@once_per_data
def incident_timeline(incidents: pd.DataFrame, *, title: str, max_services: int = TIMELINE_SERVICES) -> go.Figure:
    """Each incident as a bar from created to resolved (to the latest creation while open), one row
    per service (the ``max_services`` with the most incidents), coloured by how it was attributed
    to a deployment."""
    import plotly.express as px

    timeline = incidents[incidents["service"].isin(busiest_services(incidents, max_services))].copy()
    timeline["end"] = timeline["resolved_at"].fillna(timeline["created_at"].max())
    timeline["state"] = timeline["resolved_at"].isna().map({True: "open", False: "resolved"})
    timeline["duration_hours"] = (timeline["end"] - timeline["created_at"]).dt.total_seconds() / 3600
    timeline["deployment_id"] = timeline["deployment_id"].fillna("none")
    fig = px.timeline(timeline, x_start="created_at", x_end="end", y="service", color="attribution",
                      custom_data=["incident_id", "deployment_id", "attribution", "duration_hours", "state"],
                      category_orders={"attribution": ["explicit", "service", "repo", "none"]})
    fig.update_traces(hovertemplate="<b>%{customdata[0]}</b> (%{customdata[4]})<br>%{base|%d %b %Y %H:%M} → "
                                    "%{x|%d %b %Y %H:%M} UTC<br>%{customdata[3]:,.1f} h<br>deployment: "
                                    "%{customdata[1]} (attributed by %{customdata[2]})<extra></extra>")
    fig.update_layout(hovermode="closest")
    return layout(fig, title, "service", height=max(280, 28 * timeline["service"].nunique() + 120))


def mark_anomalies(fig: go.Figure, anomalies: pd.DataFrame, totals: pd.DataFrame, *, x: str = "period_start",
                   y: str = "effective_cost") -> go.Figure:
    """Mark each anomalous day at the top of that day's bar, with what was expected in the hover
    (on a copy: ``fig`` may be a shared, memoised figure)."""
    if anomalies.empty:
        return fig
    fig = go.Figure(fig)
    top = dict(zip(totals[x], totals[y], strict=True))
    a = anomalies.assign(at=[top.get(d, v) for d, v in zip(anomalies["charge_date"], anomalies["actual"], strict=True)])
    fig.add_trace(go.Scatter(
        x=a["charge_date"], y=a["at"], mode="markers", name="anomaly",
        marker={"symbol": "triangle-down", "size": 13, "color": ANOMALY, "line": {"width": 1, "color": "white"}},
        customdata=a[["scope", "actual", "expected", "direction"]].to_numpy(),
        hovertemplate="<b>anomaly</b> %{customdata[0]} (%{customdata[3]}): $%{customdata[1]:,.2f} "
                      "vs expected $%{customdata[2]:,.2f}<extra></extra>"))
    return fig


@once_per_data
def forecast(history: pd.DataFrame, predicted: pd.DataFrame, *, title: str, x: str = "period_start",
             y: str = "effective_cost", level: str = "95 %") -> go.Figure:
    """Daily history, then the forecast line inside its interval band."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=history[x], y=history[y], name="actual", mode="lines",
                             hovertemplate="actual: $%{y:,.2f}<extra></extra>"))
    future = predicted.dropna(subset=["forecast"]) if not predicted.empty else predicted
    if not future.empty:
        fig.add_trace(go.Scatter(x=future["date"], y=future["upper"], mode="lines", line={"width": 0},
                                 showlegend=False, hovertemplate=f"upper ({level}): $%{{y:,.2f}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=future["date"], y=future["lower"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=BAND_FILL, name=f"{level} interval",
                                 hovertemplate=f"lower ({level}): $%{{y:,.2f}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=future["date"], y=future["forecast"], mode="lines", name="forecast",
                                 line={"dash": "dash", "color": FORECAST, "width": 2},
                                 hovertemplate="forecast: $%{y:,.2f}<extra></extra>"))
    fig.update_traces(xhoverformat="%a %d %b %Y")
    return layout(fig, title, "USD")
