"""Issue 13, item 14: activity outside every team is reported as "(no team)", never dropped, in
every by-team output: ``metrics.dora_metrics``/``drilldown`` by team, ``cadence metrics --by team``,
``cadence export --by team`` (with a message that tells "nothing happened" from "it happened outside
your teams"), and the Teams page. Cost keeps its own names: cost no rule allocates is "unallocated"
(docs/costs.md), beside "(no team)" for delivery.

The week is 2026-W10 (Mon 2026-03-02 .. Sun 2026-03-08). payments owns shop/api (service api);
shop/web (service web) belongs to no team.
  d1 shop/api  finished 03-03 12:00, ships c1 (sha s1): lead 03-03 12:00 - 03-02 12:00 = 24 h
  d2 shop/web  finished 03-04 12:00, ships c2 (sha s2): lead 03-04 12:00 - 03-04 06:00 =  6 h
  d3 shop/web  finished 03-05 12:00, ships c3 (sha s3): lead 03-05 12:00 - 03-03 12:00 = 48 h
  c4 shop/web  merged 03-06 09:00, never deployed (link none)
  i1 service web created 03-05 13:00, resolved 15:00: attributed to d3 (same service, finished
     one hour before): d3 failed, recovery 2 h
  cost 03-03: 30.00 tagged payments, 10.00 untagged (unallocated)
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime

import pandas as pd
import pytest

from cadence.cli import main
from cadence.core.config import NO_TEAM, Config, parse_config
from metrics import dora_metrics, drilldown
from metrics.costs import cost_summary
from metrics.health import data_health
from warehouse import read_connection, upsert_rows, write_connection

START, END = date(2026, 3, 2), date(2026, 3, 8)
TEAMS_TOML = '[teams.payments]\nrepos = ["shop/api"]\nservices = ["api"]\ncost_tags = ["payments"]\n'


def T(day: int, hour: int) -> datetime:
    return datetime(2026, 3, day, hour)


def dep(id, repo, day, sha):
    service = repo.split("/")[1]
    return dict(id=id, repo=repo, service=service, environment="production", sha=sha, status="success",
                started_at=T(day, 11), finished_at=T(day, 12))


def chg(id, repo, merged, first, sha):
    return dict(id=id, repo=repo, number=int(id[1:]), title=f"change {id}", author="dev", labels=[],
                first_commit_at=first, opened_at=None, first_review_at=None, merged_at=merged, merge_sha=sha)


def cost(amount, tag, team):
    return dict(charge_date=date(2026, 3, 3), source="test", provider="AWS", billing_account_id="1",
                sub_account_id="", service_name="Amazon EC2" if tag else "Amazon S3", region="", resource_id="",
                allocation_tag=tag, team=team, billed_cost=amount, effective_cost=amount, currency="USD")


@pytest.fixture
def warehouse_db(db_path):
    with write_connection(db_path) as con:
        upsert_rows(con, "deployments", [dep("d1", "shop/api", 3, "s1"), dep("d2", "shop/web", 4, "s2"),
                                         dep("d3", "shop/web", 5, "s3")])
        upsert_rows(con, "changes", [chg("c1", "shop/api", T(3, 10), T(2, 12), "s1"),
                                     chg("c2", "shop/web", T(4, 11), T(4, 6), "s2"),
                                     chg("c3", "shop/web", T(5, 8), T(3, 12), "s3"),
                                     chg("c4", "shop/web", T(6, 9), T(6, 8), "s9")])
        upsert_rows(con, "incidents", [dict(id="i1", service="web", repo="shop/web", title="web down",
                                            severity="sev2", created_at=T(5, 13), resolved_at=T(5, 15))])
        upsert_rows(con, "costs", [cost(30.0, "payments", "payments"), cost(10.0, "", "unallocated")])
    return db_path


@pytest.fixture
def payments() -> Config:
    return parse_config({"teams": {"payments": {"repos": ["shop/api"], "services": ["api"],
                                                "cost_tags": ["payments"]}}})


def by_scope(df):
    return {r["scope"]: r for r in df.to_dict("records")}


def test_metrics_by_team_report_unowned_activity_as_no_team(warehouse_db, payments):
    with read_connection(warehouse_db) as con:
        teams = by_scope(dora_metrics(con, payments, START, END, by="team", period="total"))
        org = dora_metrics(con, payments, START, END, by="org", period="total").iloc[0]
    assert sorted(teams) == [NO_TEAM, "payments"]
    none, pay = teams[NO_TEAM], teams["payments"]
    # (no team): d2, d3 on two days; c2, c3: lead p50 = (6 + 48) / 2 = 27 h; d3 failed: 1 / 2;
    # i1: one incident, recovery 2 h.
    assert (none["deployments"], none["deployment_days"], none["changes_deployed"]) == (2, 2, 2)
    assert none["lead_time_p50_hours"] == pytest.approx(27.0)
    assert (none["failed_deployments"], none["change_failure_rate"]) == (1, pytest.approx(0.5))
    assert (none["incidents"], none["recovery_time_p50_hours"]) == (1, pytest.approx(2.0))
    # payments: d1 with c1, lead 24 h, nothing failed.
    assert (pay["deployments"], pay["changes_deployed"], pay["failed_deployments"]) == (1, 1, 0)
    assert pay["lead_time_p50_hours"] == pytest.approx(24.0)
    # Nothing dropped: 2 + 1 = 3 deployments, 2 + 1 = 3 changes, 1 + 0 = 1 incident, as by org.
    assert none["deployments"] + pay["deployments"] == org["deployments"] == 3
    assert none["changes_deployed"] + pay["changes_deployed"] == org["changes_deployed"] == 3
    assert none["incidents"] + pay["incidents"] == org["incidents"] == 1


def test_with_no_teams_configured_everything_is_no_team(warehouse_db):
    with read_connection(warehouse_db) as con:
        teams = dora_metrics(con, Config(), START, END, by="team", period="total")
        org = dora_metrics(con, Config(), START, END, by="org", period="total")
        changes = drilldown(con, Config(), "changes", START, END, by="team")
    assert teams["scope"].tolist() == [NO_TEAM]
    # The one scope is the whole organisation: 3 deployments, lead p50 of 6, 24, 48 = 24 h, 1 of 3 failed.
    same = [c for c in teams.columns if c != "scope"]
    pd.testing.assert_frame_equal(teams[same], org[same])
    assert (teams["deployments"].iloc[0], teams["lead_time_p50_hours"].iloc[0]) == (3, 24.0)
    # c1..c3 deployed, c4 merged in the week and not deployed: all four, under (no team).
    assert sorted(zip(changes["scope"], changes["change_id"])) == [(NO_TEAM, f"c{i}") for i in range(1, 5)]


def test_drilldown_and_scope_filter_by_no_team(warehouse_db, payments):
    with read_connection(warehouse_db) as con:
        deps = drilldown(con, payments, "deployments", START, END, by="team", scope=NO_TEAM)
        incidents = drilldown(con, payments, "incidents", START, END, by="team")
        changes = drilldown(con, payments, "changes", START, END, by="team")
    assert deps["deployment_id"].tolist() == ["d2", "d3"]
    assert list(zip(incidents["scope"], incidents["incident_id"])) == [(NO_TEAM, "i1")]
    assert sorted(zip(changes["scope"], changes["change_id"])) == [
        (NO_TEAM, "c2"), (NO_TEAM, "c3"), (NO_TEAM, "c4"), ("payments", "c1")]


def test_cost_keeps_unallocated_beside_no_team(warehouse_db, payments):
    with read_connection(warehouse_db) as con:
        summary = by_scope(cost_summary(con, payments, START, END, by="team", period="total"))
        health = data_health(con, payments, START, END)
    # Cost is allocated to teams by tags and rules, not by repo: 30.00 payments, 10.00 unallocated.
    assert {k: v["effective_cost"] for k, v in summary.items()} == {"payments": 30.0, "unallocated": 10.0}
    # Data health counts the unowned activity and says where it shows: d2, d3 of 3 deployments.
    row = health[health["check"] == "deployments no team owns"].iloc[0]
    assert (row["value"], row["total"]) == (2, 3)
    assert '"(no team)"' in row["what_to_do"]


def run(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_metrics_by_team(warehouse_db, tmp_path, capsys):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(TEAMS_TOML)
    code, out, err = run(capsys, "--db", str(warehouse_db), "--config", str(cfg), "metrics", "--by", "team",
                         "--start", "2026-03-02", "--end", "2026-03-08", "--period", "total", "--format", "json")
    assert code == 0, err
    rows = {r["scope"]: r for r in json.loads(out)}
    assert sorted(rows) == [NO_TEAM, "payments"]
    assert (rows[NO_TEAM]["deployments"], rows["payments"]["deployments"]) == (2, 1)


def test_export_by_team_without_teams_says_it_happened_outside_them(warehouse_db, tmp_path, capsys):
    # Before: header-only files and "no activity or cost in 2026-W10 ... Check that the sources are
    # synced", though the week had three deployments.
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "--db", str(warehouse_db), "export", "--week", "2026-W10", "--out", str(out))
    assert code == 0, err
    rows = list(csv.DictReader((out / "cadence-metrics-2026-W10.csv").open(encoding="utf-8")))
    delivery = [r for r in rows if r["scope"] == NO_TEAM]
    assert len(delivery) == 1 and delivery[0]["deployments"] == "3" and delivery[0]["changes_deployed"] == "3"
    assert "no activity" not in err and "header only" not in err
    assert "No teams are configured" in err and '"(no team)"' in err
    changes = list(csv.DictReader((out / "cadence-changes-2026-W10.csv").open(encoding="utf-8")))
    assert sorted(c["change_id"] for c in changes) == ["c1", "c2", "c3", "c4"]
    assert {c["scope"] for c in changes} == {NO_TEAM}


def test_export_by_team_with_teams_notes_the_unowned_part(warehouse_db, tmp_path, capsys):
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(TEAMS_TOML)
    code, stdout, err = run(capsys, "--db", str(warehouse_db), "--config", str(cfg), "export", "--week",
                            "2026-W10", "--out", "-")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(stdout)))
    # Sorted by scope: "(no team)" < "payments" < "unallocated" (cost no rule allocates).
    assert [(r["scope"], r["deployments"], r["effective_cost"]) for r in rows] == [
        (NO_TEAM, "2", ""), ("payments", "1", "30.00"), ("unallocated", "0", "10.00")]
    # d2, d3 with c2, c3, and i1 are no team's.
    assert "2 deployments, 2 changes deployed and 1 incident in 2026-W10" in err
    assert '"(no team)"' in err and "[teams.NAME]" in err


def test_export_of_a_quiet_week_still_says_nothing_happened(warehouse_db, tmp_path, capsys):
    code, stdout, err = run(capsys, "--db", str(warehouse_db), "export", "--week", "2026-W20",
                            "--out", str(tmp_path / "out"))
    assert code == 0, err
    assert "no activity or cost in 2026-W20" in err and "(no team)" not in err


@pytest.mark.xdist_group("dashboard")
def test_teams_page_shows_no_team_and_can_filter_to_it(warehouse_db, tmp_path, monkeypatch):
    from tests.support.apptest_support import dashboard_env, open_app

    cfg = tmp_path / "cadence.toml"
    cfg.write_text(TEAMS_TOML)
    monkeypatch.setenv("CADENCE_CONFIG", str(cfg))
    with dashboard_env(warehouse_db, today=date(2026, 3, 8)):
        at = open_app("teams", query={"range": "Last 4 weeks"})
        assert not at.exception, at.exception
        board = at.dataframe[0].value
        rows = {r["team"]: r for r in board.to_dict("records")}
        assert rows[NO_TEAM]["deployments"] == 2 and rows["payments"]["deployments"] == 1
        assert rows["unallocated"]["effective_cost"] == pytest.approx(10.0)
        assert NO_TEAM in at.sidebar.selectbox(key="team").options
        at.sidebar.selectbox(key="team").select(NO_TEAM).run()
        assert not at.exception, at.exception
        at.switch_page("pages/overview.py").run()
        assert not at.exception, at.exception
        # Overview filtered to (no team): d2 and d3 over the 4 weeks = 0.5 a week; lead p50 27 h;
        # 1 of 2 failed; recovery 2 h; no cost is allocated to "(no team)" (it is "unallocated").
        assert "team (no team)" in " ".join(str(c.value) for c in at.caption)
        tiles = {m.label: m.value for m in at.metric}
        assert (tiles["Deployment frequency"], tiles["Lead time for changes"], tiles["Change failure rate"],
                tiles["Failed deployment recovery"], tiles["Cloud cost"]) == ("0.5 / week", "27.0 h", "50.0 %",
                                                                             "2.0 h", "—")


def test_the_name_is_reserved(tmp_path):
    from cadence.core.config import load_config
    from cadence.core.errors import ConfigError

    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[teams."(no team)"]\nrepos = ["shop/web"]\n')
    with pytest.raises(ConfigError, match=r'teams.\(no team\): is the name Cadence reports activity of no team under'):
        load_config(cfg)


@pytest.mark.xdist_group("dashboard")
@pytest.mark.parametrize("page", ["overview", "delivery", "stability", "teams", "costs", "capacity", "data_health"])
def test_every_page_filtered_to_no_team(warehouse_db, tmp_path, monkeypatch, page):
    from tests.support.apptest_support import dashboard_env, open_app

    cfg = tmp_path / "cadence.toml"
    cfg.write_text(TEAMS_TOML)
    monkeypatch.setenv("CADENCE_CONFIG", str(cfg))
    with dashboard_env(warehouse_db, today=date(2026, 3, 8)):
        at = open_app(page, query={"range": "Last 4 weeks", "team": NO_TEAM})
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.sidebar.selectbox(key="team").value == NO_TEAM
