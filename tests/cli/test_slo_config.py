"""``[[slos]]`` in cadence.toml: each wrong declaration stops with one line naming file and key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cadence.cli import main
from cadence.core.clock import utcnow
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError

GOOD = {"name": "checkout-availability", "service": "checkout", "objective": 99.9, "window_days": 28,
        "good": 'http_requests_total{code!~"5.."}', "total": "http_requests_total"}


def test_a_valid_declaration_becomes_an_slo():
    config = parse_config({"slos": [GOOD, {"name": "search", "service": "search", "objective": 99,
                                           "window_days": 7}]})
    first, second = config.slos
    assert (first.name, first.service, first.objective, first.window_days) == ("checkout-availability", "checkout", 99.9, 28)
    assert first.target == pytest.approx(0.999) and first.has_selectors
    assert not second.has_selectors          # fed by `cadence ingest sli`
    assert parse_config({}).slos == ()


@pytest.mark.parametrize(("change", "key", "words"), [
    ({"objective": 100}, "slos[2].objective", "above 0 and below 100"),
    ({"objective": 0}, "slos[2].objective", "above 0 and below 100"),
    ({"objective": "99.9"}, "slos[2].objective", "got '99.9'"),
    ({"objective": True}, "slos[2].objective", "got True"),
    ({"window_days": 0}, "slos[2].window_days", "from 1 to 90"),
    ({"window_days": 91}, "slos[2].window_days", "from 1 to 90"),
    ({"window_days": 7.5}, "slos[2].window_days", "from 1 to 90"),
    ({"service": ""}, "slos[2].service", "must name the service"),
    ({"name": " "}, "slos[2].name", "non-empty string"),
    ({"name": "checkout-availability"}, "slos[2].name", "already the name of slos[1]"),
    ({"good": ""}, "slos[2].good", "non-empty Prometheus counter selector"),
    ({"total": None, "good": "x_total"}, "slos[2].total", "good and total go together"),
    ({"latency": 0.3}, "slos[2].latency", "unknown key"),
])
def test_each_fault_names_the_key(change, key, words):
    second = {**GOOD, "name": "other", **change}
    second = {k: v for k, v in second.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        parse_config({"slos": [GOOD, second]}, Path("cadence.toml"))
    message = str(info.value)
    assert message.startswith(f"cadence.toml: {key}: ") and words in message
    assert "\n" not in message


def test_slos_must_be_an_array_of_tables():
    with pytest.raises(ConfigError, match="slos: must be an array"):
        parse_config({"slos": {"name": "x"}})


def test_the_cli_stops_at_start_with_one_line(tmp_path, capsys):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[[slos]]\nname = "a"\nservice = "a"\nobjective = 99.9\nwindow_days = 120\n', encoding="utf-8")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "x.duckdb"), "slo"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"Error: {cfg}: slos[1].window_days: SLO \"a\": must be a whole number of days from 1 "
                   f"to 90 (e.g. 28), got 120")


def test_cadence_now_pins_the_clock(monkeypatch):
    monkeypatch.setenv("CADENCE_NOW", "2026-03-01T12:30:00+02:00")
    assert utcnow() == datetime(2026, 3, 1, 10, 30)
    monkeypatch.setenv("CADENCE_NOW", "yesterday")
    with pytest.raises(ConfigError, match='CADENCE_NOW="yesterday" is not an ISO-8601 time'):
        utcnow()


def test_docs_configuration_names_every_slo_and_prometheus_key():
    from cadence.core.settings.slos import SLO_KEYS
    from collectors.prometheus.settings import CONFIG_KEYS

    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "## `[[slos]]`" in text and "### `[sources.prometheus]`" in text
    assert [k for k in (*SLO_KEYS, *CONFIG_KEYS) if f"`{k}`" not in text] == []
    for variable in ("PROMETHEUS_TOKEN", "PROMETHEUS_USERNAME", "PROMETHEUS_PASSWORD", "CADENCE_NOW"):
        assert f"`{variable}`" in text
