"""The set-wise export path (collectors/aws_exports/local.py): bad lines named by file and row
with nothing written, compressed CSV and many files per period read by column name, the
memory limit honoured (spilling, not failing), allocation by join equal to the Allocator, and a
re-delivered month replacing only that month."""

from __future__ import annotations

import csv
import gzip
import itertools
import random
from datetime import date

import duckdb
import pytest

from cadence.core.allocation import Allocator
from cadence.core.config import parse_config
from cadence.core.errors import ConfigError, IngestError
from collectors.aws_exports import local
from cadence.core.settings.aws_exports import export_settings
from collectors.cost_exports import ingest_cost_export
from tests.conftest import SHARED_DATA
from warehouse import connect

FOCUS_SAMPLE = SHARED_DATA / "focus-sample" / "focus_sample.csv"


def costs(db_path, select="charge_date, provider, billing_account_id, service_name, resource_id, allocation_tag, "
                          "team, billed_cost, effective_cost"):
    with connect(db_path, read_only=True) as con:
        return con.execute(f"SELECT {select} FROM costs ORDER BY ALL").fetchall()


def sample_rows():
    with open(FOCUS_SAMPLE, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])


@pytest.mark.parametrize(("column", "value", "message"), [
    ("ChargePeriodStart", "yesterday", r"ChargePeriodStart 'yesterday' is not a timestamp"),
    ("ChargePeriodStart", "1969-12-31 23:00:00", r"ChargePeriodStart '1969-12-31 23:00:00' is outside the accepted range"),
    ("EffectiveCost", "1,5", r"EffectiveCost '1,5' is not a number"),
    ("ConsumedQuantity", "inf", r"ConsumedQuantity 'inf' is not a number"),
    ("BilledCost", "NULL", r"the billed cost None is empty"),
    ("ServiceName", "  ", r"the service '  ' is empty"),
    ("Tags", "{team: 1", r"Tags '\{team: 1' is not JSON"),
])
def test_bad_line_is_named_by_file_and_row_and_nothing_is_written(db_path, tmp_path, column, value, message):
    header, rows = sample_rows()
    good = tmp_path / "export"
    good.mkdir()
    # Two files of one period; the fault is on data row 7 of the second, so the row number is
    # counted within that file, not across the folder.
    write_csv(good / "part-1.csv", header, rows[:300])
    second = [list(r) for r in rows[300:600]]
    second[6][header.index(column)] = value
    write_csv(good / "part-2.csv", header, second)
    ingest_cost_export(db_path, parse_config({}), FOCUS_SAMPLE)
    before = costs(db_path)
    with pytest.raises(IngestError, match=r"^part-2\.csv: row 7: " + message + r".*\(1 such rows\)\. Nothing was written"):
        ingest_cost_export(db_path, parse_config({}), good)
    assert costs(db_path) == before


def test_gzip_and_zstd_csv_and_many_files_read_by_column_name(db_path, tmp_path):
    header, rows = sample_rows()
    folder = tmp_path / "period"
    (folder / "sub").mkdir(parents=True)
    with gzip.open(folder / "a.csv.gz", "wt", newline="") as fh:
        csv.writer(fh).writerows([header, *rows[:400]])
    # The second file has its columns in another order and in snake_case, and is zstd-compressed.
    order = list(reversed(range(len(header))))
    snake = [''.join('_' + ch.lower() if ch.isupper() and i else ch.lower() for i, ch in enumerate(header[j]))
             for j in order]
    plain = tmp_path / "b.csv"
    write_csv(plain, snake, [[r[j] for j in order] for r in rows[400:]])
    duckdb.execute(f"COPY (SELECT * FROM read_csv('{plain}', all_varchar = true)) TO '{folder / 'sub' / 'b.csv.zst'}' "
                   f"(HEADER, COMPRESSION zstd)")
    result = ingest_cost_export(db_path, parse_config({}), folder)
    assert result["files"] == 2 and result["rows_read"] == 1000

    whole = tmp_path / "whole.duckdb"
    ingest_cost_export(whole, parse_config({}), FOCUS_SAMPLE)
    got, want = costs(db_path), costs(whole)
    assert [r[:7] for r in got] == [r[:7] for r in want] and len(got) > 100
    assert [v for r in got for v in r[7:]] == pytest.approx([v for r in want for v in r[7:]], abs=1e-9)


