"""Plotly figures for the dashboard: every chart has a title, axis units and a hover with the exact
values. Colours come from the Streamlit theme (``theme="streamlit"``), so the same figure reads in
light and dark mode; only the few semantic colours (band, anomaly, forecast) are fixed, and they
were picked to keep contrast on both backgrounds."""

from __future__ import annotations

from collections.abc import Sequence

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


def layout(fig: go.Figure, title: str, unit: str, *, x_title: str = "", height: int = HEIGHT,
            barmode: str | None = None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        height=height, margin={"l": 8, "r": 8, "t": 48, "b": 8},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1, "title": None,
                "traceorder": "normal"},
        hovermode="x unified", barmode=barmode,
    )
    fig.update_yaxes(title_text=AXIS.get(unit, unit), rangemode="tozero",
                     tickformat=".0%" if unit == "fraction" else None,
                     tickprefix="$" if unit == "USD" else None)
    fig.update_xaxes(title_text=x_title or None)
    return fig


def _x_hover(period: str) -> str:
    return "Week of %{x|%d %b %Y}" if period == "week" else ("%{x|%b %Y}" if period == "month" else "%{x|%d %b %Y}")


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
    return layout(fig, title, unit)


def bars(df: pd.DataFrame, x: str, y: str, *, title: str, unit: str, color: str | None = None,
         horizontal: bool = False, label: str | None = None) -> go.Figure:
    """Bars, stacked by ``color`` when given."""
    fig = go.Figure()
    groups = df.groupby(color, sort=True) if color else [(label or y, df)]
    for name, part in groups:
        name = name[0] if isinstance(name, tuple) else name
        value = HOVER.get(unit, "%{y}").replace("%{y", "%{x") if horizontal else HOVER.get(unit, "%{y}")
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
    return fig


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


def histogram(values: pd.Series, *, title: str, unit: str = "hours", log_x: bool = True) -> go.Figure:
    """Distribution of a duration, log-binned because lead times are heavy-tailed."""
    import numpy as np

    v = values.dropna()
    v = v[v > 0]
    fig = go.Figure()
    if not v.empty:
        edges = np.unique(np.geomspace(max(v.min(), 0.1), v.max() * 1.0001, 31)) if log_x else None
        counts, edges = np.histogram(v, bins=edges if edges is not None else 30)
        mids = np.sqrt(edges[:-1] * edges[1:]) if log_x else (edges[:-1] + edges[1:]) / 2
        fig.add_trace(go.Bar(
            x=mids, y=counts, width=np.diff(edges), name="changes",
            customdata=np.stack([edges[:-1], edges[1:]], axis=1),
            hovertemplate="%{customdata[0]:,.1f}–%{customdata[1]:,.1f} h: %{y:,} changes<extra></extra>"))
        for q, dash in ((0.5, "solid"), (0.9, "dash")):
            at = float(v.quantile(q))
            fig.add_vline(x=at, line_dash=dash, line_color=FORECAST,
                          annotation_text=f"p{int(q * 100)} {at:,.1f} h", annotation_position="top")
    fig = layout(fig, title, "count")
    fig.update_layout(hovermode="closest", bargap=0.02)
    fig.update_xaxes(type="log" if log_x else "linear", title_text=f"{unit} (log scale)" if log_x else unit)
    fig.update_yaxes(title_text="changes")
    return fig


def show(fig: go.Figure, *, key: str) -> None:
    st.plotly_chart(fig, width="stretch", theme="streamlit", key=key,
                    config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]})
