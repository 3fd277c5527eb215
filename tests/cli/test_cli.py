"""The `cadence` command: every command has help, config errors are one line naming file and key,
and the database path follows --db > CADENCE_DB > config `database` > data/cadence.duckdb."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cadence.cli import AppContext, cli, main
from cadence.core.config import DEFAULT_DB


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and subcommand that exists at run time, as (argv prefix, command)."""
    ctx = click.Context(group)
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        out.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
    return out


ALL_COMMANDS = _commands(cli)


def test_the_expected_commands_exist():
    names = {" ".join(argv) for argv, _ in ALL_COMMANDS}
    assert {"ingest", "sync", "dashboard"} <= names


@pytest.mark.parametrize("argv", [argv for argv, _ in ALL_COMMANDS], ids=lambda a: " ".join(a))
def test_every_command_has_help_text(argv):
    cmd = dict(ALL_COMMANDS)[argv]
    assert (cmd.help or "").strip(), f"`cadence {' '.join(argv)}` has no docstring/help"
    result = CliRunner().invoke(cli, [*argv, "--help"])
    assert result.exit_code == 0, result.output
    assert f"Usage: cli {' '.join(argv)}" in result.output or f"Usage: cadence {' '.join(argv)}" in result.output
    first_line = cmd.help.strip().splitlines()[0]
    assert first_line[:40] in " ".join(result.output.split())


def test_top_level_help_lists_every_command_with_a_summary():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for argv, cmd in ALL_COMMANDS:
        if len(argv) == 1 and not cmd.hidden:   # hidden: internal (cadence serve's service-worker)
            line = next((ln for ln in result.output.splitlines() if ln.strip().startswith(argv[0] + " ")), None)
            assert line and len(line.split()) > 1, f"{argv[0]} lacks a summary in `cadence --help`"


# -- configuration errors: one line, file and key --------------------------------------------------

def _run_with_config(tmp_path: Path, toml: str, capsys) -> str:
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(toml, encoding="utf-8")
    data = tmp_path / "c.csv"
    data.write_text("id,repo\nc1,r\n", encoding="utf-8")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "w.duckdb"), "ingest", "changes", str(data)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, f"expected one line, got: {err!r}"
    assert not (tmp_path / "w.duckdb").exists(), "a bad config must stop before the database is touched"
    return err.rstrip("\n")


def test_typo_key_is_one_line_with_file_and_key(tmp_path, capsys):
    err = _run_with_config(tmp_path, 'production_enviroments = ["prod"]\n', capsys)
    assert err.startswith(f"Error: {tmp_path / 'cadence.toml'}: production_enviroments: unknown key; expected one of ")


def test_wrong_type_is_one_line_with_file_and_key(tmp_path, capsys):
    err = _run_with_config(tmp_path, 'attribution_window_days = "seven"\n', capsys)
    assert err == (f"Error: {tmp_path / 'cadence.toml'}: attribution_window_days: must be a whole number of days "
                   f"from 1 to 365, got 'seven'")


def test_unknown_team_key_is_one_line(tmp_path, capsys):
    err = _run_with_config(tmp_path, '[teams.payments]\nrepo = ["shop/api"]\n', capsys)
    assert err.startswith(f"Error: {tmp_path / 'cadence.toml'}: teams.payments.repo: unknown key; expected ")


def test_invalid_toml_is_one_line(tmp_path, capsys):
    err = _run_with_config(tmp_path, "teams = [\n", capsys)
    assert err.startswith(f"Error: {tmp_path / 'cadence.toml'}: not valid TOML: ")


def test_missing_config_file_is_one_line(tmp_path, capsys):
    data = tmp_path / "c.csv"
    data.write_text("id,repo\nc1,r\n", encoding="utf-8")
    assert main(["--config", str(tmp_path / "nope.toml"), "ingest", "changes", str(data)]) == 1
    assert capsys.readouterr().err == f"Error: {tmp_path / 'nope.toml'}: file not found; copy cadence.example.toml to start one.\n"


# -- database path precedence ---------------------------------------------------------------------

def test_db_precedence_flag_env_config_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('database = "from-config.duckdb"\n', encoding="utf-8")
    # flag beats everything
    monkeypatch.setenv("CADENCE_DB", str(tmp_path / "from-env.duckdb"))
    assert AppContext(db_arg="flag.duckdb", config_arg=str(cfg)).db_path == Path("flag.duckdb")
    # env beats the config
    assert AppContext(config_arg=str(cfg)).db_path == tmp_path / "from-env.duckdb"
    # the config (relative to the config file) beats the default
    monkeypatch.delenv("CADENCE_DB")
    assert AppContext(config_arg=str(cfg)).db_path == tmp_path / "from-config.duckdb"
    # nothing given: data/cadence.duckdb
    cfg.unlink()
    assert AppContext().db_path == DEFAULT_DB == Path("data") / "cadence.duckdb"


def test_db_precedence_end_to_end(tmp_path, monkeypatch, capsys):
    """The command writes where the precedence says, through the real CLI."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "c.csv"
    data.write_text("id,repo\nc1,r\n", encoding="utf-8")
    (tmp_path / "cadence.toml").write_text('database = "cfg.duckdb"\n', encoding="utf-8")
    assert main(["ingest", "changes", str(data)]) == 0                      # ./cadence.toml's database
    monkeypatch.setenv("CADENCE_DB", str(tmp_path / "env.duckdb"))
    assert main(["ingest", "changes", str(data)]) == 0                      # CADENCE_DB
    assert main(["--db", str(tmp_path / "flag.duckdb"), "ingest", "changes", str(data)]) == 0
    assert {p.name for p in tmp_path.glob("*.duckdb")} == {"cfg.duckdb", "env.duckdb", "flag.duckdb"}
    (tmp_path / "cadence.toml").unlink()
    monkeypatch.delenv("CADENCE_DB")
    assert main(["ingest", "changes", str(data)]) == 0                      # the default
    assert (tmp_path / "data" / "cadence.duckdb").exists()
    capsys.readouterr()


def test_docs_configuration_names_every_key():
    """docs/configuration.md documents every key the config and the sources accept."""
    from cadence.core import config as cfg
    from collectors import github, pagerduty

    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    keys = (set(cfg.TOP_LEVEL_KEYS) | set(cfg.TEAM_KEYS) | set(cfg.COST_ALLOCATION_KEYS)
            | set(github.CONFIG_KEYS) | set(github.REPO_KEYS) | set(pagerduty.CONFIG_KEYS)
            | {"team_tag", "lookback_months", "cloudwatch_regions", "utilization_days", "max_body_bytes"})
    sections = {"teams": "[teams.NAME]", "cost_allocation": "[cost_allocation]", "sources": "[sources.NAME]",
                "repo": "[sources.github.repo.\"OWNER/NAME\"]"}
    missing = sorted(k for k in keys if f"`{k}`" not in text and sections.get(k, "`?`") not in text)
    assert not missing, f"undocumented config keys: {missing}"
    for source in cfg.KNOWN_SOURCES:
        assert f"[sources.{source}]" in text
