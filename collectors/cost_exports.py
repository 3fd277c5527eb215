"""Billing exports into ``costs``: AWS CUR 2.0 (Parquet, or CSV) and FOCUS 1.0–1.2 (CSV, gzip/zstd CSV
or Parquet) from any provider (AWS ``FOCUS_1_0_AWS``/``FOCUS_1_2_AWS`` data exports, Azure, GCP, OCI).

A thin shell kept so ``cadence ingest costs FILE|FOLDER|s3://bucket/prefix/`` (collectors/files/
hands these formats here) keeps its contract; the work is in ``collectors.aws_exports``: the
set-wise, memory-bounded DuckDB path (``local``) and the S3 reader (``s3``). A file's rows replace
what the same source held for the same providers, billing accounts and days of each month, so an
ingest re-runs without duplicates; a bad file writes nothing. ``cadence sync aws-exports`` is the
incremental S3 path (per billing period, by ETag).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import duckdb

from cadence.core.config import Config
from collectors.aws_exports.local import (
    DATA_SUFFIXES,
    SOURCE_CUR,
    SOURCE_FOCUS,
    detect_format,
    ingest_files,
    local_files,
)
from cadence.core.settings.aws_exports import export_settings


def is_cost_export(source: str) -> bool:
    """True when ``source`` is for this module: s3://, Parquet, a folder, or a CSV with a FOCUS/CUR header."""
    if source.startswith("s3://") or source.lower().endswith(".parquet"):
        return True
    path = Path(source)
    if path.is_dir():
        return True
    if not path.is_file():
        return False
    try:
        con = duckdb.connect()
        cols = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_csv(?, all_varchar = true, header = true)",
                                          [str(path)]).fetchall()]
        con.close()
    except duckdb.Error:
        return False
    return detect_format(cols) is not None


def ingest_cost_export(db_path: str | Path, config: Config, source: str | Path, *, session=None) -> dict[str, Any]:
    """Load a CUR 2.0 or FOCUS export (file, folder or s3:// prefix) into ``costs``; all or nothing.

    Returns what was done: format, files, rows read and written, day range, providers, totals.
    """
    source = str(source)
    if not source.startswith("s3://"):
        return ingest_files(db_path, config, local_files(Path(source)), name=source)
    from collectors.aws_exports import s3

    root = export_settings(config).spill_root()
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cadence-export-s3-", dir=root) as tmp:
        files = s3.download_prefix(source, Path(tmp), session=session)
        return ingest_files(db_path, config, files, name=source)


__all__ = ["DATA_SUFFIXES", "SOURCE_CUR", "SOURCE_FOCUS", "detect_format", "ingest_cost_export", "is_cost_export"]
