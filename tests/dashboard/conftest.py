"""Fixtures of the dashboard tests."""

from __future__ import annotations

import pytest

from tests.support.apptest_support import dashboard_env


@pytest.fixture
def demo(demo_warehouse):
    """The run's demo warehouse as the dashboard's database, "today" pinned to DEMO_TODAY."""
    with dashboard_env(demo_warehouse):
        yield demo_warehouse
