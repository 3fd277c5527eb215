"""Odd config files (issue 13, item 6): each is one line naming the file, the key and what is wrong,
never a traceback. The fuzz case swaps every value of a full config for values of the wrong type."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError


def _one_line_error(tmp_path: Path, raw: bytes, capsys) -> str:
    """`cadence ingest` with this config file: exit 1, one line on stderr, nothing written."""
    cfg = tmp_path / "cadence.toml"
    cfg.write_bytes(raw)
    data = tmp_path / "c.csv"
    data.write_text("id,repo\nc1,r\n", encoding="utf-8")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "w.duckdb"), "ingest", "changes", str(data)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, f"expected one line, got: {err[:500]!r}"
    assert not (tmp_path / "w.duckdb").exists(), "a bad config must stop before the database is touched"
    return err.rstrip("\n").removeprefix("Error: ")


def test_latin1_byte_names_the_key_the_line_and_the_fix(tmp_path, capsys):
    # "café" written by an editor in Latin-1: é is the single byte 0xE9, not UTF-8.
    err = _one_line_error(tmp_path, b'rework_labels = ["hotfix"]\ndatabase = "caf\xe9.duckdb"\n', capsys)
    assert err.startswith(f"{tmp_path / 'cadence.toml'}: database: ")
    assert "line 2" in err and "UTF-8" in err and "0xe9" in err


def test_latin1_byte_outside_a_key_names_the_line(tmp_path, capsys):
    err = _one_line_error(tmp_path, b'# caf\xe9\ndatabase = "x.duckdb"\n', capsys)
    assert err.startswith(f"{tmp_path / 'cadence.toml'}: line 1: ") and "UTF-8" in err


@pytest.mark.parametrize("section", ["services", "accounts"])
@pytest.mark.parametrize("value", ['["payments"]', '{ team = "payments" }'])
def test_a_list_or_table_where_a_team_name_belongs(tmp_path, capsys, section, value):
    # Used to end in "TypeError: unhashable type: 'list'" (a list looked up among the team names).
    toml = f'[teams.payments]\nrepos = ["shop/api"]\n[cost_allocation.{section}]\n"Amazon RDS" = {value}\n'
    err = _one_line_error(tmp_path, toml.encode(), capsys)
    assert err.startswith(f'{tmp_path / "cadence.toml"}: cost_allocation.{section}.Amazon RDS: must be a team name')


def test_array_nested_2000_deep(tmp_path, capsys):
    toml = 'database = "x.duckdb"\nrework_labels = ' + "[" * 2000 + "]" * 2000 + "\n"
    err = _one_line_error(tmp_path, toml.encode(), capsys)
    assert err.startswith(f"{tmp_path / 'cadence.toml'}: rework_labels: ")
    assert "nested too deeply" in err and "line 2" in err


def test_inline_tables_nested_deep_across_lines(tmp_path, capsys):
    toml = "[teams.a]\nrepos = [\n" + "{ x = [\n" * 1500 + "]}\n" * 1500 + "]\n"
    err = _one_line_error(tmp_path, toml.encode(), capsys)
    assert err.startswith(f"{tmp_path / 'cadence.toml'}: teams.a.repos: ") and "nested too deeply" in err


def test_a_long_wrong_value_is_shown_short(tmp_path, capsys):
    toml = "production_environments = " + "[" * 90 + '"x"' + "]" * 90 + "\n"   # deep, but parseable
    err = _one_line_error(tmp_path, toml.encode(), capsys)
    assert err.startswith(f"{tmp_path / 'cadence.toml'}: production_environments: must be a list of non-empty strings")
    assert len(err) < 300


FULL = {
    "database": "x.duckdb", "production_environments": ["prod"], "attribution_window_days": 7,
    "rework_labels": ["hotfix"], "benchmark": "2024",
    "teams": {"payments": {"repos": ["shop/api"], "services": ["api"], "cost_tags": ["p"], "accounts": ["1"]}},
    "cost_allocation": {"accounts": {"1": "payments"}, "services": {"S": "payments"}, "shared_split": "even",
                        "shared_tags": ["x"]},
    "sources": {
        "github": {"base_url": "https://api.github.com", "repos": ["shop/api"], "org": "shop", "include": ["a"],
                   "exclude": ["b"], "incident_label": "i", "max_rate_limit_wait": 3, "parallelism": 2,
                   "token_env": "CADENCE_GH_TOKEN",
                   "repo": {"shop/api": {"deployments": "workflow", "workflow": "d.yml", "service": "api",
                                         "environments": ["prod"]}}},
        "pagerduty": {"base_url": "https://x", "service_ids": ["P1"], "services": {"P1": "api"},
                      "since": "2025-01-01", "token_env": "CADENCE_PD_TOKEN"},
        "aws": {"team_tag": "team", "lookback_months": 3, "cloudwatch_regions": ["us-east-1"],
                "utilization_days": 30},
        "webhook": {"max_body_bytes": 2048},
    },
}
WRONG = [["a", ["b"]], [["a"]], {"k": "v"}, {"k": ["v"]}, 3, True, 2.5, -1, dt.datetime(2025, 1, 1),
         dt.date(2025, 1, 1), dt.time(1, 2), "", "x", "[" * 40]


def _paths(doc, prefix=()):
    for key, value in doc.items():
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _paths(value, (*prefix, key))


def test_every_key_with_every_wrong_type_is_a_config_error():
    """Each key of a full config (sources included) set to each wrong value: a ConfigError naming the
    key, or accepted; never another exception. 14 values x ~50 keys, well under a second."""
    import collectors.aws_costs as aws
    import collectors.github as github
    import collectors.pagerduty as pagerduty
    import collectors.webhook as webhook

    readers = (github.GitHubSettings.from_config, pagerduty.read_settings, aws.aws_settings,
               webhook.max_body_bytes_from)
    parse_config(FULL)  # the unchanged document is valid
    tried = 0
    for path in list(_paths(FULL)):
        for wrong in WRONG:
            doc = copy.deepcopy(FULL)
            target = doc
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = wrong
            tried += 1
            try:
                config = parse_config(doc, Path("cadence.toml"))
                for read in readers:
                    read(config)
            except ConfigError as exc:
                assert str(exc).startswith("cadence.toml: "), str(exc)
                assert len(str(exc)) < 600, str(exc)
    assert tried > 500
