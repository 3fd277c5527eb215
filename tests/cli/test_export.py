"""``cadence export`` end to end: real warehouse rows, the real metrics, the two CSV files.

The week is 2026-W47 (Monday 2026-11-16 to Sunday 2026-11-22). Teams (cadence.toml below):
payments owns shop/api + shop/billing (services api, billing); storefront owns shop/web (web).

Rows (all UTC, production unless said):
  d1 shop/api  api  sha a1  finished Tue 11-17 10:00
  d2 shop/api  api  sha a2  finished Thu 11-19 12:00
  d3 shop/web  web  sha w1  finished Wed 11-18 08:00
  d0 shop/api  api  staging finished Mon 11-16 09:00            (not production: ignored)
  c1 shop/api #1 merge_sha a1 → d1: commit 11-16 10:00, opened 12:00, review 14:00, merged 11-17 08:00
  c2 shop/api #2 merge_sha a2 → d2: commit 11-18 00:00, opened 06:00, no review, merged 11-19 10:00
  c3 shop/web #7 merge_sha w1 → d3: commit 11-17 20:00, opened 21:00, review 22:00, merged 11-18 07:00,
     label hotfix
  c4 shop/web #8 merged 11-20 10:00, merge_sha w9: no web deployment after it → not yet deployed
  i1 service api created 11-19 13:00 resolved 15:00 → attributed to d2 (latest api deploy before it)
  costs: payments 10.00/day × 7 = 70.00; storefront 3.50/day × 7 = 24.50 minus a 30.00 credit
Titles/authors/labels carry formula triggers: =, +, -, @, tab.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from cadence.cli import main
from metrics.export import CHANGE_NAMES, METRIC_NAMES
from tests.support.demo import shared_demo
from tests.support.net import JsonServer
from warehouse import upsert_rows, write_connection

TEAMS_TOML = """
[teams.payments]
repos = ["shop/api", "shop/billing"]
services = ["api", "billing"]
cost_tags = ["payments"]

