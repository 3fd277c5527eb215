"""The one writer of CI pipeline rows (issue 18), for any source: GitHub Actions (collectors/
github/actions.py), and the GitLab pipelines a later collector adds. ``cadence ingest`` and the
webhook validate their own input (collectors/files/) and write through their staged path.

Rows are plain dicts with the columns of ``pipeline_runs`` / ``pipeline_jobs`` (docs/architecture.md);
conclusions are normalised to GitHub Actions' words (the ones metrics/sql/pipeline_facts.sql reads)
and runner OS to linux/windows/macos, so metric SQL never branches on the source.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from warehouse import upsert_rows
from collectors.files.schemas import CONCLUSION_SYNONYMS, CONCLUSIONS

RUN_COLUMNS = ("id", "attempt", "repo", "workflow", "branch", "sha", "event", "status", "conclusion",
               "created_at", "queued_at", "started_at", "finished_at", "url", "source")
JOB_COLUMNS = ("run_id", "attempt", "name", "runner_os", "runner_labels", "self_hosted", "queued_at",
               "started_at", "finished_at", "conclusion", "url", "source")


def normalize_conclusion(value: str | None) -> str | None:
    """GitHub's words (lower case); other CI systems' spellings mapped; unknown words kept."""
    if value is None or value == "":
        return None
    word = str(value).strip().lower()
    return word if word in CONCLUSIONS else CONCLUSION_SYNONYMS.get(word, word)


def runner_os_of(labels: Iterable[str], fallback: str | None = None) -> str | None:
    """linux / windows / macos from runner labels (``macos-14``, ``windows-latest``, ``ubuntu-*``,
    ``self-hosted, linux, x64``); ``fallback`` when no label says."""
    low = [str(x).lower() for x in labels or ()]
    prefixes = (("macos", ("macos", "osx")), ("windows", ("windows",)), ("linux", ("linux", "ubuntu", "debian")))
    for os_name, words in prefixes:
        if any(lbl.startswith(w) for lbl in low for w in words):
            return os_name
    return fallback


def write_pipeline_rows(con, runs: Iterable[Mapping], jobs: Iterable[Mapping] = ()) -> dict[str, int]:
    """Upsert run attempts and jobs on their keys in the caller's write transaction; idempotent."""
    run_rows = []
    for r in runs:
        row = {c: r.get(c) for c in RUN_COLUMNS}
        row["conclusion"] = normalize_conclusion(row["conclusion"])
        row["attempt"] = int(row["attempt"] or 1)
        run_rows.append(row)
    job_rows = []
    for j in jobs:
        row = {c: j.get(c) for c in JOB_COLUMNS}
        row["conclusion"] = normalize_conclusion(row["conclusion"])
        row["attempt"] = int(row["attempt"] or 1)
        row["runner_labels"] = list(row["runner_labels"] or [])
        row["self_hosted"] = bool(row["self_hosted"])
        row["runner_os"] = (row["runner_os"] or "").lower() or runner_os_of(row["runner_labels"])
        job_rows.append(row)
    return {"pipeline_runs": upsert_rows(con, "pipeline_runs", run_rows),
            "pipeline_jobs": upsert_rows(con, "pipeline_jobs", job_rows)}
