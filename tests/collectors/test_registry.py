"""The source registry (collectors/registry.py) is the one list the CLI, ``export --sync``,
``cadence serve``, Data health and the dashboard's hints read: every source is in it, every
``cadence sync`` command comes from it, and a source registered at run time shows up everywhere."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from click.testing import CliRunner

from cadence.cli import cli, main
from collectors import registry
from collectors.report import SyncReport

EVERY_SOURCE = {"github", "github-actions", "gitlab", "pagerduty", "aws-costs", "aws-exports", "cost-exports",
                "prometheus", "files", "webhook", "demo"}


def test_the_registry_lists_every_source_with_its_declaration():
    assert {s.name for s in registry.sources()} == EVERY_SOURCE
    for source in registry.sources():
        assert source.title and source.tables and source.incremental, source.name
        assert source.how_to_fill, source.name
        if source.command:
            assert source.sync and source.section and source.help, source.name
        if source.sync:
            assert callable(source.load()), source.name   # the "module:function" path resolves
    assert {s.name for s in registry.sources() if not s.sync} == {"github-actions", "webhook"}   # read within
    # `cadence sync github`; pushed


def test_the_registry_imports_nothing_above_the_collectors():
    """The registry is read by the CLI and the pages, never the other way round: importing it loads
    no CLI, dashboard or metrics module (checked in a fresh interpreter)."""
    import subprocess
    import sys

    code = ("import sys, collectors.registry\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('metrics', 'pages', 'click', 'streamlit')\n"
            "       or m.startswith(('cadence.commands', 'cadence.cli', 'cadence.dashboard'))]\n"
            "print(','.join(sorted(bad)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_every_sync_command_comes_from_the_registry():
    group = cli.get_command(None, "sync")
    ctx = group.make_context("sync", [], resilient_parsing=True)
    assert group.list_commands(ctx) == sorted(s.command for s in registry.pulled())
    assert sorted(s.command for s in registry.pulled()) == \
        ["aws-costs", "aws-exports", "github", "gitlab", "pagerduty", "prometheus"]
    for source in registry.pulled():
        command = group.get_command(ctx, source.command)
        flags = {opt for p in command.params for opt in p.opts}
        assert flags == {o.flag for o in source.options}, source.name
        assert command.help == source.help


def test_the_schedule_vocabulary_and_the_config_sections_match_the_registry():
    # Config parsing sits below the collectors and cannot import the registry: kept equal here.
    from cadence.core.config import KNOWN_SOURCES
    from cadence.core.settings.schedule import SYNC_COMMANDS

    assert SYNC_COMMANDS == registry.sync_commands()
    assert {s.section for s in registry.sources() if s.section} <= set(KNOWN_SOURCES)


def test_data_health_advice_names_each_states_command():
    assert registry.command_for_state("github") == "cadence sync github"
    assert registry.command_for_state("aws-cost-explorer") == "cadence sync aws-costs"
    assert registry.command_for_state("aws-athena") == "cadence sync aws-exports --only athena"
    assert registry.command_for_state("webhook") == "cadence webhook"
    assert registry.command_for_state("gitlab:shop/api") == "cadence sync gitlab"


def test_empty_states_name_what_fills_the_table():
    from cadence.dashboard import ui

    assert ui.fill_commands("changes") == ("`cadence sync github`, `cadence sync gitlab` or "
                                           "`cadence ingest changes FILE`")
    assert ui.fill_commands("utilization") == "`cadence sync aws-costs`"
    assert ui.fill_commands("sli_hours") == "`cadence sync prometheus` or `cadence ingest sli_hours FILE`"


# -- a source registered at run time ---------------------------------------------------------------

@pytest.fixture
def toy():
    """A toy source: writes ``count`` deployments; its section is [sources.webhook] (a section the
    config accepts), so it counts as configured wherever the webhook is."""
    from warehouse import upsert_rows, write_connection

    calls: list[dict] = []

    def sync(db_path, config, *, count: int | None = None, since: date | None = None, team=None,
             dry: bool = False) -> SyncReport:
        calls.append({"count": count, "since": since, "team": team, "dry": dry})
        rows = [{"id": f"toy:{i}", "repo": "toy/app", "service": "app", "environment": "production",
                 "status": "success", "started_at": datetime(2026, 11, 18, 12, i),
                 "finished_at": datetime(2026, 11, 18, 12, i)} for i in range(count or 1)]
        with write_connection(db_path) as con:
            written = upsert_rows(con, "deployments", rows)
        return SyncReport("toy", rows={"deployments": written}, summary=[f"toy: {written} deployments written"],
                          warnings=["toy: a warning"] if dry else [])

    source = registry.register(registry.Source(
        name="toy", title="Toy", tables=("deployments",), incremental="Not at all.", section="webhook",
        command="toy", sync=sync, help="Sync the toy source.",
        options=(registry.Option("--count", "count", "How many.", kind="int"),
                 registry.Option("--since", "since", "From.", kind="day"),
                 registry.Option("--team", "team", "Teams.", multiple=True),
                 registry.Option("--dry", "dry", "Warn.", kind="flag")),
        how_to_fill="`cadence sync toy`"))
    yield source, calls
    registry.unregister("toy")


def test_a_registered_source_is_a_cli_command_with_its_options(toy, tmp_path):
    _, calls = toy
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(cli, ["sync", "--help"])
    assert "toy" in result.output and "Sync the toy source." in result.output
    result = CliRunner().invoke(cli, ["--db", str(db), "sync", "toy", "--count", "3", "--since", "2026-11-01",
                                      "--team", "a", "--team", "b", "--dry"])
    assert result.exit_code == 0, result.output
    assert calls == [{"count": 3, "since": date(2026, 11, 1), "team": ["a", "b"], "dry": True}]
    assert result.stdout == "toy: 3 deployments written\n"
    assert "toy: a warning" in result.stderr


def test_a_registered_source_fails_the_cli_when_a_scope_failed(toy, tmp_path, capsys):
    source, _ = toy
    failing = SyncReport("toy", summary=["toy: 1 of 2 scopes synced"], errors={"b": "HTTP 500"},
                         failure="1 of 2 scopes failed (the others were written); first: b: HTTP 500")
    import dataclasses

    registry.SOURCES["toy"] = dataclasses.replace(source, sync=lambda db_path, config, **kw: failing)
    assert main(["--db", str(tmp_path / "w.duckdb"), "sync", "toy"]) == 1
    out, err = capsys.readouterr()
    assert out == "toy: 1 of 2 scopes synced\n"
    assert "Error: 1 of 2 scopes failed (the others were written); first: b: HTTP 500" in err


def test_a_registered_source_is_synced_by_export_sync_and_scheduled_by_serve(toy, tmp_path, capsys):
    from cadence.core.config import parse_config
    from cadence.service.jobs import planned_jobs, run_sync

    _, calls = toy
    db, cfg = tmp_path / "w.duckdb", tmp_path / "cadence.toml"
    cfg.write_text("[sources.webhook]\n", encoding="utf-8")
    assert main(["--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47", "--sync",
                 "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "toy: 1 deployments written" in err and "synced: toy" in err
    assert calls == [{"count": None, "since": None, "team": None, "dry": False}]   # a library call: no CLI
    # 1 deployment on Wed 2026-11-18 in W47, no team configured: the organisation's row counts it.
    rows = (tmp_path / "out" / "cadence-metrics-2026-W47.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 2

    config = parse_config({"sources": {"webhook": {}}, "schedule": {"sync": "*/30 * * * *"}})
    assert [(j.name, j.command) for j in planned_jobs(config)] == [("sync:toy", "toy")]
    assert run_sync(db, str(cfg), "toy") == 1


def test_data_health_advice_for_a_registered_source_comes_from_its_entry(toy, tmp_path):
    from tests.support.apptest_support import dashboard_env, open_app
    from warehouse import connect, record_sync_error, write_connection

    import dataclasses

    # The toy records its runs as "toy-api" (as Cost Explorer's are "aws-cost-explorer"): only the
    # registry knows that `cadence sync toy` fills it.
    registry.SOURCES["toy"] = dataclasses.replace(toy[0], states={"toy-api": "cadence sync toy"})
    db = tmp_path / "empty.duckdb"
    connect(db).close()
    with write_connection(db) as con:
        record_sync_error(con, "toy-api", "all", "toy API answered HTTP 500", now=datetime(2026, 11, 12, 6))
    with dashboard_env(db):
        at = open_app("data_health")
    assert not at.exception
    warnings = "\n".join(w.value for w in at.warning)
    assert "toy-api · all" in warnings and "toy API answered HTTP 500" in warnings
    assert "re-run `cadence sync toy`;" in warnings


def test_data_health_with_no_sync_yet_lists_every_registered_sync_command(toy, tmp_path):
    from tests.support.apptest_support import dashboard_env, open_app
    from warehouse import connect

    db = tmp_path / "empty.duckdb"
    connect(db).close()
    with dashboard_env(db):
        at = open_app("data_health")
    assert not at.exception
    hint = next(i.value for i in at.info if "No sync has run" in i.value)
    assert "`cadence sync github` (or `gitlab`, `pagerduty`, `aws-costs`, `aws-exports`, `prometheus`, `toy`)" in hint