[teams.storefront]
repos = ["shop/web"]
services = ["web"]
cost_tags = ["storefront"]
"""


def T(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute)


def _deployments():
    return [
        dict(id="d1", repo="shop/api", service="api", environment="production", sha="a1",
             status="success", started_at=T(17, 9, 50), finished_at=T(17, 10)),
        dict(id="d2", repo="shop/api", service="api", environment="production", sha="a2",
             status="success", started_at=T(19, 11, 50), finished_at=T(19, 12)),
        dict(id="d3", repo="shop/web", service="web", environment="production", sha="w1",
             status="success", started_at=T(18, 7, 50), finished_at=T(18, 8)),
        dict(id="d0", repo="shop/api", service="api", environment="staging", sha="a0",
             status="success", started_at=T(16, 8, 50), finished_at=T(16, 9)),
    ]


def _changes():
    return [
        dict(id="c1", repo="shop/api", number=1, title='=HYPERLINK("http://evil.example","x")',
             author="@mallory", labels=["feature", "-bug"], first_commit_at=T(16, 10),
             opened_at=T(16, 12), first_review_at=T(16, 14), merged_at=T(17, 8), merge_sha="a1",
             url="https://github.com/shop/api/pull/1"),
        dict(id="c2", repo="shop/api", number=2, title="+1 more, and \"quotes\"", author="bob",
             labels=[], first_commit_at=T(18, 0), opened_at=T(18, 6), first_review_at=None,
             merged_at=T(19, 10), merge_sha="a2", url="https://github.com/shop/api/pull/2"),
        dict(id="c3", repo="shop/web", number=7, title="-5 degrees fix", author="carol",
             labels=["hotfix"], first_commit_at=T(17, 20), opened_at=T(17, 21),
             first_review_at=T(17, 22), merged_at=T(18, 7), merge_sha="w1",
             url="https://github.com/shop/web/pull/7"),
        dict(id="c4", repo="shop/web", number=8, title="\tTabbed title", author="dave",
             labels=["@team"], first_commit_at=T(20, 8), opened_at=T(20, 9), first_review_at=None,
             merged_at=T(20, 10), merge_sha="w9", url="https://github.com/shop/web/pull/8"),
    ]


def _incidents():
    return [dict(id="i1", service="api", repo="shop/api", title="Checkout errors", severity="P1",
                 created_at=T(19, 13), resolved_at=T(19, 15))]


def _costs():
    rows = []
    for i in range(7):
        day = date(2026, 11, 16) + timedelta(days=i)
        for team, amount in (("payments", 10.0), ("storefront", 3.5)):
            rows.append(dict(charge_date=day, source="test", provider="AWS", service_name="Amazon EC2",
                             billing_account_id="111", sub_account_id="", region="us-east-1",
                             resource_id="", allocation_tag=team, team=team, billed_cost=amount,
                             effective_cost=amount, currency="USD"))
    rows.append(dict(charge_date=date(2026, 11, 20), source="test", provider="AWS",
                     service_name="Credit", billing_account_id="111", sub_account_id="",
                     region="", resource_id="", allocation_tag="storefront", team="storefront",
                     billed_cost=-30.0, effective_cost=-30.0, currency="USD"))
    return rows


def seed(db_path, *, reverse: bool = False) -> None:
    """Write the rows above; ``reverse`` inserts every table in the opposite order."""
    with write_connection(db_path) as con:
        for table, rows in (("deployments", _deployments()), ("changes", _changes()),
                            ("incidents", _incidents()), ("costs", _costs())):
            upsert_rows(con, table, list(reversed(rows)) if reverse else rows)


@pytest.fixture
def project(tmp_path):
    """A warehouse with the rows above and a cadence.toml naming the teams."""
    db = tmp_path / "w.duckdb"
    seed(db)
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(TEAMS_TOML, encoding="utf-8")
    return tmp_path, db, cfg


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_export_week_by_team_from_real_rows(project, capsys, monkeypatch):
    tmp, db, cfg = project
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_exportTokenNeverInOutput42")
    out = tmp / "out"
    code, stdout, err = run(capsys, "--db", str(db), "--config", str(cfg), "export",
                            "--week", "2026-W47", "--out", str(out))
    assert code == 0, err
    mpath, cpath = out / "cadence-metrics-2026-W47.csv", out / "cadence-changes-2026-W47.csv"
    assert f"{mpath} (2 rows)" in stdout and f"{cpath} (4 rows)" in stdout
    assert sorted(p.name for p in out.iterdir()) == [cpath.name, mpath.name]
    raw = mpath.read_bytes() + cpath.read_bytes()
    assert b"ghp_exportTokenNeverInOutput42" not in raw + stdout.encode() + err.encode()

    with open(mpath, encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == METRIC_NAMES
    rows = read_csv(mpath)
    assert [r["scope"] for r in rows] == ["payments", "storefront"]
    pay, shop = rows
    # payments: d1, d2 on two days; lead times c1 = 11-17 10:00 − 11-16 10:00 = 24 h,
    # c2 = 11-19 12:00 − 11-18 00:00 = 36 h → p50 30, p75 24 + .75·12 = 33, p90 24 + .9·12 = 34.8.
    # coding 2 h and 6 h → 4; pickup only c1: 2; review c1 18 h (14:00 → 08:00), c2 28 h
    # (no review: opened 11-18 06:00 → merged 11-19 10:00) → 23; deploy 2 h and 2 h → 2.
    # i1 attributed to d2: 1 failed of 2 → 0.5; recovery 2 h. No rework.
    # Bands 2024: 2/7 deploys a day ≥ 1/7 high; 30 h < 1 week high; 50 % > 15 % low; 2 h < 1 day high.
    # Cost 70.00 → 35.00 per deployment and per change.
    assert pay == {
        "period": "2026-W47", "period_start": "2026-11-16", "scope": "payments",
        "deployments": "2", "deployment_days": "2", "deploys_per_week": "2.00",
        "changes_deployed": "2", "lead_time_p50_hours": "30.00", "lead_time_p75_hours": "33.00",
        "lead_time_p90_hours": "34.80", "coding_p50_hours": "4.00", "pickup_p50_hours": "2.00",
        "review_p50_hours": "23.00", "deploy_p50_hours": "2.00", "failed_deployments": "1",
        "change_failure_rate": "0.5000", "incidents": "1", "open_incidents": "0",
        "recovery_time_p50_hours": "2.00", "mttr_p50_hours": "2.00", "rework_rate": "0.0000",
        "band_deployment_frequency": "high", "band_lead_time": "high",
        "band_change_failure_rate": "low", "band_recovery_time": "high", "band_benchmark": "2024",
        "effective_cost": "70.00", "billed_cost": "70.00", "cost_per_deployment": "35.00",
        "cost_per_change": "35.00", "utilization": "",   # no utilization rows seeded
        "ci_cost": "", "flaky_rate": "",                   # no CI runs seeded
    }
    # storefront: d3 ships c3 (hotfix) → rework 1/1; lead 11-18 08:00 − 11-17 20:00 = 12 h;
    # coding 1, pickup 1, review 22:00 → 07:00 = 9, deploy 1. No incident: CFR 0, recovery empty.
    # Cost 7 × 3.50 − 30.00 = −5.50: a negative number, written as a number (no leading ').
    expect_shop = {
        "deployments": "1", "deployment_days": "1", "changes_deployed": "1",
        "lead_time_p50_hours": "12.00", "coding_p50_hours": "1.00", "pickup_p50_hours": "1.00",
        "review_p50_hours": "9.00", "deploy_p50_hours": "1.00", "failed_deployments": "0",
        "change_failure_rate": "0.0000", "incidents": "0", "recovery_time_p50_hours": "",
        "mttr_p50_hours": "", "rework_rate": "1.0000", "band_lead_time": "elite",
        "band_change_failure_rate": "elite", "band_recovery_time": "",
        "effective_cost": "-5.50", "cost_per_deployment": "-5.50",
    }
    assert {k: shop[k] for k in expect_shop} == expect_shop

    changes = read_csv(cpath)
    with open(cpath, encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == CHANGE_NAMES
    # sorted by scope, then deployed_at (c4 not deployed: last)
    assert [(c["scope"], c["change_id"]) for c in changes] == [
        ("payments", "c1"), ("payments", "c2"), ("storefront", "c3"), ("storefront", "c4")]
    c1, c2, c3, c4 = changes
    assert c1["title"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert c1["author"] == "'@mallory"
    assert c1["labels"] == "'-bug;feature"
    assert (c1["deployment_id"], c1["deployed_at"], c1["link"]) == ("d1", "2026-11-17 10:00:00", "sha")
    assert (c1["lead_time_hours"], c1["review_hours"]) == ("24.00", "18.00")
    assert c2["title"] == "'+1 more, and \"quotes\""
    assert (c2["pickup_hours"], c2["review_hours"]) == ("", "28.00")
    assert c3["title"] == "'-5 degrees fix"
    assert c4["title"] == "'\tTabbed title" and c4["labels"] == "'@team"
    assert (c4["deployment_id"], c4["deployed_at"], c4["lead_time_hours"]) == ("", "", "")
    assert c4["merged_at"] == "2026-11-20 10:00:00" and c4["number"] == "8"


def test_rerun_is_byte_identical_even_with_rows_inserted_in_another_order(project, capsys):
    tmp, db, cfg = project
    other = tmp / "reversed.duckdb"
    seed(other, reverse=True)
    outputs = []
    for database, out in ((db, tmp / "a"), (db, tmp / "a"), (other, tmp / "b")):
        code, _, err = run(capsys, "--db", str(database), "--config", str(cfg), "export",
                           "--week", "2026-W47", "--out", str(out))
        assert code == 0, err
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0]) == 2 and all(b"\r\n" not in v for v in outputs[0].values())


def test_stdout_holds_exactly_one_table(project, capsysbinary):
    tmp, db, cfg = project
    assert main(["--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47",
                 "--out", str(tmp / "out")]) == 0
    capsysbinary.readouterr()
    assert main(["--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47",
                 "--out", "-"]) == 0
    assert capsysbinary.readouterr().out == (tmp / "out" / "cadence-metrics-2026-W47.csv").read_bytes()
    assert main(["--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47",
                 "--out", "-", "--only", "changes"]) == 0
    assert capsysbinary.readouterr().out == (tmp / "out" / "cadence-changes-2026-W47.csv").read_bytes()


def test_scope_names_from_data_are_neutralised_by_service(project, capsys):
    # Service names come from deployment data, so they are outside text too.
    tmp, db, cfg = project
    with write_connection(db) as con:
        upsert_rows(con, "deployments", [
            dict(id="e1", repo="shop/api", service="=cmd|'/C calc'!A0", environment="production",
                 sha="e1", status="success", started_at=datetime(2026, 11, 24, 9),
                 finished_at=datetime(2026, 11, 24, 10))])
    code, _, err = run(capsys, "--db", str(db), "--config", str(cfg), "export", "--week", "2026-W48",
                       "--by", "service", "--out", str(tmp / "out"))
    assert code == 0, err
    rows = read_csv(tmp / "out" / "cadence-metrics-2026-W48.csv")
    evil = [r for r in rows if r["deployments"] == "1"]
    assert [r["scope"] for r in evil] == ["'=cmd|'/C calc'!A0"]
    # cost is allocated to teams, not services: the cost columns stay empty by service
    assert {r["effective_cost"] for r in rows} == {""}


def test_last_week_picks_the_week_before_today(project, capsys, pin_now):
    tmp, db, cfg = project
    # Wednesday 2026-11-25 is in W48; the last complete week is W47.
    pin_now(date(2026, 11, 25))
    code, stdout, err = run(capsys, "--db", str(db), "--config", str(cfg), "export", "--last-week",
                            "--by", "org", "--out", str(tmp / "out"))
    assert code == 0, err
    rows = read_csv(tmp / "out" / "cadence-metrics-2026-W47.csv")
    # by org: 3 deployments (d1, d2, d3), 70.00 + (−5.50) = 64.50 of cost
    assert [(r["scope"], r["deployments"], r["effective_cost"]) for r in rows] == [
        ("all", "3", "64.50")]


def test_quiet_week_writes_header_only_files(project, capsys):
    tmp, db, cfg = project
    code, stdout, err = run(capsys, "--db", str(db), "--config", str(cfg), "export",
                            "--week", "2026-W01", "--out", str(tmp / "out"))
    assert code == 0, err
    assert "(0 rows)" in stdout and "header only" in err
    assert (tmp / "out" / "cadence-metrics-2026-W01.csv").read_text() == ",".join(METRIC_NAMES) + "\n"
    assert (tmp / "out" / "cadence-changes-2026-W01.csv").read_text() == ",".join(CHANGE_NAMES) + "\n"


def test_bad_week_and_missing_database_write_nothing(project, capsys):
    tmp, db, cfg = project
    out = tmp / "out"
    code, _, err = run(capsys, "--db", str(db), "--config", str(cfg), "export", "--week", "2025-W53",
                       "--out", str(out))
    assert code == 1 and "2025 has weeks W01 to W52" in err
    code, _, err = run(capsys, "--db", str(tmp / "nope.duckdb"), "--config", str(cfg), "export",
                       "--week", "2026-W47", "--out", str(out))
    assert code == 1 and "No database" in err
    code, _, err = run(capsys, "--db", str(db), "export", "--week", "2026-W47", "--last-week")
    assert code == 2 and "not both" in err
    assert not out.exists()


# -- --sync -------------------------------------------------------------------------------------

@pytest.fixture
def unauthorized_server():
    with JsonServer(401, {"error": {"message": "Unauthorized", "code": 2006}}) as server:
        yield server.url


def test_sync_failure_exits_non_zero_and_writes_nothing(project, capsys, monkeypatch,
                                                        unauthorized_server):
    tmp, db, cfg = project
    cfg.write_text(TEAMS_TOML + f'\n[sources.pagerduty]\nbase_url = "{unauthorized_server}"\n'
                   'since = "2026-11-01"\n', encoding="utf-8")
    monkeypatch.setenv("PAGERDUTY_TOKEN", "pd-rejected-token-0123456789")
    out = tmp / "out"
    out.mkdir()
    (out / "cadence-metrics-2026-W47.csv").write_bytes(b"previous\n")
    code, stdout, err = run(capsys, "--db", str(db), "--config", str(cfg), "export",
                            "--week", "2026-W47", "--sync", "--out", str(out))
    assert code == 1
    assert "`cadence sync pagerduty` failed" in err and "Nothing exported" in err
    assert "PAGERDUTY_TOKEN" in err                      # the collector's reason names the variable
    assert "pd-rejected-token-0123456789" not in err + stdout
    assert [p.name for p in out.iterdir()] == ["cadence-metrics-2026-W47.csv"]
    assert (out / "cadence-metrics-2026-W47.csv").read_bytes() == b"previous\n"


@pytest.fixture
def toy_source():
    """A source registered for one test: always configured, prints on stdout, reports 3 rows."""
    from collectors import registry
    from collectors.report import SyncReport

    calls = []

    def sync(db_path, config, **options):
        calls.append(options)
        print("toy: a stray print on stdout")
        return SyncReport("toy", rows={"deployments": 3}, summary=["toy: 3 deployment rows written"])

    source = registry.register(registry.Source(
        name="toy", title="Toy", tables=("deployments",), incremental="Not at all.", command="toy",
        sync=sync, configured=lambda config: True))
    yield source, calls
    registry.unregister("toy")


def test_sync_report_lines_never_mix_into_csv_on_stdout(project, capsysbinary, toy_source):
    # Some collectors print their report on stdout; with --out - stdout carries the CSV.
    tmp, db, cfg = project
    assert main(["--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47",
                 "--out", str(tmp / "out")]) == 0
    capsysbinary.readouterr()
    assert main(["--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47", "--sync",
                 "--out", "-"]) == 0
    out, err = capsysbinary.readouterr()
    assert out == (tmp / "out" / "cadence-metrics-2026-W47.csv").read_bytes()
    assert b"toy: 3 deployment rows written" in err and b"toy: a stray print on stdout" in err
    assert b"synced: toy" in err
    assert toy_source[1] == [{}]   # called once, as a library function with no CLI options


def test_sync_without_configured_source_is_refused(project, capsys):
    tmp, db, cfg = project
    code, _, err = run(capsys, "--db", str(db), "--config", str(cfg), "export", "--week", "2026-W47",
                       "--sync", "--out", str(tmp / "out"))
    assert code == 1 and "no source to sync" in err
    assert not (tmp / "out").exists()


def test_sync_then_export_includes_what_was_synced(project, capsys, monkeypatch):
    from tests.support.fake_pagerduty import FakePagerDuty, serve

    tmp, db, cfg = project
    fake = FakePagerDuty(token="pd-good-token-0123456789")
    # A second api incident in W47, 1 h to resolve; attributed to d2 (11-19 12:00, within 7 days).
    fake.add("PINC1", "2026-11-21T10:00:00Z", status="resolved", resolved_at="2026-11-21T11:00:00Z")
    server, url = serve(fake)
    try:
        cfg.write_text(TEAMS_TOML + f'\n[sources.pagerduty]\nbase_url = "{url}"\nsince = "2026-11-01"\n'
                       '[sources.pagerduty.services]\nPSVC1 = "api"\n', encoding="utf-8")
        monkeypatch.setenv("PAGERDUTY_TOKEN", fake.token)
        code, _, err = run(capsys, "--db", str(db), "--config", str(cfg), "export",
                           "--week", "2026-W47", "--sync", "--out", str(tmp / "out"))
    finally:
        server.shutdown()
    assert code == 0, err
    assert "synced: pagerduty" in err
    pay = read_csv(tmp / "out" / "cadence-metrics-2026-W47.csv")[0]
    # i1 (2 h) + PINC1 (1 h), both on d2: still 1 failed deployment; recovery median (2 + 1) / 2
    assert (pay["scope"], pay["incidents"], pay["failed_deployments"], pay["recovery_time_p50_hours"]) \
        == ("payments", "2", "1", "1.50")


def test_export_help_and_docs_list_every_column():
    from click.testing import CliRunner

    from cadence.cli import cli

    result = CliRunner().invoke(cli, ["export", "--help"])
    assert result.exit_code == 0 and "--last-week" in result.output and "--today" not in result.output
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "export.md").read_text(encoding="utf-8")

    def doc_columns(heading):
        section = doc.split(heading, 1)[1].split("\n## ", 1)[0]
        return re.findall(r"^\| `([a-z0-9_]+)` \| ([^|]+) \|", section, flags=re.M)

    from metrics.export import CHANGES_COLUMNS, METRICS_COLUMNS, SLOS_COLUMNS

    assert doc_columns("## Metrics file columns") == [(c.name, c.unit) for c in METRICS_COLUMNS]
    assert doc_columns("## Changes file columns") == [(c.name, c.unit) for c in CHANGES_COLUMNS]
    assert doc_columns("## SLO file columns") == [(c.name, c.unit) for c in SLOS_COLUMNS]


def test_a_quiet_week_writes_the_files_the_docs_name_with_only_their_headers(db_path, tmp_path, capsys):
    """docs/export.md: "A week with no activity and no cost still writes both files, holding only
    the header row", named as its list of files says (the SLO file only where SLOs are declared)."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "export.md").read_text(encoding="utf-8")
    named = re.findall(r"^- `(cadence-[a-z]+-2026-W47\.csv)`", doc, flags=re.M)
    assert named == ["cadence-metrics-2026-W47.csv", "cadence-changes-2026-W47.csv", "cadence-slos-2026-W47.csv"]
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "--db", str(db_path), "export", "--week", "2026-W47", "--out", str(out))
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(named[:2])
    assert (out / named[0]).read_text(encoding="utf-8").splitlines() == [",".join(METRIC_NAMES)]
    assert (out / named[1]).read_text(encoding="utf-8").splitlines() == [",".join(CHANGE_NAMES)]


