"""The times Cadence accepts: one definition for the ingest checks, the dashboard and the CLI.

Stored times are events that have happened (a merge, a deployment, an incident, a day charged), so
they lie between ``EARLIEST`` (1970-01-01, the Unix epoch: no source Cadence reads has older
delivery or billing data) and one day after now (a day of slack for clocks that run ahead and for
the provider's estimate of today's cost). Anything else is a typo or a broken clock: ingest and the
webhook refuse it, and the dashboard leaves a row holding one out of every figure and counts it on
Data health (rows written another way, with SQL or by a sync from its source's data, can still
hold one).

Date *options* (``--start``, ``--end``, ``--week``, ...) may look ahead, so they are bounded by
what can be computed instead: 1970-01-01 to ``LAST_DAY`` (9998-12-31), which leaves a year for the
periods, the week rounding and the attribution window computed after a range's last day inside
the calendar of Python and pandas (year 9999).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from cadence.core.clock import utcnow

EARLIEST = datetime(1970, 1, 1)
FUTURE_SLACK = timedelta(days=1)
FIRST_DAY = EARLIEST.date()
LAST_DAY = date(9998, 12, 31)


def utc_now() -> datetime:
    """Now in UTC as a naive datetime (how the warehouse stores times); ``CADENCE_NOW`` pins it."""
    return utcnow()


def latest_accepted(now: datetime | None = None) -> datetime:
    """The latest stored time accepted: one day after ``now`` (default: the clock), UTC."""
    return (now or utc_now()) + FUTURE_SLACK


def accepted_range(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(earliest, latest) stored time accepted, both inclusive, naive UTC."""
    return EARLIEST, latest_accepted(now)


def describe_accepted_range(now: datetime | None = None) -> str:
    """The accepted range in words, for messages: "1970-01-01 to 2026-12-03 06:10 UTC (one day after now)"."""
    return f"{EARLIEST:%Y-%m-%d} to {latest_accepted(now):%Y-%m-%d %H:%M} UTC (one day after now)"


def day_option_problem(day: date) -> str | None:
    """None when ``day`` can be a date option's value, else why not (for the option's error)."""
    if isinstance(day, datetime):
        day = day.date()
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    side = "before" if day < FIRST_DAY else "after"
    return (f"{day.isoformat()} is {side} the dates Cadence computes with; give a day from "
            f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}.")
