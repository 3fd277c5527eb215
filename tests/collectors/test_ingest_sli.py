"""`cadence ingest sli` and the webhook's POST /sli: hourly SLI rows with the ingest rules (checked
before anything is written, line-named errors, upsert on (slo, hour))."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
import requests

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import IngestError
from collectors.webhook import create_app
from tests.support.webhook_support import AUTH, serve_app, TOKEN
from collectors.files import ingest_file, ingest_records

SLOS = [{"name": "checkout-availability", "service": "checkout", "objective": 99.9, "window_days": 28},
        {"name": "search-latency", "service": "search", "objective": 99, "window_days": 7}]
CONFIG = parse_config({"slos": SLOS})


def stored(db_path):
    with duckdb.connect(str(db_path), read_only=True) as c:
        return c.execute("SELECT slo, hour, good, total, source FROM sli_hours ORDER BY slo, hour").fetchall()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_and_jsonl_load_and_a_second_ingest_changes_nothing(db_path, tmp_path):
    csv = write(tmp_path, "sli.csv", "slo,hour,good,total\n"
                                     "checkout-availability,2026-03-01T14:00:00Z,990,1000\n"
                                     "checkout-availability,2026-03-01 17:00+02:00,5,5\n")   # 15:00 UTC
    result = ingest_file(db_path, "sli", csv, config=CONFIG)
    assert (result.rows_read, result.inserted, result.updated) == (2, 2, 0)
    jsonl = write(tmp_path, "sli.jsonl",
                  '{"slo": "search-latency", "hour": "2026-03-01T14:00:00Z", "good": 0, "total": 0}\n')
    ingest_file(db_path, "sli", jsonl, config=CONFIG)
    assert stored(db_path) == [
        ("checkout-availability", datetime(2026, 3, 1, 14), 990.0, 1000.0, "ingest"),
        ("checkout-availability", datetime(2026, 3, 1, 15), 5.0, 5.0, "ingest"),
        ("search-latency", datetime(2026, 3, 1, 14), 0.0, 0.0, "ingest"),
    ]
    again = ingest_file(db_path, "sli", csv, config=CONFIG)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    write(tmp_path, "sli.csv", "slo,hour,good,total\ncheckout-availability,2026-03-01T14:00:00Z,991,1000\n")
    assert ingest_file(db_path, "sli", csv, config=CONFIG).updated == 1
    assert stored(db_path)[0][2] == 991.0


def test_every_fault_is_named_with_its_line_and_nothing_is_written(db_path, tmp_path):
    ingest_file(db_path, "sli", write(tmp_path, "ok.csv", "slo,hour,good,total\n"
                                                          "search-latency,2026-03-01T10:00:00Z,1,1\n"), config=CONFIG)
    before = stored(db_path)
    path = write(tmp_path, "bad.csv", "slo,hour,good,total\n"
                                      "checkout-availabilty,2026-03-01T14:00:00Z,1,1\n"     # 2: typo
                                      "checkout-availability,2026-03-01T14:30:00Z,1,1\n"    # 3: half hour
                                      "checkout-availability,2026-03-01T14:00:00+05:30,1,1\n"  # 4: 08:30 UTC
                                      "checkout-availability,2026-03-01T16:00:00Z,-1,3\n"   # 5: negative
                                      "checkout-availability,2026-03-01T17:00:00Z,11,10\n"  # 6: good > total
                                      "checkout-availability,2026-03-01T18:00:00Z,1,1\n"
                                      "checkout-availability,2026-03-01T18:00:00Z,2,2\n"    # 8: repeated
                                      "checkout-availability,2026-03-01T19:00:00Z,lots,2\n")  # 9
    with pytest.raises(IngestError) as info:
        ingest_file(db_path, "sli", path, config=CONFIG)
    lines = str(info.value).splitlines()
    assert lines[0] == (f"{path}: 7 problems; nothing was written. Fix the input and run again "
                        f"(columns and formats: docs/ingest.md).")
    assert lines[1:] == [
        f'{path}:2: slo: unknown SLO "checkout-availabilty"; SLOs declared: checkout-availability, '
        f"search-latency (declare it under [[slos]] or fix the row)",
        f'{path}:3: hour: "2026-03-01T14:30:00Z" is not the start of a whole UTC hour (minutes and seconds 0, '
        f"e.g. 2026-03-01T14:00:00Z)",
        f'{path}:4: hour: "2026-03-01T14:00:00+05:30" is not the start of a whole UTC hour (minutes and '
        f"seconds 0, e.g. 2026-03-01T14:00:00Z)",
        f'{path}:5: good: "-1" is negative; a count of events is 0 or more',
        f'{path}:6: good: "11" is more than total (10); good events are part of total',
        f'{path}:8: "checkout-availability" appears again (first on line 7); one row per SLO and hour '
        f"(sum such rows)",
        f'{path}:9: good: "lots" is not a number (digits with a dot for decimals, no currency sign or '
        f"thousands separator)",
    ]
    assert stored(db_path) == before


def test_without_declared_slos_every_row_is_refused_saying_what_to_declare(db_path):
    with pytest.raises(IngestError) as info:
        ingest_records(db_path, "sli", [{"slo": "x", "hour": "2026-03-01T10:00:00Z", "good": 1, "total": 1}],
                       config=parse_config({}))
    assert str(info.value).splitlines()[1] == ('webhook: record 1: slo: unknown SLO "x"; no SLO is declared; '
                                               "declare it under [[slos]] first (docs/sources.md)")
    assert stored(db_path) == []


def test_cli_ingest_sli(db_path, tmp_path, capsys):
    cfg = write(tmp_path, "cadence.toml", '[[slos]]\nname = "api"\nservice = "api"\nobjective = 99.5\n'
                                          "window_days = 7\n")
    path = write(tmp_path, "sli.csv", "slo,hour,good,total\napi,2026-03-01T10:00:00Z,199,200\n")
    assert main(["--db", str(db_path), "--config", str(cfg), "ingest", "sli", str(path)]) == 0
    assert "sli from" in capsys.readouterr().out
    assert stored(db_path) == [("api", datetime(2026, 3, 1, 10), 199.0, 200.0, "ingest")]
    bad = write(tmp_path, "bad.csv", "slo,hour,good,total\napi,2026-03-01T10:15:00Z,1,1\n")
    assert main(["--db", str(db_path), "--config", str(cfg), "ingest", "sli", str(bad)]) == 1
    assert f"{bad}:2: hour:" in capsys.readouterr().err


def test_webhook_post_sli(db_path, tmp_path, monkeypatch):
    cfg = write(tmp_path, "cadence.toml", '[[slos]]\nname = "api"\nservice = "api"\nobjective = 99.5\n'
                                          "window_days = 7\n")
    monkeypatch.setenv("CADENCE_CONFIG", str(cfg))      # the receiver checks SLO names against it
    base, stop = serve_app(create_app(db_path, TOKEN))
    try:
        ok = requests.post(f"{base}/sli", json=[{"slo": "api", "hour": "2026-03-01T10:00:00Z", "good": 9,
                                                  "total": 10}], headers=AUTH, timeout=10)
        assert ok.status_code == 200 and ok.json()["inserted"] == 1
        bad = requests.post(f"{base}/sli", json={"slo": "api", "hour": "2026-03-01T11:00:00Z", "good": 11,
                                                  "total": 10}, headers=AUTH, timeout=10)
        assert bad.status_code == 422
        assert bad.json()["problems"] == [{"record": 1, "column": "good",
                                           "reason": '"11" is more than total (10); good events are part of total'}]
        empty = requests.post(f"{base}/sli", data=b" ", headers=AUTH, timeout=10)
        assert empty.status_code == 422 and "POST one SLI hour object" in empty.json()["error"]
    finally:
        stop()
    assert stored(db_path) == [("api", datetime(2026, 3, 1, 10), 9.0, 10.0, "webhook")]
