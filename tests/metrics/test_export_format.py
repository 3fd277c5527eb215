"""metrics.export without the metrics: ISO weeks at year ends, the CSV format, neutralisation of
formula-like text, redaction of tokens, and the atomic write."""

from __future__ import annotations

import csv
import io
import os
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from cadence.core.errors import ExportError
from metrics import export as ex


# -- ISO weeks ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("week", "monday", "sunday"), [
    ("2026-W47", date(2026, 11, 16), date(2026, 11, 22)),
    # 1 January 2026 is a Thursday, so 2026 has 53 ISO weeks and W53 runs into 2027.
    ("2026-W53", date(2026, 12, 28), date(2027, 1, 3)),
    ("2027-W01", date(2027, 1, 4), date(2027, 1, 10)),
    # ...and week 1 of 2026 starts in December 2025.
    ("2026-W01", date(2025, 12, 29), date(2026, 1, 4)),
    ("2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
])
def test_parse_iso_week_at_year_boundaries(week, monday, sunday):
    assert ex.parse_iso_week(week) == (monday, sunday)


@pytest.mark.parametrize(("week", "expect"), [
    ("2025-W53", "ISO year 2025 has weeks W01 to W52"),   # 1 Jan 2025 is a Wednesday, not leap
    ("2027-W53", "ISO year 2027 has weeks W01 to W52"),
    ("2026-W54", "ISO year 2026 has weeks W01 to W53"),
    ("2026-W00", "does not exist"),
    ("2026-47", "write it as YYYY-Www"),
    ("2026-W4", "write it as YYYY-Www"),
    ("last week", "write it as YYYY-Www"),
])
def test_parse_iso_week_rejects_weeks_that_do_not_exist(week, expect):
    with pytest.raises(ExportError, match=expect):
        ex.parse_iso_week(week)


@pytest.mark.parametrize(("today", "week"), [
    (date(2026, 11, 23), "2026-W47"),   # Monday: the week that ended at 00:00 today
    (date(2026, 11, 29), "2026-W47"),   # Sunday: W48 is not complete until the day ends
    (date(2026, 11, 30), "2026-W48"),
    (date(2027, 1, 3), "2026-W52"),     # Sunday of 2026-W53: W53 still running
    (date(2027, 1, 4), "2026-W53"),     # Monday of 2027-W01
    (date(2027, 1, 10), "2026-W53"),
    (date(2027, 1, 11), "2027-W01"),
    (date(2026, 1, 1), "2025-W52"),     # Thursday in 2026-W01 → 2025-W52 (22-28 Dec 2025)
    (date(2021, 1, 4), "2020-W53"),
])
def test_last_complete_week(today, week):
    assert ex.last_complete_week(today) == week
    monday, sunday = ex.parse_iso_week(week)
    assert sunday < today <= sunday + timedelta(days=7)


def test_period_labels():
    assert ex.period_label(date(2026, 12, 28)) == "2026-W53"
    assert ex.period_label(date(2026, 11, 1), period="month") == "2026-11"
    assert ex.period_label(date(2026, 11, 16), date(2026, 11, 22), "total") == "2026-W47"
    assert ex.period_label(date(2026, 11, 1), date(2026, 11, 30), "total") == "2026-11-01/2026-11-30"
    assert ex.export_file_names("2026-W47") == {"metrics": "cadence-metrics-2026-W47.csv",
                                                "changes": "cadence-changes-2026-W47.csv",
                                                "slos": "cadence-slos-2026-W47.csv"}


# -- CSV format ---------------------------------------------------------------------------------

def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_format_numbers_text_and_nulls():
    df = pd.DataFrame({
        "scope": ["=cmd|' /C calc'!A0", "payments", "+team", "-ops", "@x", "\tTab", "\rCR", "plain"],
        "effective_cost": [-3.5, -0.001, 1234567.891, 0.0, None, 2.005, np.nan, 10.0],
        "deployments": [1, 2, 3, 4, 5, 6, 7, 8],
        "change_failure_rate": [0.123456, None, 0.5, 1.0, 0.0, 1 / 3, 2 / 3, -0.25],
    })
    data = ex.to_csv_bytes(df)
    assert not data.startswith(b"\xef\xbb\xbf")             # no byte-order mark
    assert b"\r\n" not in data.replace(b'"\rCR"', b"")      # \n line endings
    assert data.endswith(b"\n")
    rows = _rows(data)
    assert rows[0] == ["scope", "effective_cost", "deployments", "change_failure_rate"]
    scopes = [r[0] for r in rows[1:]]
    assert scopes == ["'=cmd|' /C calc'!A0", "payments", "'+team", "'-ops", "'@x", "'\tTab",
                      "'\rCR", "plain"]
    costs = [r[1] for r in rows[1:]]
    # negative numbers stay numbers; -0.001 rounds to 0.00, never -0.00; None and NaN are empty
    assert costs == ["-3.50", "0.00", "1234567.89", "0.00", "", "2.00", "", "10.00"]
    assert [r[2] for r in rows[1:]] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert [r[3] for r in rows[1:]] == ["0.1235", "", "0.5000", "1.0000", "0.0000", "0.3333",
                                        "0.6667", "-0.2500"]


