"""Performance bands: the thresholds table per benchmark year, overrides, and missing values."""

from __future__ import annotations

import math

import pytest

from cadence.core.errors import ConfigError
from metrics.bands import BENCHMARKS, band_for, thresholds


@pytest.mark.parametrize("year", ["2023", "2024"])
@pytest.mark.parametrize("metric, value, band", [
    # deployments per day: >= 1 elite, >= 1/7 high, >= 1/30 medium
    ("deployment_frequency", 1.0, "elite"), ("deployment_frequency", 0.99, "high"),
    ("deployment_frequency", 1 / 7, "high"), ("deployment_frequency", 0.14, "medium"),
    ("deployment_frequency", 1 / 30, "medium"), ("deployment_frequency", 0.033, "low"),
    # lead time hours: < 24 elite, < 168 high, < 720 medium
    ("lead_time", 23.9, "elite"), ("lead_time", 24.0, "high"), ("lead_time", 167.9, "high"),
    ("lead_time", 168.0, "medium"), ("lead_time", 720.0, "low"),
    # change failure rate: <= 5 % elite, <= 10 % high, <= 15 % medium
    ("change_failure_rate", 0.05, "elite"), ("change_failure_rate", 0.051, "high"),
    ("change_failure_rate", 0.10, "high"), ("change_failure_rate", 0.15, "medium"),
    ("change_failure_rate", 0.151, "low"),
    # recovery hours: < 1 elite, < 24 high, < 168 medium
    ("recovery_time", 0.5, "elite"), ("recovery_time", 1.0, "high"), ("recovery_time", 23.0, "high"),
    ("recovery_time", 24.0, "medium"), ("recovery_time", 168.0, "low"),
])
def test_2023_and_2024_bands(year, metric, value, band):
    assert band_for(metric, value, year) == band


@pytest.mark.parametrize("metric, value, band", [
    # 2021: elite deploys on demand (>= 1/day), high down to monthly, medium down to 6-monthly
    ("deployment_frequency", 1.0, "elite"), ("deployment_frequency", 1 / 7, "high"),
    ("deployment_frequency", 1 / 30, "high"), ("deployment_frequency", 1 / 60, "medium"),
    ("deployment_frequency", 1 / 200, "low"),
    # lead time: < 1 hour elite, < 1 week high, < 6 months medium
    ("lead_time", 0.5, "elite"), ("lead_time", 12.0, "high"), ("lead_time", 200.0, "medium"),
    ("lead_time", 180 * 24.0, "low"),
    # CFR: <= 15 % elite, <= 20 % high, <= 30 % medium (DevLake's split of 16-30 %)
    ("change_failure_rate", 0.15, "elite"), ("change_failure_rate", 0.2, "high"),
    ("change_failure_rate", 0.3, "medium"), ("change_failure_rate", 0.31, "low"),
    ("recovery_time", 0.9, "elite"), ("recovery_time", 5.0, "high"), ("recovery_time", 48.0, "medium"),
    ("recovery_time", 200.0, "low"),
])
def test_2021_bands(metric, value, band):
    assert band_for(metric, value, "2021") == band


@pytest.mark.parametrize("value", [None, math.nan])
def test_missing_value_has_no_band(value):
    for metric in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"):
        assert band_for(metric, value, "2024") is None


def test_default_year_is_2024_and_tables_are_monotonic():
    assert band_for("change_failure_rate", 0.12) == "medium"
    for year, table in BENCHMARKS.items():
        for metric, (elite, high, medium) in table.items():
            if metric == "deployment_frequency":
                assert elite > high > medium, (year, metric)
            else:
                assert elite < high < medium, (year, metric)


def test_user_override_replaces_one_metric():
    custom = {"change_failure_rate": (0.02, 0.04, 0.08)}
    assert band_for("change_failure_rate", 0.05, "2024", custom) == "medium"
    assert band_for("lead_time", 12.0, "2024", custom) == "elite"      # others untouched
    assert thresholds("2024", custom)["change_failure_rate"] == (0.02, 0.04, 0.08)


@pytest.mark.parametrize("year, overrides, message", [
    ("2019", None, 'Unknown benchmark "2019"'),
    ("2024", {"mttr": (1, 2, 3)}, 'unknown metric "mttr"'),
    ("2024", {"lead_time": (1, 2)}, "three thresholds"),
    ("2024", {"lead_time": (10, 2, 30)}, "monotonic"),
])
def test_bad_benchmark_or_override_is_named(year, overrides, message):
    with pytest.raises(ConfigError, match=message):
        thresholds(year, overrides)
