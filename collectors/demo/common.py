"""What every demo generator shares: the calendar of the year and the random draws over it, and
the accumulator of the delivery rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from collectors.demo.data import Value

def anchor_end(today: date) -> date:
    """The last day of the demo: the Sunday before ``today`` (the last complete ISO week)."""
    return today - timedelta(days=today.weekday() + 1)


def _black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    first_friday = nov1 + timedelta(days=(4 - nov1.weekday()) % 7)
    return first_friday + timedelta(weeks=3)


@dataclass
class Calendar:
    """Day-level facts every generator shares. Times are float hours since ``start`` 00:00 UTC."""

    start: date
    days: int
    dates: pd.DatetimeIndex = field(init=False)
    weekend: np.ndarray = field(init=False)
    holiday: np.ndarray = field(init=False)      # Dec 24 - Jan 1: almost nobody ships
    freeze: np.ndarray = field(init=False)       # Black Friday week: change freeze
    season: np.ndarray = field(init=False)       # retail traffic multiplier
    month_end: np.ndarray = field(init=False)
    month_start: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.dates = pd.date_range(self.start, periods=self.days, freq="D")
        self.weekend = np.asarray(self.dates.day_of_week >= 5)
        month, day = np.asarray(self.dates.month), np.asarray(self.dates.day)
        self.holiday = ((month == 12) & (day >= 24)) | ((month == 1) & (day == 1))
        self.month_end = np.asarray((self.dates + pd.Timedelta(days=2)).month != month)
        self.month_start = day == 1
        day_numbers = np.asarray((self.dates - pd.Timestamp("1970-01-01")).days)
        freeze = np.zeros(self.days, dtype=bool)
        season = np.ones(self.days)
        for year in sorted(set(self.dates.year)):
            bf = (pd.Timestamp(_black_friday(year)) - pd.Timestamp("1970-01-01")).days
            offset = day_numbers - bf
            freeze |= (offset >= -4) & (offset <= 3)
            season += 0.7 * np.exp(-0.5 * (offset / 3.0) ** 2)
            season += 0.18 * ((offset >= -10) & (offset <= 35))
        self.freeze = freeze
        self.season = season

    @property
    def end_hours(self) -> float:
        return self.days * 24.0

    def day_of(self, hours: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(hours) // 24).astype(int), 0, self.days - 1)


def progress(t: np.ndarray) -> np.ndarray:
    """0 -> 1 over the year along an S-curve centred at 45 %: when the improving team changed."""
    s = lambda x: 1.0 / (1.0 + np.exp(-(x - 0.45) / 0.08))  # noqa: E731
    return (s(np.asarray(t, dtype=float)) - s(0.0)) / (s(1.0) - s(0.0))


def value_at(value: Value, t) -> np.ndarray:
    if isinstance(value, tuple):
        a, b = value
        return a + (b - a) * progress(t)
    return np.full(np.shape(t), float(value))


def lognormal(rng: np.random.Generator, median, sigma: float, size: int) -> np.ndarray:
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(size))


def daily_times(rng, lam: np.ndarray, center: float, spread: float) -> np.ndarray:
    """Poisson(lam[d]) event times on each day d, clustered around the working day's middle."""
    counts = rng.poisson(np.maximum(lam, 0))
    day = np.repeat(np.arange(lam.size), counts)
    hour = np.clip(rng.normal(center, spread, day.size), 0.2, 23.8)
    return np.sort(day * 24.0 + hour)


def random_shas(rng, n: int) -> list[str]:
    raw = rng.bytes(20 * n).hex()
    return [raw[i * 40:(i + 1) * 40] for i in range(n)]


def hours_to_ts(start: pd.Timestamp, hours) -> pd.Series:
    h = pd.Series(hours, dtype="float64")
    return start + pd.to_timedelta((h * 3600).round(), unit="s")


@dataclass
class Delivery:
    prs: list[pd.DataFrame] = field(default_factory=list)
    deploys: list[pd.DataFrame] = field(default_factory=list)
    links: list[tuple[int, str, int]] = field(default_factory=list)  # (deploy key, repo, pr idx)
    incidents: list[pd.DataFrame] = field(default_factory=list)
    next_key: int = 0

    def keys(self, n: int) -> np.ndarray:
        out = np.arange(self.next_key, self.next_key + n)
        self.next_key += n
        return out
