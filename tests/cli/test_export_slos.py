"""The weekly export's SLO file (issue 17): each declared SLO as of the week's Sunday 24:00 UTC, per
scope, in the fixed CSV format; written only where SLOs are declared."""

from __future__ import annotations

from datetime import datetime, timedelta

from cadence.cli import main
from metrics.export import SLO_NAMES
from tests.cli.test_export import TEAMS_TOML, read_csv, run
from tests.support.metrics_rows import API_AVAILABILITY_SLO
from warehouse import upsert_rows, write_connection

SLOS_TOML = API_AVAILABILITY_SLO + """
[[slos]]
name = "batch-success"
service = "batch"          # no team owns it
objective = 95.0
window_days = 1
"""
SUNDAY = datetime(2026, 11, 22)   # the last day of 2026-W47


def project(tmp_path, toml: str):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(TEAMS_TOML + toml, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    with write_connection(db) as con:
        # api: the 24 hours of Sunday 2026-11-22, 100 events each, 4 bad at 23:00 -> good 2,396 of 2,400.
        upsert_rows(con, "sli_hours", [{"slo": "api-availability", "hour": SUNDAY + timedelta(hours=h),
                                        "good": 96 if h == 23 else 100, "total": 100} for h in range(24)])
        # batch: 10 events an hour, 1 bad every hour -> good 216 of 240.
        upsert_rows(con, "sli_hours", [{"slo": "batch-success", "hour": SUNDAY + timedelta(hours=h),
                                        "good": 9, "total": 10} for h in range(24)])
    return ["--db", str(db), "--config", str(cfg)]


def test_the_slo_file_holds_each_slo_per_owning_team_with_its_figures(tmp_path, capsys):
    args = project(tmp_path, SLOS_TOML)
    out = tmp_path / "out"
    code, stdout, err = run(capsys, *args, "export", "--week", "2026-W47", "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["cadence-changes-2026-W47.csv", "cadence-metrics-2026-W47.csv",
                                                     "cadence-slos-2026-W47.csv"]
    assert "cadence-slos-2026-W47.csv (2 rows)" in stdout
    text = (out / "cadence-slos-2026-W47.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == ",".join(SLO_NAMES)
    batch, api = read_csv(out / "cadence-slos-2026-W47.csv")   # sorted by scope: "(no team)" < "payments"
    assert (batch["scope"], batch["slo"]) == ("(no team)", "batch-success")
    assert (api["scope"], api["slo"], api["service"]) == ("payments", "api-availability", "api")
    assert (api["period"], api["period_start"]) == ("2026-W47", "2026-11-16")
    # api: objective 0.99000; good 2396 / total 2400 = 0.998333; budget 1 % x 2400 = 24, consumed 4:
    # remaining 1 - 4/24 = 0.8333; 1 h burn (4/100)/0.01 = 4.00; 6 h (4/600)/0.01 = 0.67;
    # 3 d = the 24 hours there are: (4/2400)/0.01 = 0.17 -> ok, no projected exhaustion.
    assert {k: api[k] for k in ("objective", "window_days", "good", "total", "attainment", "budget_remaining",
                                "burn_rate_1h", "burn_rate_6h", "burn_rate_3d", "status", "projected_exhaustion",
                                "deployments_into_exhausted_budget")} == {
        "objective": "0.99000", "window_days": "1", "good": "2396.00", "total": "2400.00", "attainment": "0.998333",
        "budget_remaining": "0.8333", "burn_rate_1h": "4.00", "burn_rate_6h": "0.67", "burn_rate_3d": "0.17",
        "status": "ok", "projected_exhaustion": "", "deployments_into_exhausted_budget": "0"}
    # batch: 216 / 240 = 0.900000 against 0.95: budget 5 % x 240 = 12, consumed 24: remaining 1 - 24/12 = -1.0000
    assert (batch["attainment"], batch["budget_remaining"], batch["status"]) == ("0.900000", "-1.0000", "exhausted")
    # a second run: byte-identical
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run(capsys, *args, "export", "--week", "2026-W47", "--out", str(out))[0] == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first


def test_by_service_and_org_scopes_and_only_slos_on_stdout(tmp_path, capsysbinary):
    args = project(tmp_path, SLOS_TOML)
    assert main([*args, "export", "--week", "2026-W47", "--by", "service", "--out", "-", "--only", "slos"]) == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert [line.split(",")[2] for line in lines[1:]] == ["api", "batch"]
    assert main([*args, "export", "--week", "2026-W47", "--by", "org", "--out", "-", "--only", "slos"]) == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert [line.split(",")[2:4] for line in lines[1:]] == [["all", "api-availability"], ["all", "batch-success"]]


def test_without_slos_the_export_is_the_two_files_it_always_was(tmp_path, capsys):
    args = project(tmp_path, "")
    out = tmp_path / "out"
    code, _, err = run(capsys, *args, "export", "--week", "2026-W47", "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["cadence-changes-2026-W47.csv", "cadence-metrics-2026-W47.csv"]
    code, _, err = run(capsys, *args, "export", "--week", "2026-W47", "--out", str(out), "--only", "slos")
    assert code != 0 and "--only slos: no SLOs are declared" in err