def test_csv_quotes_commas_quotes_and_line_breaks():
    df = pd.DataFrame({"title": ['a, b', 'say "hi"', "two\nlines", "bare\rcr", "ok"]})
    data = ex.to_csv_bytes(df)
    assert data == (b'title\n"a, b"\n"say ""hi"""\n"two\nlines"\n"bare\rcr"\nok\n')
    assert [r[0] for r in _rows(data)[1:]] == ["a, b", 'say "hi"', "two\nlines", "bare\rcr", "ok"]


def test_csv_types_dates_times_bools_lists():
    df = pd.DataFrame({
        "period_start": [date(2026, 11, 16), date(2026, 11, 16)],
        "merged_at": [datetime(2026, 11, 17, 8, 5, 9), None],
        "labels": [["zeta", "-bug", "alpha"], []],
        "failed": [True, False],
        "number": [12, None],
    })
    rows = _rows(ex.to_csv_bytes(df))
    assert rows[1] == ["2026-11-16", "2026-11-17 08:05:09", "'-bug;alpha;zeta", "true", "12"]
    assert rows[2] == ["2026-11-16", "", "", "false", ""]


def test_tz_aware_times_are_written_in_utc():
    df = pd.DataFrame({"finished_at": [pd.Timestamp("2026-11-17 09:30", tz="Asia/Tokyo")]})
    assert _rows(ex.to_csv_bytes(df))[1] == ["2026-11-17 00:30:00"]


def test_unknown_columns_are_typed_from_values():
    # a dashboard table (e.g. the Capacity quarter) downloads through the same function
    df = pd.DataFrame({"team": ["-infra"], "headroom_hours": [-12.345], "share": [0.12345],
                       "quarter": ["2026-Q4"]})
    assert _rows(ex.to_csv_bytes(df))[1] == ["'-infra", "-12.35", "0.1235", "2026-Q4"]


def test_token_values_are_redacted_from_text(monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_SECRETSECRET123")
    df = pd.DataFrame({"title": ["leaked ghp_SECRETSECRET123 oops"]})
    data = ex.to_csv_bytes(df)
    assert b"ghp_SECRETSECRET123" not in data
    assert _rows(data)[1] == ["leaked [redacted] oops"]


def test_same_frame_gives_identical_bytes():
    df = pd.DataFrame({"scope": ["b", "a"], "lead_time_p50_hours": [1 / 3, 2 / 3]})
    assert ex.to_csv_bytes(df) == ex.to_csv_bytes(df.copy())
    assert ex.to_csv_bytes(df) == b"scope,lead_time_p50_hours\nb,0.33\na,0.67\n"


# -- atomic write -------------------------------------------------------------------------------

def test_write_replaces_files_and_leaves_no_temp(tmp_path):
    out = tmp_path / "exports"
    written = ex.write_files_atomically(out, {"a.csv": b"x\n1\n", "b.csv": b"y\n2\n"})
    assert [p.name for p in written] == ["a.csv", "b.csv"]
    assert (out / "a.csv").read_bytes() == b"x\n1\n"
    ex.write_files_atomically(out, {"a.csv": b"x\n3\n"})
    assert (out / "a.csv").read_bytes() == b"x\n3\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv"]


def test_failed_rename_keeps_the_old_file_and_removes_temps(tmp_path, monkeypatch):
    out = tmp_path / "exports"
    ex.write_files_atomically(out, {"a.csv": b"old\n", "b.csv": b"old b\n"})
    seen = []

    def failing_replace(src, dst):
        # the temp file is complete and in the same directory when the rename is attempted
        seen.append((os.path.dirname(src), open(src, "rb").read()))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ex.os, "replace", failing_replace)
    with pytest.raises(ExportError, match="No space left on device.*previous files are unchanged"):
        ex.write_files_atomically(out, {"a.csv": b"new\n", "b.csv": b"new b\n"})
    assert seen == [(str(out), b"new\n")]
    assert (out / "a.csv").read_bytes() == b"old\n"
    assert (out / "b.csv").read_bytes() == b"old b\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv"]   # no temp left


def test_failed_write_of_second_file_replaces_neither(tmp_path, monkeypatch):
    out = tmp_path / "exports"
    ex.write_files_atomically(out, {"a.csv": b"old\n", "b.csv": b"old b\n"})
    real_fsync = os.fsync
    calls = []

    def fsync_failing_second(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real_fsync(fd)

    monkeypatch.setattr(ex.os, "fsync", fsync_failing_second)
    with pytest.raises(ExportError, match="Input/output error"):
        ex.write_files_atomically(out, {"a.csv": b"new\n", "b.csv": b"new b\n"})
    assert (out / "a.csv").read_bytes() == b"old\n"
    assert (out / "b.csv").read_bytes() == b"old b\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv"]


def test_out_path_that_is_a_file_is_refused(tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("keep")
    with pytest.raises(ExportError, match="is a file, not a directory"):
        ex.write_files_atomically(target, {"a.csv": b"x\n"})
    assert target.read_text() == "keep"


def test_count_columns_holding_fractions_are_not_truncated():
    # `deployments` is an integer column in the export, but a forecast table may hold 32.4
    whole = pd.DataFrame({"deployments": [92.0, None, 3.0]})
    assert _rows(ex.to_csv_bytes(whole))[1:] == [["92"], [""], ["3"]]
    forecast = pd.DataFrame({"deployments": [92.0, 32.4, None]})
    assert _rows(ex.to_csv_bytes(forecast))[1:] == [["92.00"], ["32.40"], [""]]
