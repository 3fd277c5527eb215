"""What each kind of input is: its columns (declared in ``columns.toml``), the table it fills, and
the values its status-like columns accept."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

KINDS = ("deployments", "changes", "incidents", "costs", "sli", "pipeline_runs", "pipeline_jobs")
NOUNS = {"sli": "SLI hour", "pipeline_runs": "pipeline run attempt", "pipeline_jobs": "pipeline job"}   # one record of a kind, where not the kind minus its "s"
MAX_SHOWN = 20            # problems listed in an error message; the rest are counted
PER_CHECK = 5             # offending lines collected per check
# JSON records (webhook bodies, JSON Lines): a record names a few dozen columns at most, so these
# bounds refuse only hostile or broken input, and keep its cost linear (docs/ingest.md).
MAX_KEYS_PER_RECORD = 500
MAX_NESTING = 32          # arrays/objects inside one another, the record itself counting as 1
NAMES_SHOWN = 20          # unknown or given column names listed in a message; the rest are counted
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz")

# Deployment statuses as stored (the metrics count status = 'success'), and common spellings.
STATUSES = ("success", "failure", "error", "cancelled", "in_progress", "queued", "pending",
            "inactive", "skipped")
STATUS_SYNONYMS = {"succeeded": "success", "successful": "success", "ok": "success",
                   "passed": "success", "failed": "failure", "canceled": "cancelled",
                   "aborted": "cancelled", "running": "in_progress"}
# CI attempt and job conclusions as stored (GitHub Actions' words; metrics/pipelines.py reads them),
# and how other CI systems spell them (Jenkins: SUCCESS/FAILURE/ABORTED/UNSTABLE; CircleCI: failed,
# canceled; Buildkite: passed, failed, canceled).
CONCLUSIONS = ("success", "failure", "cancelled", "skipped", "timed_out", "neutral", "action_required",
               "startup_failure", "stale")
CONCLUSION_SYNONYMS = {"succeeded": "success", "successful": "success", "passed": "success", "ok": "success",
                       "fixed": "success", "failed": "failure", "error": "failure", "errored": "failure",
                       "unstable": "failure", "broken": "failure", "infrastructure_fail": "failure",
                       "canceled": "cancelled", "aborted": "cancelled", "not_run": "skipped",
                       "not_built": "skipped", "timedout": "timed_out", "timeout": "timed_out"}
RUN_STATUSES = ("queued", "in_progress", "completed")
RUNNER_OSES = ("linux", "windows", "macos")
UNKNOWN_PROVIDER = "unknown"
RESERVED_TEAMS = ("shared", "unallocated")


@dataclass(frozen=True)
class Col:
    """One input column: the warehouse column it fills, its type, and the names it is known by."""

    name: str
    type: str                     # key, text, ts, date, int, float, bool, list, json, status
    required: bool = False
    aliases: tuple[str, ...] = ()
    doc: str = ""



def _read_specs() -> dict[str, tuple[Col, ...]]:
    with (Path(__file__).parent / "columns.toml").open("rb") as fh:
        declared = tomllib.load(fh)
    return {kind: tuple(Col(c["name"], c["type"], c.get("required", False), tuple(c.get("aliases", ())),
                            c.get("doc", "")) for c in cols) for kind, cols in declared.items()}


SPECS: dict[str, tuple[Col, ...]] = _read_specs()

TABLES = {"deployments": "deployments", "changes": "changes", "incidents": "incidents", "costs": "costs",
          "sli": "sli_hours", "pipeline_runs": "pipeline_runs", "pipeline_jobs": "pipeline_jobs"}
# Natural keys of the pipeline kinds as the input spells them (one row per key per input).
PIPELINE_KEYS = {"pipeline_runs": ["id", "attempt"], "pipeline_jobs": ["run_id", "attempt", "name"]}
LIST_COLUMNS = {"labels", "runner_labels"}   # warehouse list columns (updated apart: see _upsert)

NESTING_REASON = (f"nested more than {MAX_NESTING} levels deep; a record is a flat object of columns "
                  f"(a list is one array of strings, tags one object)")


def normalize_name(name: str) -> str:
    """A header or key as matched against column names and aliases: trimmed, lower case, ``_`` for
    spaces and dashes."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())
