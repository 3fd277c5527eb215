"""metrics.capacity: quarter arithmetic and the next-quarter forecast, computed by hand."""

from __future__ import annotations

import math
from datetime import date

import pytest

from metrics.capacity import _months, quarter_label, quarter_of, trend_forecast


def test_quarters_and_months_in_range():
    assert quarter_of(date(2026, 11, 15)) == date(2026, 10, 1)
    assert quarter_label(date(2026, 10, 1)) == "2026-Q4"
    # 2026-01-15 .. 2026-03-10: January 17 days (15..31), February 28, March 10.
    assert _months(date(2026, 1, 15), date(2026, 3, 10)) == [
        (date(2026, 1, 1), 17), (date(2026, 2, 1), 28), (date(2026, 3, 1), 10)]


def test_forecast_extends_the_linear_trend_of_daily_rates():
    # Rates 30/30 = 1, 60/30 = 2, 90/30 = 3 per day: slope 1, intercept 1 at month 0.
    # Next months 3, 4, 5 -> 4, 5, 6 per day over 31, 28, 31 days = 124 + 140 + 186 = 450.
    assert trend_forecast([30, 60, 90], [30, 30, 30], [31, 28, 31]) == pytest.approx(450)


def test_forecast_counts_a_partial_month_by_its_days():
    # 15 in 15 days, 60 in 30, 90 in 30: rates 1, 2, 3 again, so the same 4, 5, 6 per day;
    # over three 30-day months: 120 + 150 + 180 = 450.
    assert trend_forecast([15, 60, 90], [15, 30, 30], [30, 30, 30]) == pytest.approx(450)


def test_forecast_never_goes_below_zero():
    # Rates 3, 2, 1: slope -1, intercept 3 -> months 3, 4, 5 give 0, -1, -2 per day, clipped to 0.
    assert trend_forecast([90, 60, 30], [30, 30, 30], [30, 31, 30]) == 0


def test_forecast_with_little_history_extends_the_average_rate():
    # Two months: (10 + 20) / (10 + 30) = 0.75 per day over 90 days = 67.5.
    assert trend_forecast([10, 20], [10, 30], [30, 30, 30]) == pytest.approx(67.5)
    assert math.isnan(trend_forecast([], [], [30, 30, 30]))