def _many_groups(path, lines):
    """``lines`` hourly lines, each its own resource: as many daily groups as lines."""
    duckdb.execute(f"""COPY (SELECT strftime(TIMESTAMP '2026-09-01' + to_hours(i % 700), '%Y-%m-%d %H:%M:%S')
                                 AS ChargePeriodStart, 'AWS' AS ProviderName, 'Amazon EC2' AS ServiceName,
                               'arn:aws:ec2:us-east-1:123456789012:instance/i-' || md5(i::VARCHAR) AS ResourceId,
                               (i % 100) / 100.0 AS BilledCost, (i % 100) / 200.0 AS EffectiveCost
                        FROM range({lines}) t(i)) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 100000)""")


def test_memory_limit_is_honoured_by_spilling(db_path, tmp_path, monkeypatch):
    path = tmp_path / "wide.parquet"
    lines = 400_000
    _many_groups(path, lines)
    spill_root = tmp_path / "spill"
    config = parse_config({"sources": {"cost_exports": {"memory_limit": "96MB", "threads": 1,
                                                        "temp_directory": str(spill_root)}}})

    # The same ingest under the same limit with spilling switched off runs out of memory: the
    # aggregation (400,000 groups) does not fit in 96 MB, so the limit is real and applied.
    monkeypatch.setattr(local.Stage, "spill", False)
    with pytest.raises(IngestError, match=r"needed more than memory_limit = 96MB .*Nothing was written; raise "
                                          r"\[sources.cost_exports\] memory_limit"):
        ingest_cost_export(db_path, config, path)
    assert costs(db_path, "count(*)") == [(0,)]

    monkeypatch.setattr(local.Stage, "spill", True)
    result = ingest_cost_export(db_path, config, path)
    # 400,000 lines, each its own resource-day; billed (i % 100) / 100 sums to 4,000 × 49.5 = 198,000
    # (each of the 4,000 runs of i % 100 = 0..99 sums to 49.5), effective half of it.
    assert result["rows_read"] == lines and result["rows_written"] == lines
    assert costs(db_path, "count(*), round(sum(billed_cost), 6), round(sum(effective_cost), 6)") == \
        [(lines, 198_000.0, 99_000.0)]
    assert list(spill_root.iterdir()) == []          # the temporary folder is removed afterwards


def test_unusable_temp_directory_is_a_clear_error(db_path, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = parse_config({"sources": {"cost_exports": {"temp_directory": str(blocker / "tmp")}}})
    with pytest.raises(IngestError, match=r"Cannot use .*a-file/tmp.* set \[sources.cost_exports\] temp_directory"):
        ingest_cost_export(db_path, config, FOCUS_SAMPLE)


@pytest.mark.parametrize(("section", "message"), [
    ({"memory_limit": "lots"}, r"memory_limit: must be a size such as \"1GB\""),
    ({"memory_limit": "8MB"}, r"memory_limit: '8MB' is below 32MB"),
    ({"threads": 0}, r"threads: must be a whole number"),
    ({"spill": True}, r"sources.cost_exports.spill: unknown key"),
])
def test_cost_exports_section_is_checked_when_the_config_loads(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"sources": {"cost_exports": section}})


def test_default_memory_limit_is_one_gigabyte():
    settings = export_settings(parse_config({}))
    assert settings.memory_limit == "1GB" and settings.memory_limit_bytes == 10 ** 9


