"""The worker of ``cadence serve``: one process serving the webhook port and running the scheduler,
so the webhook, the syncs and the exports write through one writer path (this process's
``warehouse.write_connection``, one transaction at a time, each held only for its write).

Routes on the webhook port:

* ``POST /deployments`` ... (``collectors.webhook``), bearer token.
* ``GET /metrics``: the service's Prometheus metrics (``cadence.service.telemetry``), bearer token.
* ``POST /jobs/<job>/run``: run a scheduled job now through the scheduler (an operator's "sync
  now"; recorded with trigger ``manual``; skipped like any overlapping run), bearer token.
* ``GET /healthz`` (the process serves) and ``GET /readyz`` (the warehouse opens, its migrations
  are applied, and no scheduled source is overdue: its last success is not older than twice its
  schedule's interval): no token, and nothing in the answer but the status and which check failed.

The scheduler is APScheduler 3 (``BackgroundScheduler``, one cron trigger per job, in
``[schedule] timezone``): ``max_instances=1`` skips a run that would overlap the previous one of
the same job (logged and recorded as ``skipped``), ``coalesce`` folds runs missed while the process
was busy into one. Runs missed while the service was down are found in ``job_runs``: a job whose
schedule fired since its latest recorded run (or that never ran) runs once at start-up.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from cadence.core.config import Config
from cadence.core.errors import CadenceError
from warehouse import runs
from cadence.service.jobs import Job, Runner, planned_jobs, reading
from cadence.core.settings.schedule import Schedule, trigger
from cadence.service.telemetry import Telemetry
from warehouse import read_connection
from warehouse import db as warehouse_db
from warehouse.db import LATEST_VERSION, database_version, stop_new_writes

log = logging.getLogger(__name__)

READY_LOCK_WAIT_SECONDS = 2.0
SLOW_WRITE_SECONDS = 1.0   # a write holding the file longer than this is logged


def interval(cron: str, timezone: str, now: datetime) -> timedelta:
    """The gap between the schedule's next two firings after ``now`` (aware datetimes)."""
    trig = trigger(cron, timezone)
    first = trig.get_next_fire_time(None, now)
    second = trig.get_next_fire_time(first, first + timedelta(seconds=1))
    return second - first


def is_missed(cron: str, timezone: str, last_start: datetime | None, now: datetime) -> bool:
    """True when the schedule fired between the job's latest recorded start and ``now`` (or the job
    never ran): the service was down when it was due."""
    if last_start is None:
        return True
    trig = trigger(cron, timezone)
    due = trig.get_next_fire_time(None, last_start.replace(tzinfo=UTC) + timedelta(seconds=1))
    return due is not None and due <= now


def overdue(jobs: list[Job], schedule: Schedule, last: dict[str, dict], started: datetime,
            now: datetime) -> list[str]:
    """The sync jobs whose last success (or, before the first, the service's start) is older than
    twice their schedule's interval."""
    late = []
    for job in jobs:
        if job.command is None:
            continue
        success = (last.get(job.name) or {}).get("last_success")
        since = success.replace(tzinfo=UTC) if success is not None else started
        if now - since > 2 * interval(job.cron, schedule.timezone, now):
            late.append(job.name)
    return late


