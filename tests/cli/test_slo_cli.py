"""`cadence slo`: one row per SLO with exactly the documented keys, as a table or JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from cadence.cli import main
from metrics.slo import SLO_STATUS_COLUMNS
from tests.support.metrics_rows import API_AVAILABILITY_SLO
from warehouse import connect, upsert_rows

CONFIG = API_AVAILABILITY_SLO + """
[[slos]]
name = "quiet"
service = "quiet"
objective = 99.9
window_days = 7
"""


def setup(tmp_path):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    con = connect(db)
    # 24 hours of 2026-03-02 with 100 events each; 3 bad at 23:00: good 2,397 of 2,400;
    # budget 1 % = 24; remaining 1 - 3/24 = 0.875; 1 h burn (3/100)/0.01 = 3.0
    upsert_rows(con, "sli_hours", [{"slo": "api-availability", "hour": datetime(2026, 3, 2) + timedelta(hours=h),
                                    "good": 97 if h == 23 else 100, "total": 100} for h in range(24)])
    con.close()
    return ["--db", str(db), "--config", str(cfg)]


def test_json_has_exactly_the_documented_keys(tmp_path, capsys):
    args = setup(tmp_path)
    assert main([*args, "slo", "--at", "2026-03-02", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [list(r) for r in rows] == [list(SLO_STATUS_COLUMNS)] * 2
    api, quiet = rows
    assert (api["slo"], api["objective"], api["good"], api["total"]) == ("api-availability", 0.99, 2397, 2400)
    assert api["budget_remaining"] == 1 - 3 / 24 and api["burn_rate_1h"] == 3.0
    assert api["status"] == "ok" and api["deployments_into_exhausted_budget"] == 0
    assert quiet["status"] == "no-data" and quiet["attainment"] is None


def test_cadence_now_sets_the_default_as_of(tmp_path, capsys, monkeypatch):
    args = setup(tmp_path)
    monkeypatch.setenv("CADENCE_NOW", "2026-03-02T12:40:00Z")     # as of 12:00: hours 03-01 12:00..03-02 11:00
    assert main([*args, "slo", "--format", "json"]) == 0
    api = json.loads(capsys.readouterr().out)[0]
    assert (api["good"], api["total"]) == (1200, 1200)              # hours 00..11 of 03-02, none bad


def test_table_shows_fractions_readably(tmp_path, capsys):
    args = setup(tmp_path)
    assert main([*args, "slo", "--at", "2026-03-02"]) == 0
    out = capsys.readouterr().out
    assert "0.99875" in out and "0.875" in out and "2,397" in out and "no-data" in out


def test_without_slos_it_says_how_to_declare_them(tmp_path, capsys, db_path):
    assert main(["--db", str(db_path), "slo", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "[]" and "add [[slos]] entries to cadence.toml" in captured.err
