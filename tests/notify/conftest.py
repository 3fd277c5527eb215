"""Session-scoped servers for the notification tests (started once per test process), a demo
warehouse, and a notify config pointing every channel kind at them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.notify.receivers import HttpReceiver, SmtpSink

DEMO_TODAY = date(2026, 11, 20)       # the demo ends Sunday 2026-11-15: its last week is 2026-W46
DEMO_WEEK = "2026-W46"
DEMO_NOW = "2026-11-16T09:00:00Z"     # Monday morning after it, when a weekly digest goes out
SIGNING_KEY = "test-signing-key-6f1d2b9e0c"


@pytest.fixture(scope="session")
def http_receiver():
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def demo_master(demo_warehouse) -> Path:
    """The run's shared demo warehouse (tests/support/demo.py): read only."""
    return demo_warehouse


@pytest.fixture
def demo_db(demo_warehouse_copy) -> Path:
    """A private copy of the demo warehouse (the tests write alert state and deliveries)."""
    return demo_warehouse_copy


@pytest.fixture
def smtp_env(monkeypatch, smtp_sink):
    monkeypatch.setenv("CADENCE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CADENCE_SMTP_PORT", str(smtp_sink.port))
    monkeypatch.setenv("CADENCE_SMTP_FROM", "cadence@example.com")
    monkeypatch.setenv("CADENCE_SMTP_STARTTLS", "false")
    for name in ("CADENCE_SMTP_USER", "CADENCE_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _notify_env(monkeypatch):
    """No developer's notify variables leak in; links use a fixed public URL."""
    for name in ("CADENCE_NOTIFY_SIGNING_KEY", "CADENCE_SMTP_HOST", "CADENCE_SMTP_PORT", "CADENCE_SMTP_FROM",
                 "CADENCE_SMTP_STARTTLS", "CADENCE_SMTP_USER", "CADENCE_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CADENCE_PUBLIC_URL", "https://cadence.example.com")
