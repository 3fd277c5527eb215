"""Progress of a sync that reads several scopes (repositories) in parallel, for the CLI.

On a terminal, one progress bar per scope in flight (rich); a finished scope leaves one line above
the bars, so an organisation of hundreds of repositories never needs more rows than the sync's
parallelism. Elsewhere (CI, cron, a pipe), one plain timestamped line per event, which reads well
in a log file. Both are the callable a collector takes: ``progress(scope, message, state)`` with
``state`` in start | page | done | failed | skipped (see ``collectors.github.ProgressFn``).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

STATUS_WIDTH = 70   # a long failure message is cut in the bar; the full one is printed when it ends


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LineProgress:
    """One line per event: ``2026-03-20T12:00:05Z github shop/api: page 1: 2 changes, ...``."""

    def __init__(self, source: str, stream: TextIO, *, clock: Callable[[], str] = _utc_stamp,
                 states: frozenset[str] | None = None):
        self.source = source
        self.stream = stream
        self.clock = clock
        self.states = states   # None: every event; else only these states (``-q``: failures)
        self._lock = threading.Lock()

    def __call__(self, scope: str, message: str, state: str = "page") -> None:
        if self.states is not None and state not in self.states:
            return
        with self._lock:
            self.stream.write(f"{self.clock()} {self.source} {scope}: {message}\n")
            self.stream.flush()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        return None


class _ConsoleWriter:
    """A file-like target for log handlers while the bars are live: whole lines are printed above
    the bars instead of being drawn through them."""

    def __init__(self, console: Console):
        self.console = console
        self._buffer = ""

    def write(self, text: str) -> int:
        self._buffer += text
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            self.console.print(Text(line), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            self.console.print(Text(self._buffer), soft_wrap=True)
            self._buffer = ""


class BarProgress:
    """A bar per scope in flight (pulsing: the number of pages is not known ahead), its page count,
    latest counts and elapsed time; log lines written to the same stream go above the bars."""

    def __init__(self, source: str, stream: TextIO, *, width: int | None = None):
        self.source = source
        self.console = Console(file=stream, force_terminal=True, width=width)
        self.bars = Progress(
            TextColumn("{task.description}", markup=False, table_column=Column(no_wrap=True)),
            BarColumn(bar_width=24),
            TextColumn("pages: {task.completed:<3.0f}", table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[status]}", markup=False,
                       table_column=Column(no_wrap=True, overflow="ellipsis", max_width=STATUS_WIDTH)),
            TimeElapsedColumn(),
            console=self.console, transient=True, redirect_stdout=False, redirect_stderr=False,
        )
        self.stream = stream
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self._swapped: list[tuple[logging.StreamHandler, TextIO]] = []

    def __enter__(self) -> BarProgress:
        writer = _ConsoleWriter(self.console)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.stream:
                self._swapped.append((handler, handler.setStream(writer)))
        self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.stop()
        for handler, original in self._swapped:
            handler.setStream(original)
        self._swapped.clear()

    def __call__(self, scope: str, message: str, state: str = "page") -> None:
        with self._lock:
            task = self._tasks.get(scope)
            if task is None:
                task = self._tasks[scope] = self.bars.add_task(scope, total=None, status=message)
            if state == "page":
                self.bars.update(task, advance=1, status=message)
            elif state in ("done", "failed", "skipped"):
                pages = self.bars.tasks[self._index(task)].completed
                mark = {"done": "✔", "failed": "✘", "skipped": "–"}[state]
                self.bars.remove_task(task)
                del self._tasks[scope]
                self.console.print(Text(f"{mark} {self.source} {scope} (pages: {pages:.0f}): {message}"),
                                   soft_wrap=True)
            else:
                self.bars.update(task, status=message)
            self.bars.refresh()

    def _index(self, task: TaskID) -> int:
        return next(i for i, t in enumerate(self.bars.tasks) if t.id == task)


def open_progress(source: str, stream: TextIO | None = None, *, quiet: bool = False) -> LineProgress | BarProgress:
    """Bars when ``stream`` (default stderr) is a terminal, plain timestamped lines otherwise;
    ``quiet`` (the CLI's ``-q``): only a line for each scope that failed."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        return LineProgress(source, stream, states=frozenset({"failed"}))
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return BarProgress(source, stream)
    return LineProgress(source, stream)
