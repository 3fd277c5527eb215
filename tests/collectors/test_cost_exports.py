"""CUR 2.0 and FOCUS exports into ``costs``: the shared FOCUS sample must ingest exactly, a CUR
partition is read from S3 through a moto server, a bad file writes nothing."""

from __future__ import annotations

import csv
from datetime import date

import boto3
import duckdb
import pytest

from cadence.core.config import parse_config
from cadence.core.errors import IngestError
from collectors.cost_exports import detect_format, ingest_cost_export, is_cost_export
from tests.support.aws_support import point_boto3_at, reset_moto
from tests.conftest import SHARED_DATA
from warehouse import connect

FOCUS_SAMPLE = SHARED_DATA / "focus-sample" / "focus_sample.csv"


def totals(db_path, group: str):
    con = connect(db_path, read_only=True)
    try:
        return con.execute(f"SELECT {group}, sum(billed_cost), sum(effective_cost), count(*) "
                           f"FROM costs GROUP BY ALL ORDER BY ALL").fetchall()
    finally:
        con.close()


def test_focus_sample_ingests_exactly(db_path):
    config = parse_config({"teams": {"vienna": {"cost_tags": ["ViennaAI"]}},
                           "sources": {"aws": {"team_tag": "business_unit"}}})
    assert is_cost_export(str(FOCUS_SAMPLE))
    result = ingest_cost_export(db_path, config, FOCUS_SAMPLE)
    assert result["format"] == "focus" and result["rows_read"] == 1000
    assert (result["first_day"], result["last_day"]) == (date(2024, 9, 1), date(2024, 9, 30))
    assert result["providers"] == ["AWS", "Microsoft", "Oracle"]

    direct = duckdb.connect()
    expected = direct.execute(
        "SELECT ProviderName, ServiceName, sum(BilledCost), sum(EffectiveCost) "
        "FROM read_csv(?, nullstr = 'NULL') GROUP BY ALL ORDER BY ALL", [str(FOCUS_SAMPLE)]).fetchall()
    got = [r[:4] for r in totals(db_path, "provider, service_name")]
    assert [r[:2] for r in got] == [r[:2] for r in expected] and len(got) > 30
    # Same sums; only the order of float additions differs (daily subtotals first).
    for g, e in zip(got, expected, strict=True):
        assert g[2:] == pytest.approx(e[2:], abs=1e-9), g[:2]
    # The team tag lives in the Tags JSON: business_unit "ViennaAI" → team vienna.
    with connect(db_path, read_only=True) as con:
        vienna = con.execute("SELECT DISTINCT allocation_tag, team FROM costs WHERE team = 'vienna'").fetchall()
        want = direct.execute("SELECT count(*) FROM read_csv(?, nullstr = 'NULL') "
                              "WHERE json_extract_string(Tags, '$.business_unit') = 'ViennaAI'",
                              [str(FOCUS_SAMPLE)]).fetchone()[0]
        assert vienna == [("ViennaAI", "vienna")] and want > 0

    before = totals(db_path, "provider, service_name, charge_date")
    ingest_cost_export(db_path, config, FOCUS_SAMPLE)           # again: replaces, never duplicates
    after = totals(db_path, "provider, service_name, charge_date")
    assert [r[:3] + r[5:] for r in after] == [r[:3] + r[5:] for r in before]      # same rows per day
    assert [v for r in after for v in r[3:5]] == pytest.approx([v for r in before for v in r[3:5]], abs=1e-12)


def test_focus_parquet_with_offsets_lands_on_utc_days(db_path, tmp_path):
    path = tmp_path / "focus.parquet"
    duckdb.execute(f"""COPY (SELECT * FROM (VALUES
        ('2026-10-01T23:30:00-02:00', 'GCP', 'Compute Engine', 1.25, 1.0, '{{"team": "payments"}}'),
        ('2026-10-01T20:00:00Z',      'GCP', 'Compute Engine', 2.00, 2.0, NULL)
      ) t(ChargePeriodStart, ProviderName, ServiceName, BilledCost, EffectiveCost, Tags)) TO '{path}' (FORMAT parquet)""")
    config = parse_config({"teams": {"payments": {"cost_tags": ["payments"]}}})
    ingest_cost_export(db_path, config, path)
    with connect(db_path, read_only=True) as con:
        rows = con.execute("SELECT charge_date, allocation_tag, team, billed_cost FROM costs ORDER BY 1").fetchall()
    # 23:30 at −02:00 is 01:30 UTC on 2 October; 20:00Z stays on 1 October.
    assert rows == [(date(2026, 10, 1), "", "unallocated", 2.0), (date(2026, 10, 2), "payments", "payments", 1.25)]


def test_malformed_export_writes_nothing(db_path, tmp_path):
    ingest_cost_export(db_path, parse_config({}), FOCUS_SAMPLE)
    before = totals(db_path, "provider")
    bad = tmp_path / "focus_bad.csv"
    with open(FOCUS_SAMPLE, newline="") as fh:
        rows = list(csv.reader(fh))[:4]
    # The sample's header and first rows, moved to August (a partial write would show up as new
    # rows), with BilledCost broken on data row 3.
    for row in rows[1:]:
        row[rows[0].index("ChargePeriodStart")] = row[rows[0].index("ChargePeriodStart")].replace("2024-09", "2024-08")
    rows[3][rows[0].index("BilledCost")] = "twelve"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(IngestError, match=r"focus_bad.csv: row 3: BilledCost 'twelve' is not a number"):
        ingest_cost_export(db_path, parse_config({}), bad)
    assert totals(db_path, "provider") == before

    not_export = tmp_path / "plain.csv"
    not_export.write_text("date,amount\n2026-10-01,3\n")
    assert not is_cost_export(str(not_export))
    with pytest.raises(IngestError, match="neither FOCUS"):
        ingest_cost_export(db_path, parse_config({}), not_export)