# -- the demo database --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    """The demo ending Sunday 2026-11-22 (README's export sample is its week 2026-W47): read only."""
    return shared_demo(tmp_path_factory, today=date(2026, 11, 25))


@pytest.mark.slow
def test_last_week_on_the_demo_database_writes_its_files(demo_db, tmp_path, capsys, pin_now):
    out = tmp_path / "out"
    pin_now(date(2026, 11, 25))
    args = ["--db", str(demo_db), "export", "--last-week", "--out", str(out)]
    code, stdout, err = run(capsys, *args)
    assert code == 0, err
    # the demo declares SLOs, so its export has the SLO file too (tests/cli/test_export_slos.py)
    assert sorted(p.name for p in out.iterdir()) == ["cadence-changes-2026-W47.csv",
                                                     "cadence-metrics-2026-W47.csv", "cadence-slos-2026-W47.csv"]
    slos = read_csv(out / "cadence-slos-2026-W47.csv")
    assert len(slos) == 8 and {s["scope"] for s in slos} <= {"catalog", "checkout", "data", "fulfilment", "growth",
                                                             "platform"}
    assert {s["slo"]: s["status"] for s in slos}["search-availability"] == "fast-burn"
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    metrics_rows = read_csv(out / "cadence-metrics-2026-W47.csv")
    teams = {"catalog", "checkout", "data", "fulfilment", "growth", "platform"}
    # the demo's own teams (no cadence.toml): every team shipped that week, in name order
    delivery = [r for r in metrics_rows if int(r["deployments"]) > 0]
    assert [r["scope"] for r in delivery] == sorted(teams)
    assert all(r["period"] == "2026-W47" and r["period_start"] == "2026-11-16" for r in metrics_rows)
    assert all(r["effective_cost"] != "" for r in delivery)
    changes = read_csv(out / "cadence-changes-2026-W47.csv")
    assert changes and {c["scope"] for c in changes} <= teams
    deployed = [c for c in changes if c["deployment_id"]]
    assert all("2026-11-16" <= c["deployed_at"][:10] <= "2026-11-22" for c in deployed)
    # the changes file holds exactly the changes counted in changes_deployed
    assert len(deployed) == sum(int(r["changes_deployed"]) for r in metrics_rows)
    # README's sample is this file, cut to some columns (regenerate it from this test's export
    # when the demo generator changes)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    sample = readme.split("## Weekly export", 1)[1].split("```csv\n", 1)[1].split("```", 1)[0]
    sample_rows = list(csv.DictReader(io.StringIO(sample)))
    assert sample_rows == [{k: r[k] for k in sample_rows[0]} for r in metrics_rows]
    # a second run over the same database: byte-identical
    code, _, err = run(capsys, *args)
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
