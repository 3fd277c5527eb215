"""Issue 13, item 7: a date option outside the dates Cadence can compute with is one clear line
and exit status 2 (a usage error), never an OverflowError traceback. Every date option of the CLI
goes through one check (``cadence.cli.DAY``, ``cadence.core.timerange``), in a real subprocess as a
user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from cadence.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
CADENCE = Path(sys.executable).parent / "cadence"   # the console script, as installed


def cadence(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(CADENCE), *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [
    ["metrics", "--start", "9999-12-01", "--end", "9999-12-31"],
    ["drilldown", "changes", "--start", "9999-12-01", "--end", "9999-12-31"],
])
def test_metrics_and_drilldown_far_future_is_one_clear_line(db_path, args):
    done = cadence("--db", str(db_path), *args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("Error")]
    assert len(lines) == 1, done.stderr
    assert "--start" in lines[0] and "9999-12-01" in lines[0]
    assert "1970-01-01 to 9998-12-31" in lines[0]


@pytest.mark.parametrize(("args", "option", "value"), [
    (["metrics", "--start", "2026-11-01", "--end", "9999-12-31"], "--end", "9999-12-31"),
    (["metrics", "--start", "0001-01-01", "--end", "2026-11-30"], "--start", "0001-01-01"),
    (["drilldown", "incidents", "--start", "1969-12-31", "--end", "2026-11-30"], "--start", "1969-12-31"),
    (["sync", "pagerduty", "--since", "0001-01-01"], "--since", "0001-01-01"),
])
def test_every_date_option_is_checked_in_one_place(db_path, capsys, args, option, value):
    code = main(["--db", str(db_path), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"Invalid value for '{option}'" in err and value in err
    assert "1970-01-01 to 9998-12-31" in err


def test_a_pinned_now_past_the_last_accepted_day_says_so(db_path, capsys, pin_now):
    pin_now("9999-12-31T12:00:00Z")   # a Friday in 9999-W52: --last-week is 9999-W51, past 9998-12-31
    code = main(["--db", str(db_path), "export", "--last-week", "--out", "-"])
    err = capsys.readouterr().err
    assert code == 1
    assert "9999-W51" in err and "1970-01-01 to 9998-12-31" in err


def test_a_week_past_the_last_accepted_day_says_so(db_path, capsys):
    # Before: 'Week "9999-W52" does not exist: ISO year 9999 has weeks W01 to W52' (it names the
    # very week it refuses).
    code = main(["--db", str(db_path), "export", "--week", "9999-W52", "--out", "-"])
    err = capsys.readouterr().err
    assert code == 1
    assert "9999-W52" in err and "1970-01-01 to 9998-12-31" in err
    assert "has weeks W01 to W52" not in err


def test_the_edges_of_the_accepted_range_compute(db_path, capsys):
    for start, end in (("9998-12-01", "9998-12-31"), ("1970-01-01", "1970-01-31")):
        code = main(["--db", str(db_path), "metrics", "--start", start, "--end", end, "--period", "month",
                     "--format", "csv"])
        out = capsys.readouterr()
        assert code == 0, out.err
        assert out.out.startswith("scope,period_start,deployments")
    code = main(["--db", str(db_path), "export", "--week", "9998-W52", "--out", "-"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.startswith("period,period_start,scope")
