"""`cadence pipelines` on the demo database, its keys and options, and `[pipelines]` config errors."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError
from metrics.pipelines import SUMMARY_KEYS

DEMO_TODAY = date(2026, 11, 20)   # the demo ends on Sunday 2026-11-15


def test_json_on_the_demo_database(demo_warehouse, capsys, monkeypatch):
    monkeypatch.setenv("CADENCE_NOW", "2026-11-16T08:00:00Z")   # default range: the 28 days to 2026-11-16
    assert main(["--db", str(demo_warehouse), "pipelines", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and list(rows[0]) == list(SUMMARY_KEYS) and rows[0]["scope"] == "all"
    assert rows[0]["runs"] > 0 and 0 < rows[0]["success_rate"] < 1 and rows[0]["ci_cost"] > 0
    assert main(["--db", str(demo_warehouse), "pipelines", "--start", "2026-08-01", "--end", "2026-11-15",
                 "--by", "repo", "--format", "json"]) == 0
    by_repo = {r["scope"]: r for r in json.loads(capsys.readouterr().out)}
    # growth's mobile-app builds iOS on macOS runners: the biggest CI bill of any repository
    assert max(by_repo, key=lambda s: by_repo[s]["ci_cost"]) == "brightcart/mobile-app"
    assert main(["--db", str(demo_warehouse), "pipelines", "--start", "2026-08-01", "--end", "2026-11-15",
                 "--by", "team", "--format", "json"]) == 0
    by_team = {r["scope"]: r for r in json.loads(capsys.readouterr().out)}
    # catalog's flaky test suite: the highest flaky rate of the teams
    assert max(by_team, key=lambda s: by_team[s]["flaky_rate"] or 0) == "catalog"


def test_table_and_bad_range(demo_warehouse, capsys):
    assert main(["--db", str(demo_warehouse), "pipelines", "--start", "2026-11-09", "--end", "2026-11-15",
                 "--by", "workflow"]) == 0
    out = capsys.readouterr().out
    assert "brightcart/mobile-app: ios-build" in out and "red_hours_default_branch" in out
    assert main(["--db", str(demo_warehouse), "pipelines", "--start", "2026-11-15", "--end", "2026-11-01"]) != 0


@pytest.mark.parametrize("section, message", [
    ({"rates_usd_per_minute": {"macos": "cheap"}}, "pipelines.rates_usd_per_minute.macos: must be a number"),
    ({"rates_usd_per_minute": {"linux": -1}}, "0 or more"),
    ({"default_branches": []}, "pipelines.default_branches: must be a non-empty list"),
    ({"branches": ["main"]}, "pipelines.branches: unknown key"),
])
def test_config_errors_name_the_key(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"pipelines": section})
