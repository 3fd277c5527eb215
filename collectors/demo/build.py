"""``build_demo``: every demo table generated, then written through ``upsert_rows`` into a file
beside the target that replaces it atomically."""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.meta import is_demo_database
from cadence.core.clock import utcnow
from cadence.core.errors import WarehouseError
from collectors.demo.cloud import build_cloud
from collectors.demo.common import Calendar, anchor_end
from collectors.demo.data import ORG, SOURCE, TEAMS, WEEKS
from collectors.demo.delivery import build_delivery
from collectors.demo.organisation import demo_config
from collectors.demo.pipelines import pipeline_rows
from collectors.demo.slo import sli_rows
from warehouse.db import write_connection
from warehouse.state import write_cursor
from warehouse.upsert import set_meta, upsert_rows

# The demo's one logger name (as before the package split).
log = logging.getLogger(__package__)


def demo_tables(seed: int = 42, today: date | None = None) -> tuple[dict[str, pd.DataFrame], Calendar]:
    """Every demo table as a DataFrame (no database involved); deterministic in seed and today."""
    end = anchor_end(today or utcnow().date())   # CADENCE_NOW pins it
    cal = Calendar(start=end - timedelta(days=7 * WEEKS - 1), days=7 * WEEKS)
    rng = np.random.default_rng(seed)
    tables = build_delivery(rng, cal)
    tables.update(build_cloud(rng, cal))
    return tables, cal


def _remove(path: Path) -> None:
    for p in (path, Path(f"{path}.wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def build_demo(path: str | os.PathLike, seed: int = 42, today: date | None = None, *,
               force: bool = False) -> dict[str, int]:
    """Write the demo warehouse to ``path``, replacing it atomically; returns rows per table.

    ``today`` fixes the end of the twelve months (the Sunday before it); None means the real
    today, which only the CLI and ``make run`` should rely on. An existing file that is not a demo
    database is left alone unless ``force`` is set: real data is never overwritten by accident.
    """
    path = Path(path)
    if path.exists() and not force and not is_demo_database(path):
        raise WarehouseError(
            f'"{path}" exists and is not a Cadence demo database; refusing to replace it with demo '
            f"data. Choose another path with --db, or pass --force to overwrite it.")
    started = time.perf_counter()
    tables, cal = demo_tables(seed, today)
    generated = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.building"
    _remove(tmp)
    counts: dict[str, int] = {}
    try:
        with write_connection(tmp) as con:
            for table in ("deployments", "changes", "deployment_changes", "incidents", "costs",
                          "utilization", "commitments"):
                counts[table] = upsert_rows(con, table, tables[table])
            # The SLIs draw from their own generator (seed, 17), so the tables above are as before.
            counts["sli_hours"] = upsert_rows(con, "sli_hours", sli_rows(tables["incidents"], cal.start, cal.days, seed))
            # CI runs (issue 18): their own generator
            runs, jobs = pipeline_rows(ORG, TEAMS, cal.start, cal.days, seed)
            counts["pipeline_runs"] = upsert_rows(con, "pipeline_runs", runs)
            counts["pipeline_jobs"] = upsert_rows(con, "pipeline_jobs", jobs)
            set_meta(con, "is_demo", "true")
            set_meta(con, "demo_config", json.dumps(demo_config(), sort_keys=True))
            set_meta(con, "demo_seed", str(seed))
            set_meta(con, "demo_end_date", (cal.start + timedelta(days=cal.days - 1)).isoformat())
            last = datetime.combine(cal.start + timedelta(days=cal.days - 1), datetime.max.time()).replace(microsecond=0)
            write_cursor(con, SOURCE, "all", last.isoformat(), rows_written=sum(counts.values()), now=last)
        _remove(Path(f"{path}.wal"))  # a stale log must not be replayed into the new file
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    log.info("demo: %s rows in %.1f s (generate %.1f s) at %s, seed %d, ending %s",
             ", ".join(f"{n} {t}" for t, n in counts.items()), time.perf_counter() - started,
             generated - started, path, seed, cal.start + timedelta(days=cal.days - 1))
    return counts
