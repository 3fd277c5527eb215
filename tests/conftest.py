"""Shared fixtures. Tests never touch the network beyond 127.0.0.1 and never depend on today."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from cadence.auth.oidc import OIDC_ENV
from cadence.core.config import Config, parse_config
from tests.support.clock import NOW_ENV, now_text
from tests.support.demo import copy_demo, shared_demo
from tests.support.prometheus import prometheus  # noqa: F401  (session fixture: a real Prometheus)
from tests.support.oidc_provider import oidc_provider  # noqa: F401  (a session fixture: the OpenID provider)
from warehouse import connect

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT / "tests" / "data"  # copies of ../shared/data (see its README)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's tokens, config or database. Dashboards that tests start skip
    the warm-up (cadence.dashboard.warm: it runs every page before health says ok, 15-20 s on the
    demo per server); tests/dashboard/test_warm.py turns it back on, and the installed-package test
    starts the server as a user would, with it."""
    monkeypatch.setenv("CADENCE_WARM", "0")
    for var in ("CADENCE_DB", "CADENCE_CONFIG", "GITHUB_TOKEN", "PAGERDUTY_TOKEN",
                "CADENCE_WEBHOOK_TOKEN", "AWS_PROFILE", "CADENCE_NOW", "PROMETHEUS_TOKEN",
                "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD", "GITLAB_TOKEN",
                *OIDC_ENV):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def pin_now(monkeypatch):
    """``pin_now(when)``: "now" is ``when`` for the code under test and its subprocesses, through the
    one documented setting CADENCE_NOW (a date means 12:00 UTC that day); undone after the test."""
    def pin(when: date | datetime | str) -> None:
        monkeypatch.setenv(NOW_ENV, now_text(when))
    return pin


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The demo warehouse (seed 42, ending Sunday 2026-11-15), built once per run: read it only."""
    return shared_demo(tmp_path_factory)


@pytest.fixture
def demo_warehouse_copy(demo_warehouse, tmp_path) -> Path:
    """A private copy of the demo warehouse for a test that writes to it."""
    return copy_demo(demo_warehouse, tmp_path / "demo")


@pytest.fixture
def db_path(tmp_path) -> Path:
    """A new, migrated warehouse file."""
    path = tmp_path / "cadence.duckdb"
    connect(path).close()
    return path


@pytest.fixture
def con(db_path):
    """A read-write connection to a new warehouse file, closed after the test."""
    c = connect(db_path)
    yield c
    c.close()


@pytest.fixture
def config() -> Config:
    """Two teams; payments owns two repos."""
    return parse_config({
        "teams": {
            "payments": {"repos": ["shop/api", "shop/billing"], "services": ["api", "billing"],
                         "cost_tags": ["payments"]},
            "storefront": {"repos": ["shop/web"], "services": ["web"], "cost_tags": ["storefront"]},
        },
    })