def _cur_partition(path):
    """A CUR 2.0 partition: usage, Savings Plan covered usage and its negation, an RI fee, tags."""
    duckdb.execute(f"""COPY (SELECT
        bill_payer_account_id, line_item_usage_account_id, line_item_line_item_type, line_item_product_code,
        CAST(line_item_usage_start_date AS TIMESTAMP) AS line_item_usage_start_date,
        line_item_unblended_cost, line_item_usage_amount, pricing_unit, line_item_resource_id,
        product_region_code, line_item_currency_code, pricing_public_on_demand_cost,
        savings_plan_savings_plan_effective_cost, reservation_effective_cost,
        reservation_unused_amortized_upfront_fee_for_billing_period, reservation_unused_recurring_fee,
        CASE WHEN team IS NULL THEN MAP {{}}::MAP(VARCHAR, VARCHAR) ELSE MAP {{'user_team': team}} END AS resource_tags,
        MAP {{'product_name': product_name}} AS product
      FROM (VALUES
        ('999', '111', 'Usage', 'AmazonEC2', '2026-10-01 05:00:00', 4.0, 10.0, 'Hrs', 'i-1', 'us-east-1', 'USD', 4.0,
         NULL, NULL, NULL, NULL, 'payments', 'Amazon Elastic Compute Cloud'),
        ('999', '111', 'SavingsPlanCoveredUsage', 'AmazonEC2', '2026-10-01 06:00:00', 6.0, 10.0, 'Hrs', 'i-1',
         'us-east-1', 'USD', 6.0, 3.5, NULL, NULL, NULL, 'payments', 'Amazon Elastic Compute Cloud'),
        ('999', '111', 'SavingsPlanNegation', 'AmazonEC2', '2026-10-01 06:00:00', -6.0, 0.0, 'Hrs', 'i-1',
         'us-east-1', 'USD', NULL, NULL, NULL, NULL, NULL, 'payments', 'Amazon Elastic Compute Cloud'),
        ('999', '222', 'RIFee', 'AmazonRDS', '2026-10-02 00:00:00', 24.0, 24.0, 'Hrs', '', 'us-east-1', 'USD',
         NULL, NULL, NULL, 2.0, 1.0, NULL, 'Amazon Relational Database Service'),
        ('999', '222', 'DiscountedUsage', 'AmazonRDS', '2026-10-02 01:00:00', 0.0, 1.0, 'Hrs', 'db-1', 'us-east-1',
         'USD', 0.9, NULL, 0.75, NULL, NULL, NULL, 'Amazon Relational Database Service')
      ) t(bill_payer_account_id, line_item_usage_account_id, line_item_line_item_type, line_item_product_code,
          line_item_usage_start_date, line_item_unblended_cost, line_item_usage_amount, pricing_unit,
          line_item_resource_id, product_region_code, line_item_currency_code, pricing_public_on_demand_cost,
          savings_plan_savings_plan_effective_cost, reservation_effective_cost,
          reservation_unused_amortized_upfront_fee_for_billing_period, reservation_unused_recurring_fee,
          team, product_name)) TO '{path}' (FORMAT parquet)""")


def test_cur_parquet_partition_from_s3(moto_url, monkeypatch, tmp_path, db_path):
    reset_moto(moto_url)
    point_boto3_at(monkeypatch, tmp_path, moto_url)
    local = tmp_path / "part.parquet"
    _cur_partition(local)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="billing")
    prefix = "cur/cadence/data/BILLING_PERIOD=2026-10/"
    s3.put_object(Bucket="billing", Key=prefix + "cadence-00001.snappy.parquet", Body=local.read_bytes())
    s3.put_object(Bucket="billing", Key="cur/cadence/metadata/BILLING_PERIOD=2026-10/manifest.json", Body=b"{}")
    config = parse_config({"teams": {"payments": {"cost_tags": ["payments"]}, "data": {"accounts": ["222"]}},
                           "sources": {"aws": {"team_tag": "team"}}})

    result = ingest_cost_export(db_path, config, "s3://billing/cur/cadence/")
    assert result["format"] == "cur2" and result["files"] == 1 and result["rows_read"] == 5
    with connect(db_path, read_only=True) as con:
        rows = con.execute("SELECT charge_date, sub_account_id, service_name, resource_id, allocation_tag, team, "
                           "service_category, billed_cost, effective_cost FROM costs ORDER BY ALL").fetchall()
    assert rows == [
        # 1 Oct, i-1: billed 4 + 6 − 6 = 4; effective (amortized) 4 + 3.5 (SP rate) + 0 (negation) = 7.5
        (date(2026, 10, 1), "111", "Amazon Elastic Compute Cloud", "i-1", "payments", "payments", "Compute", 4.0, 7.5),
        # 2 Oct: the RI fee's unused part 2 + 1 = 3 is amortized cost; the covered hour costs 0.75
        (date(2026, 10, 2), "222", "Amazon Relational Database Service", "", "", "data", "Databases", 24.0, 3.0),
        (date(2026, 10, 2), "222", "Amazon Relational Database Service", "db-1", "", "data", "Databases", 0.0, 0.75),
    ]

    with pytest.raises(IngestError, match="No .parquet or .csv objects under s3://billing/nothing/"):
        ingest_cost_export(db_path, config, "s3://billing/nothing/")


def test_detect_format_ignores_case_and_underscores():
    assert detect_format(["charge_period_start", "billed_cost"]) == "focus"
    assert detect_format(["line_item_usage_start_date", "line_item_unblended_cost"]) == "cur2"
    assert detect_format(["date", "amount"]) is None
