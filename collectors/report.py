"""The one report every source's ``sync`` returns: what it wrote, what it asked, what went wrong.

The CLI prints it (``format()`` is the text ``cadence sync X`` prints), ``cadence export --sync``
and ``cadence serve`` log it, and a test can read its fields instead of parsing text. A collector
with its own richer report keeps it in ``detail``; the adapters in ``collectors.adapters`` build
this one from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cadence.core.errors import SourceError


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SyncReport:
    """One run of one source.

    ``summary`` holds the lines the CLI prints (on ``stream``), ``warnings`` the lines that go to
    stderr after them (flagged scopes, skipped parts). ``errors`` maps a scope that failed to its
    message while the others were written; ``failure`` is the one-line error the CLI exits with
    then (``raise_for_errors``).
    """

    source: str
    rows: dict[str, int] = field(default_factory=dict)     # table -> rows written
    requests: int = 0
    summary: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)   # scope -> message
    failure: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    stream: Literal["stdout", "stderr"] = "stdout"
    detail: Any = field(default=None, repr=False)          # the collector's own report, if any

    @property
    def rows_written(self) -> int:
        return sum(self.rows.values())

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """Every line the CLI prints, summary first."""
        return [*self.summary, *self.warnings]

    def format(self) -> str:
        return "\n".join(self.lines())

    __str__ = format

    def raise_for_errors(self) -> None:
        """Raise ``SourceError`` when a scope failed (what did succeed is written already)."""
        if self.errors:
            scope, message = next(iter(self.errors.items()))
            raise SourceError(self.failure or f"{len(self.errors)} scope(s) of {self.source} failed; "
                                              f"first: {scope}: {message}")


__all__ = ["SyncReport", "utcnow"]
