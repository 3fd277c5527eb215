"""``cadence serve``: the dashboard, the webhook receiver and the scheduler as one supervised
service (cadence.service; docs/operations.md)."""

from __future__ import annotations

import os
import sys

import click

from cadence.cli import AppContext, pass_app


@click.command(name="serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Dashboard address; a non-loopback one needs sign-in (CADENCE_OIDC_*) or --no-auth.")
@click.option("--port", default=8501, show_default=True, help="Dashboard port.")
@click.option("--webhook-host", default="127.0.0.1", show_default=True,
              help="Address of the webhook port (webhook, /metrics, /healthz, /readyz); it has its own token.")
@click.option("--webhook-port", default=8502, show_default=True, envvar="CADENCE_WEBHOOK_PORT",
              help="Webhook port (env CADENCE_WEBHOOK_PORT).")
@click.option("--no-auth", is_flag=True, help="Serve the dashboard without sign-in on a non-loopback --host.")
@click.option("--stop-timeout", type=click.FloatRange(0, 3600), default=10.0, show_default=True,
              help="Seconds a running sync gets to finish its transaction on SIGTERM before it is cut off "
                   "(rolled back) and recorded as interrupted.")
@pass_app
def command(app: AppContext, host: str, port: int, webhook_host: str, webhook_port: int, no_auth: bool,
            stop_timeout: float) -> None:
    """Run Cadence as a service: dashboard, webhook receiver and the [schedule] of syncs and exports,
    restarted when a part dies; SIGTERM stops them all cleanly."""
    from cadence.auth.launch import prepare_dashboard
    from cadence.auth.oidc import SECRET_ENV
    from cadence.commands.dashboard import streamlit_args
    from cadence.service.jobs import planned_jobs
    from cadence.service.supervisor import Part, Supervisor, child_env
    from collectors import webhook
    from warehouse import connect

    config = app.config                       # a wrong cadence.toml fails here, before anything starts
    webhook.require_token()                   # the webhook port never serves without its token
    webhook.max_body_bytes_from(config)
    sign_in = prepare_dashboard(host, no_auth, os.environ, config.auth)   # the sign-in rule (issue 15)
    for warning in sign_in.warnings:
        click.echo(f"Warning: {warning}", err=True)
    db = app.db_path.resolve()
    connect(db).close()                       # create or migrate the warehouse before the parts read it
    from cadence.service.snapshot import take_snapshot

    # The dashboard reads a copy the worker refreshes after writes: no page waits behind a sync.
    dashboard_db = take_snapshot(db)
    common = {"CADENCE_DB": str(db)}
    if config.path:
        common["CADENCE_CONFIG"] = str(config.path.resolve())
    # The dashboard needs neither the webhook token nor (sign-in's file carries them) the OIDC secrets.
    dashboard = Part("dashboard", streamlit_args(port, host) + sign_in.streamlit_args,
                     dict(child_env(sign_in.env, (webhook.TOKEN_ENV,)), **{**common, "CADENCE_DB": str(dashboard_db)}))
    worker_args = [sys.executable, "-m", "cadence", "service-worker", "--host", webhook_host,
                   "--port", str(webhook_port), "--stop-timeout", str(stop_timeout)]
    worker = Part("worker", worker_args, dict(child_env(dict(os.environ), SECRET_ENV), **common))
    jobs = ", ".join(f"{j.name} ({j.cron})" for j in planned_jobs(config)) or "nothing scheduled"
    click.echo(f"Cadence serving http://{host}:{port} (dashboard) and http://{webhook_host}:{webhook_port} "
               f"(webhook, /metrics, /healthz, /readyz) on {db}; schedule: {jobs}", err=True)
    raise SystemExit(Supervisor([worker, dashboard], stop_timeout=stop_timeout).run())
