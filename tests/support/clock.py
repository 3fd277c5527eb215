"""Pinning "now" in tests the one documented way: ``CADENCE_NOW``, which ``cadence.core.clock.utcnow``
reads for the CLI, the dashboard, the collectors and any subprocess they start (docs/operations.md).
Tests never patch a module's own clock; the ``pin_now`` fixture (tests/conftest.py) sets it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from cadence.core.clock import NOW_ENV

__all__ = ["NOW_ENV", "now_text"]


def now_text(when: date | datetime | str) -> str:
    """``when`` as a CADENCE_NOW value: a datetime as is (naive = UTC), a date at 12:00 UTC that day."""
    if isinstance(when, str):
        return when
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, 12, 0)
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat() + "Z"
