"""Fixtures of the collector tests."""

from __future__ import annotations

import pytest

from tests.support.aws_support import start_moto


@pytest.fixture(scope="module")
def moto_url():
    """A moto server on 127.0.0.1, one per test module (tests/support/aws_support.py)."""
    server, url = start_moto()
    yield url
    server.stop()
