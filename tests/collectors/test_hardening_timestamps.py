"""Issue 13, item 1 (a): a time outside the accepted range (cadence.core.timerange: 1970-01-01 to one day
after now) is refused at ingest, line by line, and by the webhook with a 422; nothing is written.

Before the fix each of these was stored (a year-10000 deployment, an incident in 275760, a BC
merge) and then broke every dashboard page. "Now" is pinned where the upper bound matters, so
nothing here depends on the current date. Every case runs in well under a few seconds.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import requests

from cadence.cli import main
from cadence.core.errors import IngestError
from collectors.webhook import create_app
from tests.support.webhook_support import AUTH, TOKEN, serve_app
from warehouse import read_connection
from collectors.files import ingest_file, ingest_records

NOW = datetime(2026, 11, 20, 12, 0)      # pinned "now": the latest accepted time is 2026-11-21 12:00
ODD = ["10000-01-01T00:00:00Z", "275760-01-01", "-0044-03-15", "0001-01-01", "1969-12-31T23:59:59Z",
       "9999-12-31 23:59:59", "2026-11-21T12:00:01Z", "2026-11-22"]


@pytest.fixture(autouse=True)
def pinned_now(pin_now):
    pin_now(NOW)


def rows(db_path, table):
    with read_connection(db_path) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]  # table: fixed names


def deploy_csv(path, finished: list[str]):
    lines = ["id,repo,environment,status,finished_at"]
    lines += [f"d{i},shop/api,production,success,{ts}" for i, ts in enumerate(finished)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_every_odd_time_is_reported_on_its_line(db_path, tmp_path, capsys):
    good = ["1970-01-01T00:00:00Z", "2026-11-21T12:00:00Z"]   # the two edges, both accepted
    src = deploy_csv(tmp_path / "deploys.csv", good + ODD)
    code = main(["--db", str(db_path), "ingest", "deployments", str(src)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{len(ODD)} problems; nothing was written" in err
    for line in range(4, 9):      # header is line 1, the good rows 2 and 3; the first five shown
        assert f"deploys.csv:{line}: finished_at:" in err, err
    assert "... and 3 more" in err
    assert "outside the accepted range 1970-01-01 to 2026-11-21 12:00 UTC" in err
    assert "deploys.csv:2:" not in err and "deploys.csv:3:" not in err
    assert rows(db_path, "deployments") == 0


def test_csv_the_typed_reader_path_checks_too(db_path, tmp_path):
    # Every value parses as a timestamp, so DuckDB's reader types the column itself (the fast path).
    src = deploy_csv(tmp_path / "one.csv", ["2026-11-01T10:00:00Z", "10000-01-01T00:00:00Z"])
    with pytest.raises(IngestError) as err:
        ingest_file(db_path, "deployments", src)
    assert [(p.line, p.column) for p in err.value.problems] == [(3, "finished_at")]
    # The reader typed the column: the value is shown as DuckDB read it.
    assert '"10000-01-01 00:00:00+00" is outside the accepted range' in str(err.value)
    assert rows(db_path, "deployments") == 0


def test_csv_the_one_pass_load_steps_aside_and_reports(db_path, tmp_path, monkeypatch):
    import collectors.files.ingest as ingest

    monkeypatch.setattr(ingest, "ONE_PASS_MIN_BYTES", 0)   # any file takes the one-pass load first
    src = deploy_csv(tmp_path / "big.csv", ["2026-11-01T10:00:00Z", "275760-01-01"])
    with pytest.raises(IngestError) as err:
        ingest_file(db_path, "deployments", src)
    assert [(p.line, p.column) for p in err.value.problems] == [(3, "finished_at")]
    assert rows(db_path, "deployments") == 0


def test_jsonl_changes_and_incidents_every_time_column(db_path, tmp_path):
    changes = tmp_path / "changes.jsonl"
    changes.write_text("\n".join(json.dumps(r) for r in [
        {"id": "c1", "repo": "shop/api", "merged_at": "2026-11-02T10:00:00Z"},
        {"id": "c2", "repo": "shop/api", "merged_at": "-0044-03-15"},
        {"id": "c3", "repo": "shop/api", "merged_at": "2026-11-02T10:00:00Z", "first_commit_at": "0001-01-01"},
        {"id": "c4", "repo": "shop/api", "opened_at": "10000-01-01T00:00:00Z"},
        {"id": "c5", "repo": "shop/api", "first_review_at": "9999-12-31T00:00:00Z"},
    ]) + "\n")
    with pytest.raises(IngestError) as err:
        ingest_file(db_path, "changes", changes)
    assert sorted((p.line, p.column) for p in err.value.problems) == [
        (2, "merged_at"), (3, "first_commit_at"), (4, "opened_at"), (5, "first_review_at")]
    incidents = tmp_path / "incidents.jsonl"
    incidents.write_text("\n".join(json.dumps(r) for r in [
        {"id": "i1", "service": "api", "created_at": "275760-01-01"},
        {"id": "i2", "service": "api", "created_at": "2026-11-02T10:00:00Z", "resolved_at": "10000-01-01"},
    ]) + "\n")
    with pytest.raises(IngestError) as err:
        ingest_file(db_path, "incidents", incidents)
    assert sorted((p.line, p.column) for p in err.value.problems) == [(1, "created_at"), (2, "resolved_at")]
    assert rows(db_path, "changes") == 0 and rows(db_path, "incidents") == 0


def test_cost_charge_dates(db_path, tmp_path):
    src = tmp_path / "costs.csv"
    src.write_text("date,service,amount\n2026-11-20,EC2,1.5\n2026-11-21,EC2,1\n2026-11-22,EC2,2\n"
                   "1969-12-31,EC2,3\n10000-01-01,EC2,4\n")
    with pytest.raises(IngestError) as err:
        ingest_file(db_path, "costs", src)
    # A charge date is a day: the latest accepted is the day of now + 1 day (2026-11-21).
    assert sorted((p.line, p.column) for p in err.value.problems) == [(4, "date"), (5, "date"), (6, "date")]
    assert "outside the accepted range 1970-01-01 to 2026-11-21" in str(err.value)
    assert rows(db_path, "costs") == 0


def test_focus_export_charge_period_start(db_path, tmp_path, capsys):
    src = tmp_path / "focus.csv"
    src.write_text("ChargePeriodStart,BilledCost,EffectiveCost,ProviderName,ServiceName\n"
                   "2026-11-01T00:00:00Z,1.0,1.0,AWS,Amazon EC2\n"
                   "10000-01-01T00:00:00Z,2.0,2.0,AWS,Amazon EC2\n")
    code = main(["--db", str(db_path), "ingest", "costs", str(src)])
    err = capsys.readouterr().err
    assert code == 1
    assert "ChargePeriodStart" in err and "10000-01-01" in err and "outside the accepted range" in err
    assert rows(db_path, "costs") == 0


def test_records_good_edges_are_written(db_path):
    result = ingest_records(db_path, "deployments", [
        {"id": "a", "repo": "shop/api", "environment": "production", "status": "success",
         "finished_at": "1970-01-01T00:00:00Z"},
        {"id": "b", "repo": "shop/api", "environment": "production", "status": "success",
         "finished_at": "2026-11-21T13:00:00+01:00"}])   # 12:00 UTC: exactly the latest accepted
    assert result.inserted == 2


@pytest.fixture
def url(db_path):
    base, stop = serve_app(create_app(db_path, TOKEN, max_body_bytes=64 * 1024))
    yield base
    stop()


@pytest.mark.parametrize("kind, record, column", [
    ("deployments", {"id": "d", "repo": "shop/api", "environment": "production", "status": "success",
                     "finished_at": "10000-01-01T00:00:00Z"}, "finished_at"),
    ("incidents", {"id": "i", "service": "api", "created_at": "275760-01-01"}, "created_at"),
    ("changes", {"id": "c", "repo": "shop/api", "merged_at": "-0044-03-15"}, "merged_at"),
])
def test_webhook_answers_422_and_writes_nothing(url, db_path, kind, record, column):
    r = requests.post(f"{url}/{kind}", json=record, headers=AUTH, timeout=30)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["problems"] == [{"record": 1, "column": column, "reason": body["problems"][0]["reason"]}]
    assert "outside the accepted range 1970-01-01 to 2026-11-21 12:00 UTC" in body["problems"][0]["reason"]
    assert "nothing was written" in body["error"]
    assert rows(db_path, kind) == 0
