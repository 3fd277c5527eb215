"""Exact hourly increments of a counter selector, from Prometheus' hourly evaluations.

Why not ``sum(increase(sel[1h]))`` at step 1h: ``increase()`` sees only the samples inside each
one-hour window and extrapolates their growth to the window's edges. The growth between the last
sample of one hour and the first of the next falls in no window, and is replaced by an estimate.
Measured on the test series (tests/support/prometheus.py), with scrapes 17 s past each minute:
an error counted between 01:59:17 and 02:00:17 vanished (the 02:00-03:00 hour read 0), and an
hour with 3 errors read 3.0508 (= 3 x 60/59). Sums over a window come out close, but error budgets
are made of rare bad events, and those are exactly what the extrapolation drops or smears.

What is exact instead: a counter's growth telescopes. With ``L(T)`` the last sample at or before
the end ``T`` of an hour (``last_over_time(sel[1h])``, one series per matching series), a series'
increment in the hour is ``L(T) - L(T - 1h)``, straddling pair included, whenever no reset happened
since the last sample of the previous hour (``resets(sel[2h]) == 0`` at ``T``: the two-hour window
holds that sample and every sample of the hour). Every other case (a reset, or a series that has
no sample in the previous hour: a new series or the first hour after a scrape gap) is computed from
the raw samples: the sum over consecutive samples of ``v - prev`` when the counter grew, ``v`` when
it was reset (it restarted from 0) - the same correction Prometheus applies, without extrapolation.
The growth across a whole hour with no sample is not counted anywhere: such an hour is a gap.

An increment belongs to the hour that holds its later sample; an hour ``h`` covers samples with
``h < t <= h + 1h`` (a counter read at 02:00:00 has counted events before 02:00:00).
Several series matching one selector are summed per hour.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from collectors.prometheus.client import PrometheusClient, epoch, sample_value, series_key

HOUR = timedelta(hours=1)
MAX_RAW_RUN_HOURS = 24      # raw-sample queries cover at most this many consecutive hours


@dataclass
class Increments:
    """Per hour start (naive UTC): the summed increment, for hours where a series has a sample."""

    values: dict[datetime, float] = field(default_factory=dict)
    series: int = 0            # series the selector matched in the range
    from_raw: int = 0          # (series, hour) increments computed from raw samples


def _matrix(result: list[dict]) -> dict[tuple, dict[int, float]]:
    out: dict[tuple, dict[int, float]] = {}
    for item in result:
        points = out.setdefault(series_key(item.get("metric") or {}), {})
        for t, v in item.get("values") or []:
            value = sample_value(v)
            if value is not None:
                points[int(round(float(t)))] = value
    return out


def _raw(result: list[dict]) -> dict[tuple, list[tuple[float, float]]]:
    out: dict[tuple, list[tuple[float, float]]] = {}
    for item in result:
        samples = out.setdefault(series_key(item.get("metric") or {}), [])
        for t, v in item.get("values") or []:
            value = sample_value(v)
            if value is not None:
                samples.append((float(t), value))
        samples.sort()
    return out


def counter_increase(values: Iterable[float]) -> float:
    """The growth of a counter over consecutive readings, counting a drop as a restart from 0."""
    total = 0.0
    prev = None
    for v in values:
        if prev is not None:
            total += v - prev if v >= prev else v
        prev = v
    return total


def increment_from_samples(samples: list[tuple[float, float]], hour: datetime) -> float:
    """A series' increment in ``hour`` from its raw samples: from the last sample of the previous
    hour (when there is one) through the samples of this hour."""
    start, end = epoch(hour), epoch(hour + HOUR)
    prev = None
    inside = []
    for t, v in samples:
        if start - 3600 < t <= start:
            prev = v
        elif start < t <= end:
            inside.append(v)
    return counter_increase(([prev] if prev is not None else []) + inside)


def _runs(hours: list[datetime]) -> Iterator[list[datetime]]:
    """Consecutive hours grouped, at most MAX_RAW_RUN_HOURS to a group."""
    run: list[datetime] = []
    for h in hours:
        if run and (h - run[-1] != HOUR or len(run) >= MAX_RAW_RUN_HOURS):
            yield run
            run = []
        run.append(h)
    if run:
        yield run


def hourly_increments(client: PrometheusClient, selector: str, start: datetime, end: datetime,
                      what: str) -> Increments:
    """The increments of ``selector`` in each hour of [start, end), summed over its series.

    Two range queries at step 1h (``end - start`` hours: the caller keeps that within
    Prometheus' points limit), plus a raw-sample query per run of hours that need one.
    """
    last = _matrix(client.query_range(f"last_over_time({selector}[1h])", start, end, 3600,
                                      f"{what} (last sample per hour)"))
    resets = _matrix(client.query_range(f"resets({selector}[2h])", start + HOUR, end, 3600,
                                        f"{what} (counter resets)")) if last else {}
    hours = [start + i * HOUR for i in range(int((end - start) / HOUR))]
    out = Increments(series=len(last))
    need: dict[datetime, set[tuple]] = defaultdict(set)
    for key, points in last.items():
        series_resets = resets.get(key, {})
        for h in hours:
            t = epoch(h + HOUR)
            cur = points.get(t)
            if cur is None:
                continue
            out.values.setdefault(h, 0.0)
            prev = points.get(t - 3600)
            if prev is not None and not series_resets.get(t) and cur >= prev:
                out.values[h] += cur - prev
            else:
                need[h].add(key)
    for run in _runs(sorted(need)):
        span = int((run[-1] - run[0]) / HOUR) + 2     # the hour before the run, too
        raw = _raw(client.query_raw(selector, span, run[-1] + HOUR, f"{what} (raw samples)"))
        for h in run:
            for key in need[h]:
                out.values[h] += increment_from_samples(raw.get(key, []), h)
                out.from_raw += 1
    return out
