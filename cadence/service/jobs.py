"""What ``cadence serve``'s scheduler runs: ``sync:<command>`` (each configured source of
``collectors.registry``, synced in this process) and ``export`` (``cadence export --last-week``
into ``export_dir``).

Each run is recorded in ``job_runs`` (``warehouse.runs``) and in the Prometheus metrics. A
sync's rows are the rows its report says it wrote. Reads in this process go through ``reading``:
a read-only connection held under the process's write lock, since DuckDB refuses a read-only
connection in a process that holds a read-write one to the same file (the webhook and the syncs
write from this process); other processes' readers are not held up.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cadence.core.config import Config, parse_config
from cadence.core.errors import CadenceError
from cadence.core.scrub import scrub
from warehouse import runs
from cadence.core.settings.schedule import Schedule
from warehouse import read_connection
from warehouse.db import _WRITE_LOCK, StoppingError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def reading(db_path: Path) -> Iterator:
    """A read-only connection for this process (see the module docstring)."""
    with _WRITE_LOCK, read_connection(db_path) as con:
        yield con


@dataclass(frozen=True)
class Job:
    name: str            # "sync:github", "export"
    cron: str
    command: str | None  # the sync command; None for the export


def planned_jobs(config: Config) -> list[Job]:
    """The jobs ``[schedule]`` asks for: one per configured source that has a cron, and the export."""
    from collectors import registry

    schedule = config.schedule or Schedule()
    jobs = []
    for source in registry.configured(config):
        cron = schedule.cron_for(source.command)
        if cron:
            jobs.append(Job(f"sync:{source.command}", cron, source.command))
    if schedule.export:
        jobs.append(Job("export", schedule.export, None))
    if config.notify is not None:   # issue 19: the digest weekly, the alert check every few minutes
        if schedule.notify_digest:
            jobs.append(Job("notify:digest", schedule.notify_digest, None))
        if schedule.notify_check:
            jobs.append(Job("notify:check", schedule.notify_check, None))
    return jobs


def run_sync(db_path: Path, config_path: str | None, command: str) -> int:
    """Sync the source of ``cadence sync <command>`` in this process (a library call through the
    source registry); returns the rows it wrote. Raises CadenceError (or any other exception) when
    it fails, also when only some of its scopes failed."""
    from cadence.core.config import load_config
    from collectors import registry

    source = registry.by_command(command)
    if source is None:
        raise CadenceError(f"this Cadence has no `cadence sync {command}`")
    report = source.run(db_path, load_config(config_path))
    # The collector's report lines go to the log (stderr), as a cron job's output would.
    for line in report.lines():
        log.info("sync %s: %s", command, line)
    report.raise_for_errors()
    return report.rows_written


def _effective(config: Config, con) -> Config:
    """``warehouse.meta.effective_config`` on an open connection (the demo's teams when none are set)."""
    if config.teams:
        return config
    from warehouse.upsert import get_meta

    raw = get_meta(con, "demo_config")
    if not raw:
        return config
    demo = parse_config(json.loads(raw))
    return Config(**{**config.__dict__, "teams": demo.teams,
                     "cost_allocation": config.cost_allocation or demo.cost_allocation})


def run_export(db_path: Path, config_path: str | None) -> int:
    """``cadence export --last-week --out <export_dir>``; returns the metric rows written."""
    from cadence.core.config import load_config
    from metrics.export import build_export, export_file_names, last_complete_week, write_files_atomically

    config = load_config(config_path)
    out = (config.schedule or Schedule()).export_dir
    label = last_complete_week()
    with reading(db_path) as con:
        result = build_export(con, _effective(config, con), label, by="team")
    names = export_file_names(result.label)
    written = write_files_atomically(out, {names[t]: result.payloads[t] for t in ("metrics", "changes")})
    log.info("export: wrote %s", ", ".join(str(p) for p in written))
    return len(result.tables["metrics"])


def run_notify(db_path: Path, config_path: str | None, what: str) -> int:
    """``cadence notify digest --last-week`` (``what`` "digest") or ``cadence notify check`` ("check"),
    in this process; returns the messages sent. A channel that failed is a failed run (its delivery
    is recorded by cadence.notify and retried at the next check)."""
    from cadence.core.config import load_config
    from cadence.notify.service import scheduled_check, scheduled_digest

    config = load_config(config_path)
    with reading(db_path) as con:
        config = _effective(config, con)
    if what == "digest":
        outcomes = scheduled_digest(db_path, config)
    else:
        report = scheduled_check(db_path, config)
        outcomes = report.outcomes if report is not None else []
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        raise CadenceError(f"notify {what}: {len(failed)} of {len(outcomes)} sends failed (Data health, "
                           "Notifications, has each error; they are retried at the next check)")
    return sum(o.status == "sent" for o in outcomes)


class Runner:
    """Runs jobs and records them. ``running`` maps a job to its open run id (for shutdown)."""

    def __init__(self, db_path: Path, config_path: str | None, telemetry=None) -> None:
        self.db_path = Path(db_path)
        self.config_path = config_path
        self.telemetry = telemetry
        self.running: dict[str, str] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def __call__(self, job: Job, trigger: str = "schedule") -> str:
        """Run ``job`` once; returns the outcome."""
        try:
            run_id = runs.start_run(self.db_path, job.name, trigger)
        except CadenceError as exc:
            log.error("job %s: could not record its start, not run: %s", job.name, exc)
            return "failed"
        with self.lock:
            self.running[job.name] = run_id
        started = time.monotonic()
        outcome, rows, message = "success", None, None
        log.info("job %s: started (%s)", job.name, trigger)
        try:
            if job.command:
                rows = run_sync(self.db_path, self.config_path, job.command)
            elif job.name.startswith("notify:"):
                rows = run_notify(self.db_path, self.config_path, job.name.split(":", 1)[1])
            else:
                rows = run_export(self.db_path, self.config_path)
        except StoppingError:
            outcome, message = "interrupted", "the service stopped during the run; nothing after its last " \
                                              "committed transaction was written"
        except BaseException as exc:   # noqa: BLE001  a failing job must never end the scheduler
            outcome = "interrupted" if self.stopping.is_set() else "failed"
            message = scrub(str(exc) if isinstance(exc, CadenceError) else f"{type(exc).__name__}: {exc}")
            log.debug("job %s failed", job.name, exc_info=True)
        seconds = time.monotonic() - started
        with self.lock:
            if self.running.get(job.name) != run_id:   # closed by the shutdown already
                return outcome
            self.running.pop(job.name, None)
        finished = runs.utcnow()
        try:
            runs.finish_run(self.db_path, run_id, outcome, rows=rows, message=message, now=finished)
        except CadenceError as exc:
            log.error("job %s: could not record its end: %s", job.name, exc)
        if self.telemetry is not None:
            self.telemetry.run_finished(job.name, outcome, seconds, rows, finished)
        level = logging.INFO if outcome == "success" else logging.ERROR
        log.log(level, "job %s: %s in %.1f s%s%s", job.name, outcome, seconds,
                f", {rows} rows" if rows is not None else "", f": {message}" if message else "")
        return outcome

    def close_open_runs(self, lock_wait_seconds: float) -> list[str]:
        """At shutdown: mark the runs still going as interrupted; returns their jobs."""
        with self.lock:
            open_runs, self.running = dict(self.running), {}
        for job, run_id in open_runs.items():
            try:
                runs.finish_run(self.db_path, run_id, "interrupted", lock_wait_seconds=lock_wait_seconds,
                                message="the service stopped during the run; its committed transactions "
                                        "were kept, the one in progress rolled back", _when_stopping=True)
            except CadenceError as exc:
                log.error("job %s: could not record the interruption (closed at the next start): %s", job, exc)
            if self.telemetry is not None:
                self.telemetry.run_finished(job, "interrupted", None, None, None)
        return list(open_runs)
