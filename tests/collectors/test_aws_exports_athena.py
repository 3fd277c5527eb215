"""Athena (collectors/aws_exports/athena.py).

No real Athena is reachable here. Two halves:
- the query text: the exact text PyAthena would send (parameters bound by PyAthena's own
  formatter), transpiled by sqlglot from Athena's dialect to DuckDB's, runs on DuckDB over the same
  data as the local path and must give the same daily rows, for CUR 2.0 and FOCUS;
- the API flow against moto's Athena in server mode (moto does not execute SQL: its answers are
  queued results), behind a proxy that pages GetQueryResults as Athena does (moto returns every
  row at once): start, poll, paginated results, a time-out that cancels the query; and a failed
  query, which moto never produces, from a scripted local stand-in.
"""

from __future__ import annotations

import json
import time
from datetime import date
from http.server import BaseHTTPRequestHandler

import boto3
import duckdb
import pytest
import requests
import sqlglot
from pyathena.formatter import DefaultParameterFormatter

from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, SourceError
from collectors.aws_exports import athena, local
from cadence.core.settings.aws_exports import export_settings
from tests.support.aws_support import LocalServer, ScriptedAws, point_boto3_at, reset_moto
from tests.conftest import SHARED_DATA
from tests.collectors.test_cost_exports import _cur_partition
from warehouse import connect

FOCUS_SAMPLE = SHARED_DATA / "focus-sample" / "focus_sample.csv"
COMPARED = ("charge_date, provider, billing_account_id, sub_account_id, service_name, region, resource_id, "
            "allocation_tag, service_category, billed_cost, effective_cost, list_cost, consumed_quantity, "
            "consumed_unit, min_currency, max_currency, lines")


def athena_config(fmt: str, **extra) -> dict:
    return {"database": "billing", "table": "export", "workgroup": "primary",
            "output_location": "s3://athena-results/cadence/", "format": fmt, **extra}


def local_daily(config, path) -> list[tuple]:
    """The local path's daily rows for a file (its staging table, before allocation)."""
    with local.Stage(export_settings(config)) as stage:
        local.aggregate_files(stage, config, [path], name=str(path))
        return stage.con.execute(f"SELECT {COMPARED} FROM daily ORDER BY ALL").fetchall()


def athena_on_duckdb(config, fmt: str, table_sql: str, period: str) -> tuple[str, list[tuple]]:
    """The Athena query as PyAthena would send it, transpiled to DuckDB and run over ``table_sql``
    loaded as billing.export."""
    settings = parse_config({"sources": {"aws": {**config.source("aws"), "athena": athena_config(fmt)}}})
    sent = DefaultParameterFormatter().format(
        athena.daily_query(fmt, athena.table_name(athena.athena_settings(settings))),
        {"billing_period": period, "tag_key": athena.tag_key(config, fmt)})
    (duck_sql,) = sqlglot.transpile(sent, read="athena", write="duckdb")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA billing")
    con.execute(f"CREATE TABLE billing.export AS {table_sql}")
    if fmt == "cur2":
        con.execute("CREATE TABLE daily AS " + duck_sql)
        local.map_cur_categories(con)
        rows = con.execute(f"SELECT {COMPARED} FROM daily ORDER BY ALL").fetchall()
    else:
        rows = con.execute(f"SELECT {COMPARED} FROM ({duck_sql}) ORDER BY ALL").fetchall()
    return sent, rows


def assert_same_rows(got, want):
    assert len(got) == len(want) and len(want) > 0
    for g, w in zip(got, want, strict=True):
        assert g[:9] == w[:9]                                              # the key and the category
        # Sums: only the order of additions differs (DECIMAL columns of the test file sum exactly).
        as_float = [None if v is None else float(v) for v in g[9:13]]
        assert as_float == pytest.approx(list(w[9:13]), abs=1e-9), g[:8]
        assert g[13:] == w[13:]                                            # unit, currencies, lines


