"""``cadence metrics`` and ``cadence drilldown``: output shapes (JSON keys, CSV header), options."""

from __future__ import annotations

import csv
import io
import json

import pytest

from cadence.cli import main
from tests.support.metrics_rows import chg, dep, inc, load

METRIC_KEYS = [
    "scope", "period_start", "deployments", "deployment_days", "deploys_per_week", "changes_deployed",
    "lead_time_p50_hours", "lead_time_p75_hours", "lead_time_p90_hours", "coding_p50_hours",
    "pickup_p50_hours", "review_p50_hours", "deploy_p50_hours", "failed_deployments",
    "change_failure_rate", "incidents", "open_incidents", "recovery_time_p50_hours", "mttr_p50_hours",
    "rework_rate", "band_deployment_frequency", "band_lead_time", "band_change_failure_rate",
    "band_recovery_time",
]


@pytest.fixture
def filled(db_path, tmp_path):
    """A warehouse with two weeks of activity, and a config file with two teams."""
    from warehouse import connect

    con = connect(db_path)
    load(con, deployments=[dep("d1", "2024-01-03T12:00", started="2024-01-03T11:00"),
                           dep("d2", "2024-01-10T12:00", started="2024-01-10T11:00", repo="shop/web")],
         changes=[chg("c1", "2024-01-03T10:00", first_commit="2024-01-02T10:00")],
         incidents=[inc("i1", "2024-01-03T13:00")])
    con.close()
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[teams.payments]\nrepos = ["shop/api"]\n[teams.storefront]\nrepos = ["shop/web"]\n')
    return ["--db", str(db_path), "--config", str(cfg)]


def run(capsys, args):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_metrics_json_has_exactly_the_documented_keys(filled, capsys):
    code, out, _ = run(capsys, filled + ["metrics", "--start", "2024-01-01", "--end", "2024-01-14",
                                         "--format", "json"])
    assert code == 0
    rows = json.loads(out)
    assert [list(r) for r in rows] == [METRIC_KEYS, METRIC_KEYS]
    first, second = rows
    # week 1: d1 and open incident i1 (attributed to d1): CFR 1.0 as a fraction; lead 26 h
    assert first["scope"] == "all" and first["period_start"] == "2024-01-01"
    assert first["change_failure_rate"] == 1.0 and first["lead_time_p50_hours"] == 26.0
    assert first["open_incidents"] == 1 and first["recovery_time_p50_hours"] is None
    # week 2: d2 only; NaN medians are null
    assert second["period_start"] == "2024-01-08" and second["lead_time_p50_hours"] is None
    assert second["band_lead_time"] is None and second["deployments"] == 1


def test_metrics_total_period_starts_at_start_and_team_filter(filled, capsys):
    code, out, _ = run(capsys, filled + ["metrics", "--start", "2024-01-02", "--end", "2024-01-14",
                                         "--period", "total", "--by", "team", "--format", "json"])
    rows = json.loads(out)
    assert code == 0 and [(r["scope"], r["period_start"], r["deployments"]) for r in rows] == \
        [("payments", "2024-01-02", 1), ("storefront", "2024-01-02", 1)]
    code, out, _ = run(capsys, filled + ["metrics", "--start", "2024-01-02", "--end", "2024-01-14",
                                         "--period", "total", "--team", "storefront", "--format", "json"])
    assert [r["scope"] for r in json.loads(out)] == ["storefront"]


def test_metrics_csv_header_and_benchmark(filled, capsys):
    code, out, _ = run(capsys, filled + ["metrics", "--start", "2024-01-01", "--end", "2024-01-07",
                                         "--format", "csv", "--benchmark", "2021"])
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == METRIC_KEYS and len(rows) == 2
    record = dict(zip(rows[0], rows[1]))
    # lead time 26 h: 2021 high (>= 1 hour, < 1 week); recovery empty (open incident)
    assert record["band_lead_time"] == "high" and record["recovery_time_p50_hours"] == ""


def test_metrics_table_is_the_default(filled, capsys):
    code, out, _ = run(capsys, filled + ["metrics", "--start", "2024-01-01", "--end", "2024-01-07"])
    assert code == 0 and out.splitlines()[0].split()[:3] == ["scope", "period_start", "deployments"]


@pytest.mark.parametrize("kind, header", [
    ("changes", ["scope", "change_id", "repo", "deployment_id", "link", "lead_time_hours",
                 "coding_hours", "pickup_hours", "review_hours", "deploy_hours"]),
    ("deployments", ["scope", "deployment_id", "repo", "service", "finished_at", "failed",
                     "failure_reasons", "rework", "rework_reasons"]),
    ("incidents", ["scope", "incident_id", "service", "created_at", "resolved_at", "deployment_id",
                   "attribution"]),
])
def test_drilldown_csv_headers(filled, capsys, kind, header):
    code, out, _ = run(capsys, filled + ["drilldown", kind, "--start", "2024-01-01", "--end", "2024-01-14",
                                         "--format", "csv"])
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == header and len(rows) >= 2


def test_drilldown_json_values(filled, capsys):
    code, out, _ = run(capsys, filled + ["drilldown", "deployments", "--start", "2024-01-01",
                                         "--end", "2024-01-14", "--format", "json"])
    rows = json.loads(out)
    # i1 (open, created 13:00) is attributed to d1 (finished 12:00, before it opened: not rework)
    assert rows[0] == {"scope": "all", "deployment_id": "d1", "repo": "shop/api", "service": "api",
                       "finished_at": "2024-01-03T12:00:00Z", "failed": True,
                       "failure_reasons": "incident i1", "rework": False, "rework_reasons": None}
    assert code == 0 and len(rows) == 2


def test_bad_range_and_unknown_team_are_one_line_errors(filled, capsys):
    code, _, err = run(capsys, filled + ["metrics", "--start", "2024-02-01", "--end", "2024-01-01"])
    assert code != 0 and "--end" in err
    code, _, err = run(capsys, filled + ["metrics", "--start", "2024-01-01", "--end", "2024-01-31",
                                         "--team", "nope"])
    assert code == 1 and 'Unknown team "nope"' in err and "payments" in err


def test_missing_database_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, ["--db", str(tmp_path / "none.duckdb"), "metrics", "--start", "2024-01-01",
                                "--end", "2024-01-31"])
    assert code == 1 and "No database" in err


@pytest.mark.parametrize("command", [["metrics"], ["drilldown"]])
def test_help_text(command, capsys):
    code, out, _ = run(capsys, command + ["--help"])
    assert code == 0 and "--start" in out and "--format" in out