class Service:
    def __init__(self, db_path: Path, config: Config, config_path: str | None, token: str,
                 max_body_bytes: int, stop_timeout: float = 10.0) -> None:
        self.db_path = Path(db_path)
        self.config = config
        self.schedule = config.schedule or Schedule()
        self.jobs = planned_jobs(config)
        self.token = token
        self.max_body_bytes = max_body_bytes
        self.stop_timeout = stop_timeout
        self.telemetry = Telemetry(self.db_path)
        warehouse_db.WRITE_OBSERVERS.append(self._write_held)
        from cadence.service.snapshot import Refresher

        self.snapshots = Refresher(self.db_path, warehouse_db._WRITE_LOCK)
        warehouse_db.WRITE_OBSERVERS.append(self.snapshots.mark)
        self.runner = Runner(self.db_path, config_path, self.telemetry)
        self.started = datetime.now(UTC)
        self.scheduler = None
        self._catch_up: set[str] = set()   # jobs whose start-up run makes up for a missed one
        self._manual: set[str] = set()     # jobs asked to run now (POST /jobs/<job>/run)

    def _write_held(self, seconds: float) -> None:
        self.telemetry.write_hold.observe(seconds)
        if seconds > SLOW_WRITE_SECONDS:
            log.warning("warehouse: a write held the file for %.1f s; dashboard readers waited behind it", seconds)

    # -- scheduler -------------------------------------------------------------------------------
    def start_scheduler(self) -> None:
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        closed = runs.close_interrupted(self.db_path)
        if closed:
            log.warning("scheduler: %d run(s) left open by a stopped service closed as interrupted", closed)
        with reading(self.db_path) as con:
            last = runs.last_runs(con)
        self.telemetry.seed(last)
        tz = ZoneInfo(self.schedule.timezone)
        self.scheduler = BackgroundScheduler(
            timezone=tz, executors={"default": ThreadPoolExecutor(max(len(self.jobs), 1))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES)
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        now = datetime.now(UTC)
        for job in self.jobs:
            missed = is_missed(job.cron, self.schedule.timezone, (last.get(job.name) or {}).get("last_start"), now)
            kwargs = {"next_run_time": now.astimezone(tz)} if missed else {}
            if missed:
                self._catch_up.add(job.name)
            self.scheduler.add_job(self._scheduled, trigger(job.cron, self.schedule.timezone), args=[job],
                                   id=job.name, name=job.name, **kwargs)
            log.info("scheduler: %s on \"%s\" (%s)%s", job.name, job.cron, self.schedule.timezone,
                     "; missed while the service was down: running it now" if missed else "")
        if not self.jobs:
            log.warning("scheduler: nothing scheduled; add [schedule] sync = \"*/30 * * * *\" to cadence.toml "
                        "(docs/operations.md)")
        self.scheduler.start()
        self.snapshots.start()

    def _scheduled(self, job: Job, trigger_kind: str | None = None) -> None:
        if trigger_kind is None:
            trigger_kind = ("manual" if job.name in self._manual else
                            "missed" if job.name in self._catch_up else "schedule")
            self._catch_up.discard(job.name)
            self._manual.discard(job.name)
        self.runner(job, trigger_kind)

    def _skipped(self, event) -> None:
        self._manual.discard(event.job_id)
        reason = "the previous run of this job was still going"
        log.warning("scheduler: run of %s skipped: %s", event.job_id, reason)
        self.telemetry.runs.labels(job=event.job_id, outcome="skipped").inc()
        try:
            runs.record_skipped(self.db_path, event.job_id, reason)
        except CadenceError as exc:
            log.error("scheduler: could not record the skipped run of %s: %s", event.job_id, exc)

    def _missed(self, event) -> None:
        log.warning("scheduler: run of %s missed its time (the process was busy); coalesced", event.job_id)

    def run_now(self, name: str) -> bool:
        """Run a scheduled job now: its next run is moved to now, so the run goes through the
        scheduler like any other (an overlap with a run still going is skipped); the schedule
        then carries on from its trigger."""
        job = next((j for j in self.jobs if j.name == name), None)
        if job is None or self.scheduler is None:
            return False
        self._manual.add(name)
        self.scheduler.modify_job(name, next_run_time=datetime.now(UTC))
        return True

    # -- readiness -------------------------------------------------------------------------------
    def readiness(self, now: datetime | None = None) -> tuple[bool, list[str]]:
        now = now or datetime.now(UTC)
        try:
            with warehouse_db._WRITE_LOCK, read_connection(self.db_path,
                                                           lock_wait_seconds=READY_LOCK_WAIT_SECONDS) as con:
                if database_version(con) < LATEST_VERSION:
                    return False, ["migrations"]
                last = runs.last_runs(con)
        except CadenceError:
            return False, ["warehouse"]
        late = overdue(self.jobs, self.schedule, last, self.started, now)
        return (not late), (["sync overdue"] if late else [])

    # -- stopping --------------------------------------------------------------------------------
    def stop(self) -> None:
        """No new write starts; running jobs get ``stop_timeout`` seconds to end at a transaction
        boundary; those still going are recorded as interrupted."""
        self.snapshots.stopped.set()
        self.runner.stopping.set()
        stop_new_writes()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        deadline = time.monotonic() + self.stop_timeout
        while self.runner.running and time.monotonic() < deadline:
            time.sleep(0.05)
        left = self.runner.close_open_runs(lock_wait_seconds=2.0)
        if left:
            log.warning("worker: stopped with %s still running; recorded as interrupted (its committed "
                        "transactions are kept, the one in progress is rolled back)", ", ".join(left))


def create_app(service: Service) -> Starlette:
    """The webhook port's app: the webhook receiver plus /metrics, /readyz and /jobs/<job>/run."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from collectors import webhook

    inner = webhook.create_app(service.db_path, service.token, max_body_bytes=service.max_body_bytes)
    expected = service.token.encode()

    def refuse(request: Request) -> JSONResponse | None:
        problem = webhook._authorized(request, expected)
        if problem:
            return JSONResponse({"error": problem}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="cadence"'})
        return None

    async def metrics(request: Request) -> Response:
        return refuse(request) or Response(generate_latest(service.telemetry.registry),
                                           media_type=CONTENT_TYPE_LATEST)

    async def readyz(request: Request) -> JSONResponse:
        from starlette.concurrency import run_in_threadpool

        ready, failed = await run_in_threadpool(service.readiness)
        if ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "unready", "failed": failed}, status_code=503)

    async def run_job(request: Request) -> JSONResponse:
        denied = refuse(request)
        if denied:
            return denied
        name = request.path_params["job"]
        if not service.run_now(name):
            known = ", ".join(j.name for j in service.jobs) or "none scheduled"
            return JSONResponse({"error": f"no scheduled job {name!r}; jobs: {known}"}, status_code=404)
        return JSONResponse({"job": name, "status": "started"}, status_code=202)

    app = Starlette(routes=[Route("/metrics", metrics, methods=["GET"]),
                            Route("/readyz", readyz, methods=["GET"]),
                            Route("/jobs/{job}/run", run_job, methods=["POST"]),
                            Mount("/", app=inner)])

    async def counted(scope, receive, send):   # webhook requests by route and outcome
        if scope["type"] != "http":
            return await app(scope, receive, send)
        status = {}

        async def send_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_status)
        finally:
            path = scope.get("path", "")
            route = path if path.strip("/") in webhook.KINDS else None
            if route:
                service.telemetry.request(route, status.get("code", 500))
    return counted


def serve(service: Service, host: str, port: int) -> None:
    """Run the worker until SIGTERM/SIGINT: scheduler, then the HTTP server; stop both cleanly."""
    from collectors import webhook

    sock = webhook.bind_socket(host, port)
    server = webhook.make_server(create_app(service))
    stopping = threading.Event()

    def on_signal(signum, _frame) -> None:
        if not stopping.is_set():
            log.info("worker: %s received, stopping", signal.Signals(signum).name)
        stopping.set()
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    service.start_scheduler()
    log.info("worker: webhook, /metrics and /readyz on http://%s:%d", host, sock.getsockname()[1])
    # uvicorn installs its own SIGTERM/SIGINT handlers while serving (they set should_exit too)
    server.run(sockets=[sock])
    service.stop()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        # A job thread still blocked on its source after the stop timeout (its run is recorded as
        # interrupted): end the process now instead of waiting for it; its open transaction, if
        # any, was never committed, so DuckDB rolls it back.
        logging.shutdown()
        os._exit(0)
