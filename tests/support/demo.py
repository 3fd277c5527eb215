"""The demo warehouse shared by the whole test run.

``collectors.demo.build_demo`` takes seconds (more on a busy machine) and was run by a dozen modules,
each for the same seed and day. Here it runs once per (seed, today) per test run: the first pytest
process that needs it builds it into the run's shared temporary folder under a file lock (xdist's
workers share that folder), and each process then works on its own copy of the file. Tests that
only read use that copy as is (``demo_warehouse``); tests that write take a private copy
(``demo_warehouse_copy``, or ``copy_demo``), which is a file copy, not a rebuild."""

from __future__ import annotations

import fcntl
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

DEMO_SEED = 42
# The demo's fixed "today" in every dashboard test, benchmark and screenshot: the demo ends on the
# Sunday before it, 2026-11-15 (its last week is 2026-W46).
DEMO_TODAY = date(2026, 11, 20)

_local: dict[tuple[int, date], Path] = {}


def _run_folder(factory: pytest.TempPathFactory) -> Path:
    """The folder every process of this run shares: under xdist, the parent of the workers' own."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_demo(factory: pytest.TempPathFactory, today: date = DEMO_TODAY, seed: int = DEMO_SEED) -> Path:
    """This process's copy of the demo warehouse for ``seed`` and ``today``; built once per run.

    Read it only: every test in this process that asks for the same demo gets the same file."""
    key = (seed, today)
    if key not in _local:
        name = f"demo-{seed}-{today.isoformat()}.duckdb"
        built = _run_folder(factory) / name
        with open(built.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)        # one builder; the others wait for its file
            if not built.exists():
                from collectors.demo import build_demo

                build_demo(built, seed=seed, today=today)   # written to a temporary name, then renamed
        local = factory.mktemp("demo") / name
        shutil.copyfile(built, local)
        _local[key] = local
    return _local[key]


def copy_demo(source: Path, folder: Path) -> Path:
    """A private, writable copy of a demo warehouse file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / source.name
    shutil.copyfile(source, target)
    return target


# The dashboard's default view of that demo: "Last 12 weeks" up to its last day, Sunday 2026-11-15,
# i.e. from the Monday 11 weeks before that week's Monday 2026-11-09: 2026-08-24.
DEFAULT_START, DEFAULT_END = date(2026, 8, 24), date(2026, 11, 15)


def expected_dora(db: Path, start: date, end: date, **kw):
    """The DORA row the dashboard should show for ``start``..``end`` on ``db`` (metrics/, 2024 bands)."""
    from warehouse.meta import effective_config
    from cadence.core.config import load_config
    from metrics import dora_metrics
    from warehouse import read_connection

    cfg = effective_config(load_config(None), db)
    with read_connection(db) as con:
        return dora_metrics(con, cfg, start, end, period="total", benchmark="2024", **kw).iloc[0]