def test_allocation_join_matches_the_allocator(db_path, tmp_path):
    """Random rules and lines: the join gives every line the team Allocator.team gives it."""
    rnd = random.Random(22)
    tags, accounts, services = ["t1", "t2", "t3", "shared-x"], ["111", "222", "333"], ["EC2", "S3", "RDS"]
    config = parse_config({
        "teams": {"a": {"cost_tags": ["t1"], "accounts": ["222"]}, "b": {"cost_tags": ["t2", "t3"]}},
        "cost_allocation": {"accounts": {"333": "b", "111": "shared"}, "services": {"S3": "a"},
                            "shared_tags": ["shared-x"]}})
    lines = []
    for i, (tag, sub, billing, service) in enumerate(itertools.product(tags + [None], accounts + [None],
                                                                       accounts + [None], services)):
        lines.append((f"2026-09-{1 + i % 28:02d} 10:00:00", sub, billing, service, f"r-{i}",
                      None if tag is None else f'{{"team": "{tag}"}}', rnd.randint(1, 9)))
    path = tmp_path / "alloc.csv"
    write_csv(path, ["ChargePeriodStart", "SubAccountId", "BillingAccountId", "ServiceName", "ResourceId", "Tags",
                     "BilledCost", "EffectiveCost", "ProviderName"],
              [[*line, line[-1], "AWS"] for line in lines])
    ingest_cost_export(db_path, config, path)
    got = dict(((r[0]), r[1]) for r in costs(db_path, "resource_id, team"))
    allocator = Allocator(config)
    want = {f"r-{i}": allocator.team(tag, (sub, billing), service)
            for i, (tag, sub, billing, service) in enumerate(itertools.product(tags + [None], accounts + [None],
                                                                               accounts + [None], services))}
    assert got == want and {"a", "b", "shared", "unallocated"} <= set(want.values())


def test_redelivered_month_replaces_that_month_only(db_path, tmp_path):
    header = ["ChargePeriodStart", "ProviderName", "BillingAccountId", "ServiceName", "BilledCost", "EffectiveCost"]
    sept, octo = tmp_path / "sept.csv", tmp_path / "oct.csv"
    write_csv(sept, header, [["2026-09-03 01:00:00", "AWS", "999", "EC2", "1", "1"],
                             ["2026-09-20 01:00:00", "AWS", "999", "S3", "2", "2"]])
    write_csv(octo, header, [["2026-10-01 01:00:00", "AWS", "999", "EC2", "3", "3"],
                             ["2026-10-02 01:00:00", "AWS", "999", "S3", "4", "4"]])
    ingest_cost_export(db_path, parse_config({}), sept)
    ingest_cost_export(db_path, parse_config({}), octo)
    # October restated: S3 gone from 2 October, EC2 changed; September stays as it was.
    write_csv(octo, header, [["2026-10-01 01:00:00", "AWS", "999", "EC2", "5", "5"],
                             ["2026-10-02 02:00:00", "AWS", "999", "EC2", "6", "6"]])
    ingest_cost_export(db_path, parse_config({}), octo)
    assert costs(db_path, "charge_date, service_name, billed_cost") == [
        (date(2026, 9, 3), "EC2", 1.0), (date(2026, 9, 20), "S3", 2.0),
        (date(2026, 10, 1), "EC2", 5.0), (date(2026, 10, 2), "EC2", 6.0)]


def test_a_write_that_fails_midway_writes_nothing_and_says_why(db_path, monkeypatch):
    """The rows stream into costs inside the transaction: a row the table refuses, after others
    went in, rolls all of them back, and the error is the refusal itself."""
    ingest_cost_export(db_path, parse_config({}), FOCUS_SAMPLE)
    before = costs(db_path)
    allocate = local.allocate

    def allocate_one_bad_row(stage, *args, **kwargs):
        rows = allocate(stage, *args, **kwargs)
        # The last row of the stream has no service, which costs.service_name refuses (NOT NULL).
        stage.con.execute("ALTER VIEW out RENAME TO allocated")
        stage.con.execute(f"CREATE VIEW out AS SELECT * REPLACE (CASE WHEN row_number() OVER () = {int(rows)} "
                          f"THEN NULL ELSE service_name END AS service_name) FROM allocated")
        return rows

    monkeypatch.setattr(local, "allocate", allocate_one_bad_row)
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL constraint failed: costs.service_name"):
        ingest_cost_export(db_path, parse_config({}), FOCUS_SAMPLE)
    assert costs(db_path) == before


def test_docs_configuration_names_the_export_keys():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section in ("[sources.cost_exports]", "[sources.aws_exports]", "[sources.aws.athena]"):
        assert section in text
    for key in ("memory_limit", "temp_directory", "threads", "location", "locations", "database", "table",
                "format", "workgroup", "output_location", "region", "timeout_seconds", "poll_seconds"):
        assert f"`{key}`" in text, key