def test_focus_query_gives_the_local_paths_daily_rows(tmp_path):
    config = parse_config({"sources": {"aws": {"team_tag": "business_unit"}}})
    # The sample as AWS's FOCUS export holds it in Athena: typed columns, Tags a map, partitioned
    # by billing_period.
    table = f"""SELECT * EXCLUDE (Tags), CAST(Tags AS MAP(VARCHAR, VARCHAR)) AS Tags,
                       strftime(BillingPeriodStart, '%Y-%m') AS billing_period
                FROM read_csv('{FOCUS_SAMPLE}', nullstr = 'NULL', types = {{'Tags': 'JSON'}})"""
    # The local path reads the period's partition (one line of the sample is billed in October).
    parquet = tmp_path / "focus.parquet"
    duckdb.execute(f"COPY (SELECT * FROM ({table}) WHERE billing_period = '2024-09') TO '{parquet}' (FORMAT parquet)")
    sent, rows = athena_on_duckdb(config, "focus", table, "2024-09")
    assert "WHERE billing_period = '2024-09'" in sent and "element_at(Tags, 'business_unit')" in sent
    want = local_daily(config, parquet)
    assert_same_rows(rows, want)
    assert any(r[7] == "ViennaAI" for r in rows)                       # the team tag came through

    # The partition filter: the one line billed in October is October's, charged 30 September.
    (october,) = athena_on_duckdb(config, "focus", table, "2024-10")[1]
    assert (october[0], october[1], october[16]) == (date(2024, 9, 30), "Oracle", 1)


def test_cur2_query_gives_the_local_paths_daily_rows(tmp_path):
    config = parse_config({"sources": {"aws": {"team_tag": "team"}}})
    parquet = tmp_path / "cur.parquet"
    _cur_partition(parquet)      # usage, Savings Plan covered usage and negation, RI fee, discounted usage
    # In Athena a CUR 2.0 table has every column; the file lacks two the query names.
    table = (f"SELECT *, NULL::DOUBLE AS savings_plan_total_commitment_to_date, NULL::DOUBLE AS "
             f"savings_plan_used_commitment, '2026-10' AS billing_period FROM read_parquet('{parquet}')")
    sent, rows = athena_on_duckdb(config, "cur2", table, "2026-10")
    assert "element_at(resource_tags, 'user_team')" in sent
    assert_same_rows(rows, local_daily(config, parquet))
    # 1 Oct, i-1: effective 4 + 3.5 (SP rate) + 0 (negation) = 7.5; 2 Oct: RI fee's unused 2 + 1 = 3
    assert [(r[0], r[6], r[10]) for r in rows] == [(date(2026, 10, 1), "i-1", 7.5), (date(2026, 10, 2), "", 3.0),
                                                 (date(2026, 10, 2), "db-1", 0.75)]


# -- the API flow -----------------------------------------------------------------------------------

