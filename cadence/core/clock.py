"""The current time, pinnable: ``CADENCE_NOW`` (ISO-8601, UTC unless it carries an offset) stands in
for the wall clock, so a CLI run in a subprocess (tests, a replay of a past run) sees a fixed "now".
Library functions take a ``now`` parameter first; this is their default."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from cadence.core.errors import ConfigError

NOW_ENV = "CADENCE_NOW"


def utcnow() -> datetime:
    """Now as a naive UTC datetime: ``CADENCE_NOW`` when set, else the wall clock."""
    raw = os.environ.get(NOW_ENV, "").strip()
    if not raw:
        return datetime.now(UTC).replace(tzinfo=None)
    try:
        return parse_utc(raw)
    except ValueError:
        raise ConfigError(f'{NOW_ENV}="{raw}" is not an ISO-8601 time (e.g. 2026-03-01T12:00:00Z); '
                          f"fix or unset it.") from None


def naive_utc(ts: datetime | None) -> datetime:
    """``ts`` as a naive UTC datetime (an aware one converted, a naive one taken as UTC); ``None``
    is now (``utcnow``, so ``CADENCE_NOW`` pins it)."""
    if ts is None:
        return utcnow()
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def parse_utc(value: str | None) -> datetime | None:
    """An ISO-8601 time as APIs send it (``2026-03-02T10:00:00.123Z``, or with an offset) as naive
    UTC, the way the warehouse stores times; None for None or "". Raises ValueError if malformed."""
    if not value:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def hour_floor(ts: datetime) -> datetime:
    """The start of the UTC hour holding ``ts`` (naive UTC in, naive UTC out)."""
    return ts.replace(minute=0, second=0, microsecond=0)


def last_complete_hour_end(now: datetime | None = None) -> datetime:
    """The end of the last complete UTC hour at ``now`` (= the start of the current hour)."""
    return hour_floor(now or utcnow())


def day_end(day) -> datetime:
    """DATE 24:00 UTC, i.e. the next day's midnight, as a naive UTC datetime."""
    return datetime(day.year, day.month, day.day) + timedelta(days=1)
