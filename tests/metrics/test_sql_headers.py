"""Every SQL file outside migrations and test fixtures opens with a header comment that has a
``Definition:`` line (STYLE.md: the definition in one sentence, then grain, units, inputs), helpers
and collector queries included, so a reader never has to infer what a query means from its code."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".venv", ".git", "migrations", "tests", "node_modules", "build", "dist"}


def sql_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.sql")
                  if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts[:-1]))


def header(text: str) -> list[str]:
    """The comment lines the file opens with (leading blank lines skipped)."""
    lines = []
    for line in text.lstrip().splitlines():
        if not line.startswith("--"):
            break
        lines.append(line[2:].strip())
    return lines


def test_the_search_finds_the_query_files():
    found = {p.relative_to(ROOT).as_posix() for p in sql_files()}
    assert {"metrics/sql/dora_metrics.sql", "metrics/sql/cost_shared_split.sql",
            "metrics/sql/valid_rows.sql"} <= found
    assert any(p.startswith("collectors/") for p in found)
    assert not any("/migrations/" in p or p.startswith("tests/") for p in found)


@pytest.mark.parametrize("path", sql_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_sql_file_opens_with_a_definition(path):
    lines = header(path.read_text(encoding="utf-8"))
    assert lines, (f"{path.relative_to(ROOT)}: no header comment; open it with -- lines: what it is, "
                   f"Definition:, Grain:, Units:, Inputs:")
    assert any(line.startswith("Definition:") for line in lines), (
        f"{path.relative_to(ROOT)}: the header comment has no 'Definition:' line; add one sentence saying "
        f"what a row of it means")


def test_header_check_fails_without_definition():
    assert header("-- Cost lines.\n-- Grain: a row.\nSELECT 1") == ["Cost lines.", "Grain: a row."]
    assert not any(line.startswith("Definition:") for line in header("-- Cost lines.\nSELECT 1"))
    assert header("SELECT 1 -- Definition: not a header") == []
