"""What an ingest reports: the problems found (each with its line or record) and, on success, the
counts and warnings."""

from __future__ import annotations

from dataclasses import dataclass, field

from cadence.core.errors import IngestError
from collectors.files.schemas import MAX_SHOWN, NAMES_SHOWN


@dataclass(frozen=True)
class Problem:
    """One finding: where (file line, or record index for JSON records), which column, why."""

    line: int | None          # line in the file (1 = header for CSV); None for records
    column: str | None
    reason: str
    row: int | None = None    # 0-based index of the record (ingest_records) or data row

    def where(self, name: str, records: bool) -> str:
        if records and self.row is not None:
            place = f"{name}: record {self.row + 1}"
        elif self.line is not None:
            place = f"{name}:{self.line}"
        else:
            place = name
        return f"{place}: {self.column}: {self.reason}" if self.column else f"{place}: {self.reason}"

    def as_dict(self) -> dict:
        return {"line": self.line, "row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class IngestResult:
    """What an ingest did: rows read, inserted, updated, links written, and any warnings."""

    kind: str
    source_name: str
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    links_written: int = 0
    warnings: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)   # per phase: read, check, write (one pass: load, …)

    @property
    def rows_written(self) -> int:
        return self.inserted + self.updated

    @property
    def unchanged(self) -> int:
        return self.rows_read - self.rows_written

    def as_dict(self) -> dict:
        return {"kind": self.kind, "source": self.source_name, "rows_read": self.rows_read,
                "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
                "links_written": self.links_written, "warnings": list(self.warnings),
                "ignored_columns": list(self.ignored_columns)}

    def summary(self) -> str:
        return (f"{self.kind} from {self.source_name}: {self.rows_read} rows read, {self.inserted} new, "
                f"{self.updated} updated, {self.unchanged} unchanged"
                + (f", {self.links_written} deployment-change links" if self.links_written else ""))


def fail(name: str, problems: list[Problem], *, records: bool = False, total: int | None = None) -> IngestError:
    problems = sorted(problems, key=lambda p: (p.line if p.line is not None else -1,
                                               p.row if p.row is not None else -1, p.column or ""))
    total = max(total or 0, len(problems))
    noun = "problem" if total == 1 else "problems"
    lines = [f"{name}: {total} {noun}; nothing was written. Fix the input and run again "
             f"(columns and formats: docs/ingest.md)."]
    lines += [p.where(name, records) for p in problems[:MAX_SHOWN]]
    if total > min(len(problems), MAX_SHOWN):
        lines.append(f"... and {total - min(len(problems), MAX_SHOWN)} more")
    return IngestError("\n".join(lines), problems)


def problem(records: bool, line: int, column: str | None, reason: str) -> Problem:
    """A problem at staged line ``line`` (for records the staged line is the record index + 1)."""
    if records:
        return Problem(None, column, reason, row=line - 1)
    return Problem(line, column, reason)


def names(names: list[str]) -> str:
    """Names for a message: the first NAMES_SHOWN, then how many more."""
    more = len(names) - NAMES_SHOWN
    return ", ".join(names[:NAMES_SHOWN]) + (f" and {more:,} more" if more > 0 else "")


def note_unknown(result: IngestResult, name: str, unknown: list[str]) -> None:
    if unknown:
        result.ignored_columns = unknown
        result.warnings.append(f"{name}: ignored unknown column(s) {names(unknown)} "
                               f"(known columns: docs/ingest.md)")


def note_warning(result: IngestResult, name: str, count: int, reason: str, where: list[int],
                  records: bool) -> None:
    """``count`` rows kept with a warning; ``where``: the first few lines (or record numbers)."""
    unit = ("record" if records else "line") + ("s" if len(where) > 1 else "")
    more = "" if count <= len(where) else f" and {count - len(where)} more"
    result.warnings.append(f"{name}: {count} row(s) {reason} ({unit} {', '.join(map(str, where))}{more})")


def json_kind(json_type: str | None) -> str:
    """DuckDB's JSON type names in JSON's own words."""
    return {"VARCHAR": "a string", "BIGINT": "a number", "UBIGINT": "a number", "DOUBLE": "a number",
            "BOOLEAN": "true/false", "ARRAY": "an array", "OBJECT": "an object", "NULL": "null"}.get(
        str(json_type), str(json_type).lower())
