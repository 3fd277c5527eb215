"""Static SVG charts for the printed reports, drawn with matplotlib.

A report must open offline and print on paper, so its charts are inline SVG, not JavaScript. The
output is made deterministic (fixed hash salt for element ids, no creation date or tool metadata)
and carries no URL: the XML declaration, DOCTYPE, comments and namespace declarations (which only
a standalone .svg file needs; inline SVG in HTML does not) are stripped.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")   # no display: render to memory only

import matplotlib.pyplot as plt  # noqa: E402

# Colour per investment category, and a neutral palette for teams (colour-blind safe, prints in grey).
CATEGORY_COLORS = {"feature": "#4c78a8", "maintenance": "#72b7b2", "unplanned": "#e45756", "other": "#bab0ac"}
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")
_STRIP = (re.compile(r"<\?xml[^>]*\?>\s*"), re.compile(r"<!DOCTYPE[^>]*>\s*"), re.compile(r"<!--.*?-->\s*", re.S),
          re.compile(r'\s+xmlns(:\w+)?="[^"]*"'), re.compile(r"<metadata>.*?</metadata>\s*", re.S))


def _svg(fig, prefix: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "cadence", "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None,
                                                                       "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    for pattern in _STRIP:
        text = pattern.sub("", text)
    # xlink:href (matplotlib's <use> references) works in HTML as plain href, without the namespace.
    text = text.replace("xlink:href", "href")
    # Ids are global in an HTML document: give each chart's ids (and its references) its own prefix.
    text = re.sub(r'id="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = text.replace('href="#', f'href="#{prefix}-').replace("url(#", f"url(#{prefix}-")
    return text.strip()


def _figure(width: float = 6.4, height: float = 2.4):
    fig, ax = plt.subplots(figsize=(width, height), dpi=72)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return fig, ax


def stacked_shares(labels: Sequence[str], shares: dict[str, Sequence[float]], *, title: str, prefix: str,
                   colors: dict[str, str] | None = None) -> str:
    """Horizontal 100 % bars: one bar per label, one segment per key of ``shares`` (fractions).
    ``prefix`` keeps the chart's element ids unique in the document."""
    colors = colors or CATEGORY_COLORS
    fig, ax = _figure(height=0.45 * max(len(labels), 2) + 0.9)
    left = [0.0] * len(labels)
    y = list(range(len(labels)))[::-1]
    for key, values in shares.items():
        vals = [0.0 if v != v else float(v) for v in values]   # NaN → 0
        ax.barh(y, vals, left=left, color=colors.get(key, "#999999"), label=key, height=0.6)
        for yi, lo, v in zip(y, left, vals, strict=True):
            if v >= 0.08:
                ax.text(lo + v / 2, yi, f"{v:.0%}", ha="center", va="center", fontsize=7, color="white")
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_yticks(y, list(labels))
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(fontsize=7, ncols=len(shares), loc="lower left", bbox_to_anchor=(0, 1.08), frameon=False)
    return _svg(fig, prefix)


def bars(labels: Sequence[str], values: Sequence[float], *, title: str, prefix: str, unit: str = "",
         highlight_last: bool = False) -> str:
    """Vertical bars with their values written on them (``unit`` "USD" prefixes a dollar sign)."""
    fig, ax = _figure()
    vals = [0.0 if v != v else float(v) for v in values]
    colors = [PALETTE[0]] * len(vals)
    if highlight_last and colors:
        colors[-1] = "#8e7dbe"   # the forecast
    ax.bar(list(labels), vals, color=colors)
    for x, v in enumerate(vals):
        text = f"${v:,.0f}" if unit == "USD" else f"{v:,.0f}"
        ax.text(x, v, text, ha="center", va="bottom", fontsize=7)
    ax.set_title(title, fontsize=10, loc="left")
    if unit == "USD":
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("${x:,.0f}"))
    return _svg(fig, prefix)