class PagingProxy(LocalServer):
    """Forwards every request to moto; answers GetQueryResults a page at a time (MaxResults,
    NextToken), as Athena does, and counts the calls of each operation."""

    def __init__(self, target: str):
        self.calls: list[str] = []
        self.started: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
                outer.calls.append(op)
                request = json.loads(body or b"{}")
                if op == "StartQueryExecution":
                    outer.started.append(request.get("QueryString", ""))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                if op == "GetQueryResults":
                    size, offset = request.pop("MaxResults", 1000), int(request.pop("NextToken", 0) or 0)
                    body = json.dumps(request).encode()
                reply = requests.post(target + self.path, data=body, headers=headers, timeout=30)
                data = reply.content
                if op == "GetQueryResults" and reply.status_code == 200:
                    answer = json.loads(data)
                    all_rows = answer["ResultSet"]["Rows"]
                    answer["ResultSet"]["Rows"] = all_rows[offset:offset + size]
                    if offset + size < len(all_rows):
                        answer["NextToken"] = str(offset + size)
                    data = json.dumps(answer).encode()
                self.send_response(reply.status_code)
                self.send_header("Content-Type", reply.headers.get("Content-Type", "application/x-amz-json-1.1"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._serve(Handler, poll_interval=0.05)


@pytest.fixture
def paging(moto_url, monkeypatch, tmp_path):
    reset_moto(moto_url)
    with PagingProxy(moto_url) as proxy:
        point_boto3_at(monkeypatch, tmp_path, proxy.url)
        yield proxy


def queue_results(moto_url: str, *results: tuple[list[tuple[str, str]], list[list]]) -> None:
    """Queue Athena answers (column (name, type) list, rows as text), each with its header row first
    as Athena returns for a SELECT."""
    payload = {"results": [{
        "column_info": [{"CatalogName": "hive", "SchemaName": "billing", "TableName": "export", "Name": name,
                         "Label": name, "Type": kind, "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
                         "CaseSensitive": False} for name, kind in columns],
        "rows": [{"Data": [{"VarCharValue": name} for name, _ in columns]}]
                + [{"Data": [{} if v is None else {"VarCharValue": str(v)} for v in row]} for row in rows],
    } for columns, rows in results]}
    assert requests.post(f"{moto_url}/moto-api/static/athena/query-results", json=payload, timeout=10).status_code == 201


PERIOD_COLUMNS = [("billing_period", "varchar"), ("path", "varchar"), ("size", "bigint"), ("modified", "varchar")]
DAILY_TYPES = {"charge_date": "date", "billed_cost": "double", "effective_cost": "double", "list_cost": "double",
               "consumed_quantity": "double", "lines": "bigint"}
DAILY_COLUMNS = [(c, DAILY_TYPES.get(c, "varchar")) for c, _ in athena.DAILY_COLUMNS]


def daily_row(day, account, service, resource, tag, billed, effective, lines=1):
    return [day, "AWS", "999", account, service, "us-east-1", resource, tag, "AmazonEC2", billed, effective, None,
            None, "Hrs", "USD", "USD", lines]


def warehouse_rows(db_path):
    with connect(db_path, read_only=True) as con:
        return con.execute("SELECT charge_date, sub_account_id, resource_id, team, service_category, billed_cost, "
                           "effective_cost FROM costs ORDER BY ALL").fetchall()


def test_api_flow_start_poll_paginate_and_incremental(paging, moto_url, monkeypatch, db_path):
    monkeypatch.setattr(athena, "PAGE_ROWS", 2)       # GetQueryResults pages of 2 rows
    config = parse_config({"teams": {"payments": {"cost_tags": ["payments"]}},
                           "sources": {"aws": {"team_tag": "team", "athena": athena_config("cur2", poll_seconds=0.05)}}})
    files = [["2026-10", "s3://exports/data/BILLING_PERIOD=2026-10/a.parquet", 1000, "2026-11-02 10:00:00"]]
    daily = [daily_row("2026-10-01", "111", "Amazon Elastic Compute Cloud", "i-1", "payments", 4.0, 7.5, 3),
             daily_row("2026-10-01", "111", "Amazon Elastic Compute Cloud", "i-2", "", 1.0, 1.0),
             daily_row("2026-10-02", "222", "Amazon Elastic Compute Cloud", "i-3", "", 2.5, 2.0),
             daily_row("2026-10-03", "222", "Amazon Elastic Compute Cloud", "i-3", "", 0.5, 0.5),
             daily_row("2026-10-04", "222", "Amazon Elastic Compute Cloud", "i-3", "", 1.5, 1.5)]
    queue_results(moto_url, (PERIOD_COLUMNS, files), (DAILY_COLUMNS, daily))

    report = athena.sync(db_path, config)
    assert report.queries == 2 and [p["period"] for p in report.loaded] == ["2026-10"]
    assert report.loaded[0]["rows_read"] == 7                       # lines summed by Athena: 3 + 1 + 1 + 1 + 1
    # 5 daily rows and the header row, 2 to a page: 3 GetQueryResults pages for the daily query.
    assert paging.calls.count("GetQueryResults") >= 1 + 3
    assert paging.calls.count("StartQueryExecution") == 2 and "GetQueryExecution" in paging.calls
    assert 'FROM "billing"."export"' in paging.started[1] and "billing_period = '2026-10'" in paging.started[1]
    assert "'user_team'" in paging.started[1]
    assert warehouse_rows(db_path) == [
        (date(2026, 10, 1), "111", "i-1", "payments", "Compute", 4.0, 7.5),
        (date(2026, 10, 1), "111", "i-2", "unallocated", "Compute", 1.0, 1.0),
        (date(2026, 10, 2), "222", "i-3", "unallocated", "Compute", 2.5, 2.0),
        (date(2026, 10, 3), "222", "i-3", "unallocated", "Compute", 0.5, 0.5),
        (date(2026, 10, 4), "222", "i-3", "unallocated", "Compute", 1.5, 1.5)]

    # The same files again: only the listing query runs; nothing is rewritten.
    paging.calls.clear()
    queue_results(moto_url, (PERIOD_COLUMNS, files))
    again = athena.sync(db_path, config)
    assert again.queries == 1 and again.loaded == [] and again.unchanged == ["2026-10"]
    assert paging.calls.count("StartQueryExecution") == 1
    assert len(warehouse_rows(db_path)) == 5


def test_timeout_cancels_the_query_and_writes_nothing(paging, moto_url, db_path):
    config = parse_config({"sources": {"aws": {"athena": athena_config("focus", timeout_seconds=0.5,
                                                                       poll_seconds=0.05)}}})
    # moto's queries advance one state per GetQueryExecution; held here in QUEUED/RUNNING.
    requests.post(f"{moto_url}/moto-api/state-manager/set-transition", timeout=10,
                  json={"model_name": "athena::execution", "transition": {"progression": "manual", "times": 10**6}})
    try:
        with pytest.raises(SourceError, match=r"Athena listing the files \(query [0-9a-f-]+\) did not finish in 0.5 s "
                                              r"and was cancelled; nothing was written"):
            athena.sync(db_path, config)
        client = boto3.client("athena", region_name="us-east-1")
        (query_id,) = client.list_query_executions()["QueryExecutionIds"]
        deadline = time.monotonic() + 30
        while client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]["State"] != "CANCELLED":
            assert time.monotonic() < deadline, "the query was never cancelled"
            time.sleep(0.05)
        assert "StopQueryExecution" in paging.calls
    finally:
        requests.post(f"{moto_url}/moto-api/state-manager/unset-transition", timeout=10,
                      json={"model_name": "athena::execution"})
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM costs").fetchone() == (0,)
        assert "did not finish" in con.execute("SELECT last_error FROM sync_state WHERE source = 'aws-athena'").fetchone()[0]


def test_failed_query_shows_its_reason_and_writes_nothing(monkeypatch, tmp_path, db_path):
    failed = {"QueryExecution": {"QueryExecutionId": "q-1", "Query": "SELECT ...", "StatementType": "DML",
                                 "Status": {"State": "FAILED", "SubmissionDateTime": 1.0, "CompletionDateTime": 2.0,
                                            "StateChangeReason": "TABLE_NOT_FOUND: line 4:6: Table "
                                                                 "'awsdatacatalog.billing.export' does not exist"},
                                 "ResultConfiguration": {}, "QueryExecutionContext": {}, "Statistics": {},
                                 "WorkGroup": "primary"}}
    with ScriptedAws([(200, {"QueryExecutionId": "q-1"}), (200, failed)]) as stand_in:
        point_boto3_at(monkeypatch, tmp_path, stand_in.url)
        config = parse_config({"sources": {"aws": {"athena": athena_config("focus", poll_seconds=0.05)}}})
        with pytest.raises(SourceError, match=r"Athena listing the files \(query q-1\) failed: TABLE_NOT_FOUND: "
                                              r"line 4:6: Table 'awsdatacatalog.billing.export' does not exist\. "
                                              r"Nothing was written"):
            athena.sync(db_path, config)
    assert [h["target"].rsplit(".", 1)[-1] for h in stand_in.hits][:2] == ["StartQueryExecution", "GetQueryExecution"]
    with connect(db_path, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM costs").fetchone() == (0,)


@pytest.mark.parametrize(("section", "message"), [
    ({"database": "billing", "table": "export", "format": "cur"}, r"format: must be \"cur2\" or \"focus\""),
    ({"database": "bill-ing", "table": "export", "format": "cur2"}, r"database: must be an Athena name"),
    ({"database": "billing", "table": "export; DROP", "format": "cur2"}, r"table: must be an Athena name"),
    ({"database": "billing", "table": "export", "format": "cur2", "output_location": "/tmp"},
     r"output_location: must be s3://"),
])
def test_athena_section_is_checked_when_the_config_loads(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"sources": {"aws": {"athena": section}}})
