"""The weekly digest on the demo warehouse: its text (a snapshot), the CLI's --dry-run, and the
comparison words."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from cadence.cli import main
from warehouse.meta import effective_config
from cadence.core.config import parse_config
from cadence.notify.digest import build_digest, compare
from cadence.notify.render import digest_text
from tests.notify.conftest import DEMO_NOW, DEMO_WEEK
from warehouse import read_connection

SNAPSHOT = Path(__file__).parent / "snapshots" / f"digest_demo_{DEMO_WEEK}.txt"
NOW = datetime(2026, 11, 16, 9, 0)


def _demo_digest(db, **kwargs):
    config = effective_config(parse_config({}), db)
    with read_connection(db) as con:
        return build_digest(con, config, DEMO_WEEK, now=NOW, **kwargs)


def test_digest_text_of_the_demo_week_matches_the_snapshot(demo_master):
    text = digest_text(_demo_digest(demo_master))
    if os.environ.get("CADENCE_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert text == SNAPSHOT.read_text(encoding="utf-8")


def test_digest_holds_every_team_the_five_keys_and_links(demo_master):
    d = _demo_digest(demo_master)
    assert [s.scope for s in d.scopes] == ["catalog", "checkout", "data", "fulfilment", "growth", "platform"]
    for s in d.scopes:
        assert [k.column for k in s.keys] == ["deploys_per_week", "lead_time_p50_hours", "change_failure_rate",
                                              "recovery_time_p50_hours", "rework_rate"]
        assert s.link == (f"https://cadence.example.com/?range=Custom+dates&dates=2026-11-09&dates=2026-11-15"
                          f"&team={s.scope}")
    assert d.total_cost is not None and d.total_cost.cost > 0
    assert d.movers and all(m["change"] != 0 for m in d.movers)
    # The demo's sync_state says it was "synced" at its last moment, 2026-11-15 23:59:59; at NOW
    # (2026-11-16 09:00) that is 9 h ago, under the 26 h limit: no freshness warning.
    assert d.freshness == []


def test_digest_for_one_team_and_for_the_org(demo_master):
    one = _demo_digest(demo_master, team="checkout")
    assert [s.scope for s in one.scopes] == ["checkout"] and one.title.endswith("team checkout")
    org = _demo_digest(demo_master, by="org")
    assert [s.scope for s in org.scopes] == ["all"]
    # the organisation's deployments are the teams' deployments summed: deploys_per_week of a
    # one-week period is the week's deployment count.
    teams = _demo_digest(demo_master)
    assert org.scopes[0].keys[0].value == sum(s.keys[0].value or 0 for s in teams.scopes)


def test_cli_dry_run_prints_the_digest_on_the_demo_database(demo_master, monkeypatch, capsys):
    monkeypatch.setenv("CADENCE_NOW", DEMO_NOW)
    assert main(["--db", str(demo_master), "notify", "digest", "--last-week", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"--- would send digest {DEMO_WEEK} by team (no channel configured: shown only) ---"
    assert out.split("\n", 1)[1] == SNAPSHOT.read_text(encoding="utf-8")


def test_dry_run_to_a_channel_sends_and_records_nothing(demo_db, http_receiver, monkeypatch, capsys, tmp_path):
    path = f"/dry/{tmp_path.name}"
    monkeypatch.setenv("SLACK_URL_DRY", http_receiver.base + path)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[notify.channels.leads]\nkind = "slack"\nwebhook_url_env = "SLACK_URL_DRY"\n'
                   '[notify.digest]\nchannels = ["leads"]\n', encoding="utf-8")
    assert main(["--db", str(demo_db), "--config", str(cfg), "notify", "digest", "--week", DEMO_WEEK, "--dry-run"]) == 0
    assert "would send digest 2026-W46 by team to leads (slack)" in capsys.readouterr().out
    assert http_receiver.to(path) == []
    with read_connection(demo_db) as con:
        assert con.execute("SELECT count(*) FROM notify_deliveries").fetchall()[0][0] == 0


@pytest.mark.parametrize("value, ref, unit, better, expected", [
    # 12 vs 10 deployments a week: +2/10 = 20 % up, more is better
    (12.0, 10.0, "per_week", "higher", ("▲", "up 20% (better)", "better")),
    # lead time 30 h vs 20 h: +10/20 = 50 % up, lower is better
    (30.0, 20.0, "hours", "lower", ("▲", "up 50% (worse)", "worse")),
    # change failure rate 0.10 vs 0.25: −0.15 = 15.0 percentage points down, lower is better
    (0.10, 0.25, "rate", "lower", ("▼", "down 15.0 pts (better)", "better")),
    # 100.5 vs 100: +0.5 % is under the 1 % "no change" line
    (100.5, 100.0, "usd", "lower", ("=", "no change", "same")),
    (None, 3.0, "hours", "lower", ("–", "no figure to compare", "none")),
])
def test_compare_says_direction_in_words(value, ref, unit, better, expected):
    c = compare(value, ref, unit, better)
    assert (c.arrow, c.words, c.verdict) == expected
