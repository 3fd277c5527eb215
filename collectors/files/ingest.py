"""``ingest_file`` and ``ingest_records``: the two ways in (``cadence ingest``, the webhook)."""

from __future__ import annotations

import json
import os
import time

from cadence.core.config import Config, load_config
from cadence.core.errors import IngestError
from collectors.files.load import load
from collectors.files.one_pass import ONE_PASS_MIN_BYTES, one_pass_load
from collectors.files.read import (check_kind, detect_format, has_nul_byte, memory, read_header, regular_file_size, stage_csv,
                                   stage_json_lines, stage_jsonl)
from collectors.files.results import IngestResult, Problem, fail
from collectors.files.schemas import NOUNS

def ingest_file(db_path: str | os.PathLike, kind: str, path: str | os.PathLike, *, config: Config | None = None,
                fmt: str | None = None, name: str | None = None, source: str = "ingest") -> IngestResult:
    """Validate a CSV or JSON Lines file of ``kind`` and upsert it; all or nothing.

    ``name`` is what messages call the file (default: the path as given). Raises IngestError
    naming file, line, column and reason for every kind of fault found; nothing is written then.
    """
    check_kind(kind)
    path = str(path)
    name = name or path
    config = config if config is not None else load_config()
    size = regular_file_size(path, name)
    fmt = detect_format(path, fmt)
    started = time.perf_counter()
    mem = memory()
    try:
        if fmt == "csv":
            if size == 0:
                raise IngestError(f"{name}: the file is empty; expected a header line naming the columns "
                                  f"(see docs/ingest.md). Nothing was written.")
            # NUL characters are refused. An uncompressed file is searched for a NUL byte at memory
            # speed; only when it has one (or is compressed) do the per-value checks run.
            gz = path.lower().endswith(".gz")
            has_nul = not gz and has_nul_byte(path)
            if size >= ONE_PASS_MIN_BYTES and not has_nul:
                done = one_pass_load(db_path, kind, path, name, config, source, read_header(path, name), started,
                                      nul_check=gz)
                if done is not None:
                    return done
            header, pretyped = stage_csv(mem, path, name, kind)
            return load(db_path, kind, mem, header, "csv", name, config, source, records=False, started=started,
                         pretyped=pretyped, nul_check=gz or has_nul)
        header = stage_jsonl(mem, path, name, kind)
        return load(db_path, kind, mem, header, "json", name, config, source, records=False, started=started)
    finally:
        mem.close()


def ingest_records(db_path: str | os.PathLike, kind: str, records: list[dict], source_name: str = "webhook",
                   *, config: Config | None = None) -> IngestResult:
    """Validate JSON-like records (dicts with the columns of ``cadence ingest``) and upsert them.

    The same rules as a JSON Lines file: record ``i`` is reported as ``record i+1``. Raises
    IngestError (``.problems``: ``Problem(line=None, column, reason, row=index)``) and writes
    nothing when any record is bad. The rows' ``source`` is ``source_name``.
    """
    check_kind(kind)
    if not records:
        raise IngestError(f"{source_name}: no records; send at least one {NOUNS.get(kind, kind[:-1])} object.")
    lines = []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise fail(source_name, [Problem(None, None, f"must be a JSON object, got {type(rec).__name__}", row=i)],
                        records=True)
        lines.append(json.dumps(rec, default=str, allow_nan=True))
    import pandas as pd

    config = config if config is not None else (load_config() if kind in ("costs", "sli") else Config())
    started = time.perf_counter()
    mem = memory()
    try:
        mem.register("lines_df", pd.DataFrame({"_line": range(1, len(lines) + 1), "j": lines}))
        mem.execute("CREATE TEMP TABLE lines AS SELECT _line::BIGINT AS _line, j::VARCHAR AS j FROM lines_df")
        mem.unregister("lines_df")
        header = stage_json_lines(mem, source_name, records=True, kind=kind)
        return load(db_path, kind, mem, header, "json", source_name, config, source_name, records=True,
                     started=started)
    finally:
        mem.close()
