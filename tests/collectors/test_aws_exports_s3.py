"""``cadence sync aws-exports`` against moto's S3 in server mode, behind a forwarding proxy that
records every request: the first run reads every billing period, a run with nothing changed
downloads nothing, a restated period is the only one read again (and replaces only its month),
a truncated object is a clear error that writes nothing."""

from __future__ import annotations

import json
from datetime import date

import boto3
import duckdb
import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import IngestError
from collectors.aws_exports import s3 as s3_sync
from tests.support.aws_support import HoldingProxy, point_boto3_at, reset_moto
from warehouse import connect

BUCKET = "billing"
EXPORT = "cur/cadence/"
LOCATION = f"s3://{BUCKET}/cur/"


@pytest.fixture
def proxy(moto_url, monkeypatch, tmp_path):
    reset_moto(moto_url)
    with HoldingProxy(moto_url) as p:
        point_boto3_at(monkeypatch, tmp_path, p.url)
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield p


def cur_file(path, period: str, lines: list[tuple[str, str, str, float]]) -> bytes:
    """A CUR 2.0 Parquet file: (usage account, day, product code, unblended cost) per line, payer 999."""
    values = ", ".join(f"('999', '{acct}', 'Usage', '{code}', TIMESTAMP '{period}-{day} 10:00:00', {cost}, "
                       f"MAP {{'product_name': '{code}'}})" for acct, day, code, cost in lines)
    duckdb.execute(f"""COPY (SELECT * FROM (VALUES {values}) t(bill_payer_account_id, line_item_usage_account_id,
                                 line_item_line_item_type, line_item_product_code, line_item_usage_start_date,
                                 line_item_unblended_cost, product)) TO '{path}' (FORMAT parquet)""")
    return path.read_bytes()


def deliver(tmp_path, period: str, files: dict[str, list], *, manifest: bool = True) -> None:
    """Put a period's data files (name → lines) and its manifest naming them, as AWS does."""
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = []
    for name, lines in files.items():
        key = f"{EXPORT}data/BILLING_PERIOD={period}/{name}"
        body = cur_file(tmp_path / f"{period}-{name}", period, lines) if isinstance(lines, list) else lines
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        keys.append(f"s3://{BUCKET}/{key}")
    if manifest:
        year, month = map(int, period.split("-"))
        end = f"{year + month // 12}-{month % 12 + 1:02d}"
        s3.put_object(Bucket=BUCKET, Key=f"{EXPORT}metadata/BILLING_PERIOD={period}/cadence-Manifest.json",
                      Body=json.dumps({"exportName": "cadence", "dataFiles": keys,
                                       "billingPeriod": {"start": f"{period}-01T00:00:00.000Z",
                                                         "end": f"{end}-01T00:00:00.000Z"}}).encode())


def object_gets(proxy: HoldingProxy) -> list[str]:
    """GetObject requests seen by the proxy (path-style: GET /bucket/key; listings carry list-type)."""
    return [c for c in proxy.calls if c.startswith(f"GET /{BUCKET}/") and "list-type" not in c]


def rows(db_path):
    with connect(db_path, read_only=True) as con:
        return con.execute("SELECT charge_date, sub_account_id, service_name, billed_cost FROM costs "
                           "ORDER BY ALL").fetchall()


def state(db_path):
    with connect(db_path, read_only=True) as con:
        return con.execute("SELECT cursor, last_error, details FROM sync_state WHERE source = 'aws-exports'").fetchone()


def test_incremental_by_billing_period(proxy, tmp_path, db_path):
    config = parse_config({"sources": {"aws_exports": {"location": LOCATION}}})
    deliver(tmp_path, "2026-09", {"part-1.snappy.parquet": [("111", "01", "AmazonEC2", 1.0),
                                                            ("222", "30", "AmazonS3", 2.0)]})
    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": [("111", "01", "AmazonEC2", 3.0)],
                                  "part-2.snappy.parquet": [("111", "02", "AmazonEC2", 4.0),
                                                            ("222", "02", "AmazonS3", 5.0)]})

    (first,) = s3_sync.sync(db_path, config)
    assert [p["period"] for p in first.loaded] == [f"{EXPORT}2026-09", f"{EXPORT}2026-10"]
    assert first.downloaded == 5 and len(object_gets(proxy)) == 5     # 3 data files + 2 manifests
    assert rows(db_path) == [(date(2026, 9, 1), "111", "AmazonEC2", 1.0), (date(2026, 9, 30), "222", "AmazonS3", 2.0),
                             (date(2026, 10, 1), "111", "AmazonEC2", 3.0), (date(2026, 10, 2), "111", "AmazonEC2", 4.0),
                             (date(2026, 10, 2), "222", "AmazonS3", 5.0)]
    cursor, error, details = state(db_path)
    assert cursor == "2026-10" and error is None and len(json.loads(details)["periods"]) == 2

    # Nothing changed: one listing, no object downloaded, nothing rewritten.
    proxy.calls.clear()
    (second,) = s3_sync.sync(db_path, config)
    assert second.loaded == [] and len(second.unchanged) == 2 and second.downloaded == 0
    assert object_gets(proxy) == [] and len(proxy.calls) == 1

    # AWS restates October (a new part-2, a new manifest): only October is read, and October's rows
    # are replaced whole: 222's S3 line is gone, 111's 2 October line changed; September stays.
    proxy.calls.clear()
    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": [("111", "01", "AmazonEC2", 3.0)],
                                  "part-2.snappy.parquet": [("111", "02", "AmazonEC2", 4.5)]})
    proxy.calls.clear()
    (third,) = s3_sync.sync(db_path, config)
    assert [p["period"] for p in third.loaded] == [f"{EXPORT}2026-10"] and third.unchanged == [f"{EXPORT}2026-09"]
    gets = object_gets(proxy)
    assert len(gets) == 3 and all("BILLING_PERIOD%3D2026-10" in g for g in gets)   # "=" URL-encoded
    assert rows(db_path) == [(date(2026, 9, 1), "111", "AmazonEC2", 1.0), (date(2026, 9, 30), "222", "AmazonS3", 2.0),
                             (date(2026, 10, 1), "111", "AmazonEC2", 3.0), (date(2026, 10, 2), "111", "AmazonEC2", 4.5)]


