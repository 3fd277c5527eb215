"""The service's own Prometheus metrics (prometheus-client), served on ``GET /metrics`` of the
webhook port. One registry per worker process; the gauges (last success, last rows, last duration)
are seeded from ``job_runs`` at start, so a restarted worker does not report a source as never
synced; the counters start again from zero (Prometheus' ``rate()`` handles a counter reset).

Names (all prefixed ``cadence_``):

* ``sync_last_success_timestamp_seconds{source}``: end of the source's latest successful sync run.
* ``job_duration_seconds{job}`` (histogram) and ``job_last_duration_seconds{job}``,
  ``job_last_rows{job}``: how long runs take and what the latest run wrote.
* ``job_runs_total{job,outcome}``: runs by outcome (success, failed, interrupted, skipped).
* ``webhook_requests_total{route,outcome}``: requests to the webhook port by route and outcome
  (accepted, rejected, unauthorized, too_large, unavailable, error).
* ``warehouse_write_hold_seconds`` (histogram): how long each write of the worker held the file,
  the longest a dashboard reader could have waited behind it.
* ``warehouse_size_bytes``: the DuckDB file plus its WAL.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OUTCOME_OF_STATUS = {200: "accepted", 401: "unauthorized", 413: "too_large", 422: "rejected", 503: "unavailable"}


def _ts(at: datetime | None) -> float | None:
    from datetime import UTC

    return at.replace(tzinfo=UTC).timestamp() if at is not None else None


class Telemetry:
    def __init__(self, db_path: str | os.PathLike) -> None:
        self.db_path = Path(db_path)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.last_success = Gauge("cadence_sync_last_success_timestamp_seconds",
                                  "End of the latest successful sync run of a source (Unix time)", ["source"],
                                  registry=r)
        self.duration = Histogram("cadence_job_duration_seconds", "Duration of job runs", ["job"], registry=r,
                                  buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600))
        self.last_duration = Gauge("cadence_job_last_duration_seconds", "Duration of the latest run of a job",
                                   ["job"], registry=r)
        self.last_rows = Gauge("cadence_job_last_rows", "Rows written by the latest run of a job", ["job"],
                               registry=r)
        self.runs = Counter("cadence_job_runs", "Job runs by outcome", ["job", "outcome"], registry=r)
        self.webhook = Counter("cadence_webhook_requests", "Requests to the webhook port by route and outcome",
                               ["route", "outcome"], registry=r)
        self.write_hold = Histogram("cadence_warehouse_write_hold_seconds",
                                    "How long each write held the warehouse file (readers wait at most this)",
                                    registry=r, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
        size = Gauge("cadence_warehouse_size_bytes", "Size of the warehouse file and its WAL", registry=r)
        size.set_function(self.warehouse_size)

    def warehouse_size(self) -> float:
        total = 0
        for p in (self.db_path, Path(f"{self.db_path}.wal")):
            try:
                total += p.stat().st_size
            except OSError:
                pass
        return float(total)

    def seed(self, last_runs: dict[str, dict]) -> None:
        """The gauges as earlier workers left them (``runs.last_runs``): a restarted worker reports the
        last success, rows and duration recorded in ``job_runs``; counters start again from zero, as
        Prometheus expects of a restarted process."""
        for job, info in last_runs.items():
            if job.startswith("sync:") and info.get("last_success") is not None:
                self.last_success.labels(source=job.split(":", 1)[1]).set(_ts(info["last_success"]))
            if info.get("last_rows") is not None:
                self.last_rows.labels(job=job).set(info["last_rows"])
            if info.get("last_seconds") is not None:
                self.last_duration.labels(job=job).set(info["last_seconds"])

    def run_finished(self, job: str, outcome: str, seconds: float | None, rows: int | None,
                     finished: datetime | None) -> None:
        self.runs.labels(job=job, outcome=outcome).inc()
        if seconds is not None:
            self.duration.labels(job=job).observe(seconds)
            self.last_duration.labels(job=job).set(seconds)
        if rows is not None:
            self.last_rows.labels(job=job).set(rows)
        if outcome == "success" and job.startswith("sync:") and finished is not None:
            self.last_success.labels(source=job.split(":", 1)[1]).set(_ts(finished))

    def request(self, route: str, status: int) -> None:
        outcome = OUTCOME_OF_STATUS.get(status, "error" if status >= 500 else "other")
        self.webhook.labels(route=route, outcome=outcome).inc()
