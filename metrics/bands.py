"""Performance bands (elite / high / medium / low) from one table of thresholds per DORA benchmark.

The State of DevOps reports publish *clusters* (descriptions of groups of respondents), not rules;
a dashboard needs contiguous, monotonic rules. ``BENCHMARKS`` holds, per report year, three
thresholds per metric: the elite, high and medium boundaries; anything beyond the medium one is low.
docs/metrics.md shows the tables and where each boundary comes from.

- ``deployment_frequency`` is in deployments per day, higher is better, a band is reached at
  ``value >= threshold``;
- ``lead_time`` and ``recovery_time`` are in hours, lower is better, reached at ``value < threshold``;
- ``change_failure_rate`` is a fraction, lower is better, reached at ``value <= threshold``.

A user can switch the year (``benchmark`` in cadence.toml, ``--benchmark`` on the CLI) or override
any metric's thresholds with a dict ``{metric: (elite, high, medium)}``. A missing value has no band.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from cadence.core.errors import ConfigError

BANDS = ("elite", "high", "medium", "low")
DAY, WEEK, MONTH, SIX_MONTHS = 24.0, 7 * 24.0, 30 * 24.0, 180 * 24.0

# metric -> (direction, comparison): how a value reaches a band's threshold.
METRICS: dict[str, tuple[str, str]] = {
    "deployment_frequency": ("higher", ">="),   # deployments per day
    "lead_time": ("lower", "<"),                # hours, median lead time for changes
    "change_failure_rate": ("lower", "<="),     # fraction 0..1
    "recovery_time": ("lower", "<"),            # hours, median failed deployment recovery time
}

# year -> metric -> (elite, high, medium) thresholds.
BENCHMARKS: dict[str, dict[str, tuple[float, float, float]]] = {
    # 2021: elite deploys on demand, high weekly-monthly, medium monthly-6-monthly; lead time
    # < 1 hour / 1 day-1 week / 1-6 months; restore < 1 hour / < 1 day / 1 day-1 week; CFR elite
    # 0-15 % and every other cluster 16-30 %, split as Apache DevLake does (15 / 20 / 30 %).
    "2021": {
        "deployment_frequency": (1.0, 1 / 30, 1 / 180),
        "lead_time": (1.0, WEEK, SIX_MONTHS),
        "change_failure_rate": (0.15, 0.20, 0.30),
        "recovery_time": (1.0, DAY, WEEK),
    },
    # 2023: on demand / daily-weekly / weekly-monthly; lead time < 1 day / < 1 week / < 1 month;
    # CFR cluster averages 5 / 10 / 15 % (64 % low); recovery < 1 hour / < 1 day / < 1 week.
    "2023": {
        "deployment_frequency": (1.0, 1 / 7, 1 / 30),
        "lead_time": (DAY, WEEK, MONTH),
        "change_failure_rate": (0.05, 0.10, 0.15),
        "recovery_time": (1.0, DAY, WEEK),
    },
    # 2024 made monotonic (the published CFR clusters are 5 / 20 / 10 / 40 %, and medium and high
    # share "< 1 day" recovery): the default.
    "2024": {
        "deployment_frequency": (1.0, 1 / 7, 1 / 30),
        "lead_time": (DAY, WEEK, MONTH),
        "change_failure_rate": (0.05, 0.10, 0.15),
        "recovery_time": (1.0, DAY, WEEK),
    },
}
DEFAULT_YEAR = "2024"


def thresholds(year: str | None = None,
               overrides: Mapping[str, Sequence[float]] | None = None) -> dict[str, tuple[float, float, float]]:
    """The thresholds table for ``year`` (default 2024) with ``overrides`` applied per metric."""
    year = str(year or DEFAULT_YEAR)
    if year not in BENCHMARKS:
        raise ConfigError(f'Unknown benchmark "{year}"; choose one of {", ".join(BENCHMARKS)}.')
    table = dict(BENCHMARKS[year])
    for metric, values in (overrides or {}).items():
        if metric not in METRICS:
            raise ConfigError(f'Band override for unknown metric "{metric}"; '
                              f'expected one of {", ".join(METRICS)}.')
        vals = tuple(float(v) for v in values)
        if len(vals) != 3:
            raise ConfigError(f'Band override for "{metric}" needs three thresholds '
                              f"(elite, high, medium), got {list(values)!r}.")
        ordered = sorted(vals, reverse=METRICS[metric][0] == "higher")
        if list(vals) != ordered:
            raise ConfigError(f'Band override for "{metric}" must be monotonic from elite to medium, '
                              f"got {list(values)!r}.")
        table[metric] = vals
    return table


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def band_for(metric: str, value: float | None, year: str | None = None,
             overrides: Mapping[str, Sequence[float]] | None = None) -> str | None:
    """The band of one metric value under a benchmark year; None for a missing value."""
    if metric not in METRICS:
        raise ValueError(f"unknown band metric {metric!r}; expected one of {', '.join(METRICS)}")
    if _missing(value):
        return None
    value = float(value)
    limits = thresholds(year, overrides)[metric]
    comparison = METRICS[metric][1]
    for band, limit in zip(BANDS, limits):
        if ((comparison == ">=" and value >= limit) or (comparison == "<" and value < limit)
                or (comparison == "<=" and value <= limit)):
            return band
    return "low"