def test_truncated_object_is_a_clear_error_and_writes_nothing(proxy, tmp_path, db_path):
    config = parse_config({"sources": {"aws_exports": {"location": LOCATION}}})
    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": [("111", "01", "AmazonEC2", 3.0)]})
    s3_sync.sync(db_path, config)
    before, (_, _, details_before) = rows(db_path), state(db_path)

    whole = cur_file(tmp_path / "whole.parquet", "2026-10", [("111", "01", "AmazonEC2", 7.0),
                                                            ("111", "03", "AmazonEC2", 8.0)])
    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": whole[: len(whole) // 2]})
    with pytest.raises(IngestError, match=r"^s3://billing/cur/cadence/data/BILLING_PERIOD=2026-10/"
                                          r"part-1.snappy.parquet is not a whole Parquet file .*truncated.*"
                                          r"Nothing was written"):
        s3_sync.sync(db_path, config)
    assert rows(db_path) == before
    _, error, details = state(db_path)
    assert "not a whole Parquet file" in error and details == details_before    # ETags unmoved: tried again next run

    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": whole})
    s3_sync.sync(db_path, config)
    assert rows(db_path) == [(date(2026, 10, 1), "111", "AmazonEC2", 7.0), (date(2026, 10, 3), "111", "AmazonEC2", 8.0)]
    assert state(db_path)[1] is None


def test_manifest_naming_a_missing_file_writes_nothing(proxy, tmp_path, db_path):
    config = parse_config({})
    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": [("111", "01", "AmazonEC2", 3.0)]})
    boto3.client("s3", region_name="us-east-1").delete_object(
        Bucket=BUCKET, Key=f"{EXPORT}data/BILLING_PERIOD=2026-10/part-1.snappy.parquet")
    with pytest.raises(IngestError, match=r"the manifest names .*part-1.snappy.parquet, which is not in the bucket"):
        s3_sync.sync(db_path, config, locations=[LOCATION])
    assert rows(db_path) == []


def test_period_without_manifest_reads_its_data_objects(proxy, tmp_path, db_path):
    deliver(tmp_path, "2026-08", {"a.parquet": [("111", "05", "AmazonRDS", 2.5)]}, manifest=False)
    (report,) = s3_sync.sync(db_path, parse_config({}), locations=[LOCATION])
    assert report.downloaded == 1 and rows(db_path) == [(date(2026, 8, 5), "111", "AmazonRDS", 2.5)]


def test_cli_sync_aws_exports(proxy, tmp_path, db_path, capsys):
    deliver(tmp_path, "2026-10", {"part-1.snappy.parquet": [("111", "01", "AmazonEC2", 3.0)]})
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.aws_exports]\nlocation = "{LOCATION}"\n')
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "aws-exports"]) == 0
    out = capsys.readouterr().out
    assert f"aws-exports {LOCATION}: 1 billing periods, 1 read, 0 unchanged, 2 objects downloaded" in out
    assert "2026-10 (cur2): 1 files, 1 lines → 1 daily rows (2026-10-01 to 2026-10-01)" in out
    assert main(["--db", str(db_path), "--config", str(cfg), "sync", "aws-exports"]) == 0
    assert "0 read, 1 unchanged, 0 objects downloaded" in capsys.readouterr().out

    assert main(["--db", str(db_path), "sync", "aws-exports"]) == 1
    assert "Nothing to sync: set [sources.aws_exports] location" in capsys.readouterr().err


def test_sync_aws_exports_has_help(capsys):
    assert main(["sync", "aws-exports", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--location" in out and "--full" in out and "billing period" in out
