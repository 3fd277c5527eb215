"""Issue 13, item 11: ingest and export messages that pointed the wrong way.

Each message names the file, the line where known, the problem and what to do next.
"""

from __future__ import annotations

import gzip
import os
import threading

import duckdb
import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import ExportError, IngestError
from metrics.export import write_files_atomically
from collectors.files import ingest_file

HEADER = b"id,repo,environment,status,finished_at\n"
ROW = b"ci:%d,shop/api,production,success,2026-03-01T00:00:00Z\n"
JSON_ROW = (b'{"id": "ci:%d", "repo": "shop/api", "environment": "production", "status": "success", '
            b'"finished_at": "2026-03-01T00:00:00Z"}\n')


def refused(db_path, path, kind="deployments") -> str:
    with pytest.raises(IngestError) as info:
        ingest_file(db_path, kind, path, config=parse_config({}))
    with duckdb.connect(str(db_path), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM deployments").fetchone() == (0,), "nothing may be written"
    return str(info.value)


def test_a_gz_file_that_is_not_gzip_says_so(db_path, tmp_path):
    path = tmp_path / "deploys.csv.gz"
    path.write_bytes(HEADER + ROW % 1)             # plain text under a .gz name
    msg = refused(db_path, path)
    assert "None" not in msg
    assert msg == (f"{path}: not a gzip file, although its name ends in .gz; compress it with gzip, "
                   f"or remove .gz from the name if it is plain text. Nothing was written.")
    jsonl = tmp_path / "deploys.jsonl.gz"
    jsonl.write_bytes(JSON_ROW % 1)
    assert refused(db_path, jsonl).startswith(f"{jsonl}: not a gzip file, although its name ends in .gz;")


def test_a_truncated_gz_file_says_so(db_path, tmp_path):
    path = tmp_path / "deploys.csv.gz"
    whole = gzip.compress(HEADER + b"".join(ROW % n for n in range(2000)))
    path.write_bytes(whole[: len(whole) // 2])
    msg = refused(db_path, path)
    assert "None" not in msg
    assert f"{path}: " in msg and "gzip" in msg and "truncated" in msg


def test_a_directory_is_not_reported_as_missing(db_path, tmp_path):
    folder = tmp_path / "deploys.csv"
    folder.mkdir()
    msg = refused(db_path, folder)
    assert "no such file" not in msg
    assert msg == f"{folder}: is a directory, not a file; give the path of a CSV or JSON Lines file."


def test_a_fifo_is_not_reported_as_missing(db_path, tmp_path):
    fifo = tmp_path / "deploys.csv"
    os.mkfifo(fifo)
    msg = refused(db_path, fifo)
    assert "no such file" not in msg
    assert msg == (f"{fifo}: is a pipe, not a regular file, and an ingest reads its file more than once; "
                   f"write it to a file first (`cadence ingest` does that itself).")


def test_the_cli_reads_a_fifo_like_standard_input(db_path, tmp_path, capsys):
    # `cadence ingest deployments <(generate)` hands the command a pipe: it is read once, like -.
    fifo = tmp_path / "deploys.csv"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as out:    # blocks until the command opens the pipe for reading
            out.write(HEADER + ROW % 1 + ROW % 2)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    assert main(["--db", str(db_path), "ingest", "deployments", str(fifo)]) == 0, capsys.readouterr().err
    writer.join(10)
    assert f"deployments from {fifo}: 2 rows read, 2 new" in capsys.readouterr().out


def test_a_line_longer_than_the_reader_takes_says_so(db_path, tmp_path):
    path = tmp_path / "long.csv"
    long_line = b"ci:2,shop/api,production,success," + b"x" * 20_000_000    # a 20 MB field
    path.write_bytes(HEADER + ROW % 1 + long_line + b"\n")
    msg = refused(db_path, path)
    lines = msg.splitlines()
    assert len(msg) < 2000, "the message must not carry the 20 MB line"
    assert lines[1] == (f"{path}:3: the line is {len(long_line):,} bytes long; a line may have at most 2,000,000 "
                        f"bytes: shorten its values (or look for an unclosed quote that runs lines together)")


def test_a_bad_byte_on_line_3_is_reported_on_line_3(db_path, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(HEADER + ROW % 1 + b"ci:2,caf\xe9/api,production,success,2026-03-01T00:00:00Z\n")
    msg = refused(db_path, path)
    assert f"{path}:1:" not in msg
    assert (f"{path}:3: not UTF-8 text (a byte such as Latin-1 or Windows-1252 writes); save the file as "
            f"UTF-8") in msg


def test_a_bad_byte_in_the_header_is_reported_on_line_1(db_path, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"id,repo,environment,status,finished_at,caf\xe9\n" + ROW % 1)
    msg = refused(db_path, path)
    assert msg.startswith(f"{path}:1: not UTF-8 text")


def test_invalid_utf8_in_jsonl_names_the_line(db_path, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(JSON_ROW % 1 + JSON_ROW % 2 + b'{"id": "ci:3", "repo": "caf\xe9"}\n')
    msg = refused(db_path, path)
    assert (f"{path}:3: not UTF-8 text (a byte such as Latin-1 or Windows-1252 writes); save the file as "
            f"UTF-8") in msg


# -- the export's rename message tells the truth ------------------------------------------------------

def test_export_failing_at_the_first_rename_says_nothing_was_replaced(tmp_path):
    out = tmp_path / "out"
    (out / "a.csv").mkdir(parents=True)       # a directory where the first file goes: its rename fails
    (out / "a.csv" / "keep").write_text("x")
    (out / "b.csv").write_text("old b\n")
    with pytest.raises(ExportError) as info:
        write_files_atomically(out, {"a.csv": b"new a\n", "b.csv": b"new b\n"})
    msg = str(info.value)
    assert "already replaced" not in msg
    assert "the previous files are unchanged" in msg     # true here: no file was replaced
    assert (out / "b.csv").read_text() == "old b\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv"]     # no temp file left


def test_export_failing_after_a_rename_names_what_was_and_was_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old a\n")
    (out / "b.csv").mkdir()                   # the second rename fails
    (out / "b.csv" / "keep").write_text("x")
    with pytest.raises(ExportError) as info:
        write_files_atomically(out, {"a.csv": b"new a\n", "b.csv": b"new b\n"})
    msg = str(info.value)
    assert "previous files are unchanged" not in msg          # a.csv was replaced: that would be untrue
    assert "a.csv was replaced; b.csv was not (it keeps its previous content)" in msg
    assert "run the export again" in msg
    assert (out / "a.csv").read_text() == "new a\n"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv"]
