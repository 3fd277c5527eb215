"""``cadence ingest``: deployments, changes, incidents and costs from CSV or JSON Lines files, and
the same rules for JSON records (the webhook receiver).

How: DuckDB reads the input into a staging table in a private in-memory database (each row with
its line number; timestamps and numbers typed by the reader when every value parses), then one
pass of SQL builds the typed columns and a few set queries find every bad value, with its line.
Only when nothing is wrong does a single short transaction write the rows to the warehouse, so a
bad file changes nothing, and the file's lock is held only for the write. Rows are upserted on
the table's natural key: rows already present and unchanged are left alone, changed ones are
updated, new ones inserted. Ingesting the same file twice therefore leaves the same rows.

A large CSV into an empty table (the first load of a history) skips the staging: the same checks
run inside the one statement that reads the file into the table, and anything to report rolls it
back and sends the file through the staged path (``one_pass.one_pass_load``;
figures in docs/performance.md).

Columns, types and aliases are declared once, in ``columns.toml`` (read into ``SPECS``; docs/ingest.md
documents them).

Modules: ``schemas`` (kinds, columns, value rules), ``results`` (what an ingest reports),
``read`` (input files and records into a staging table), ``validate`` (header mapping and the
checking pass), ``check`` (the typed columns, the checks and the final rows), ``load`` (the write),
``one_pass`` (the large-file path) and ``ingest`` (``ingest_file``, ``ingest_records``).
"""

from collectors.files.ingest import ingest_file, ingest_records
from collectors.files.read import detect_format, json_nesting_exceeds, keep_repeated_keys
from collectors.files.results import IngestResult, Problem
from collectors.files.schemas import (CONCLUSION_SYNONYMS, CONCLUSIONS, KINDS, MAX_KEYS_PER_RECORD, MAX_NESTING,
                                      NESTING_REASON, NOUNS, SPECS, TABLES, Col)

__all__ = ["CONCLUSIONS", "CONCLUSION_SYNONYMS", "KINDS", "MAX_KEYS_PER_RECORD", "MAX_NESTING", "NESTING_REASON",
           "NOUNS", "SPECS", "TABLES", "Col", "IngestResult", "Problem", "detect_format", "ingest_file",
           "ingest_records", "json_nesting_exceeds", "keep_repeated_keys"]
