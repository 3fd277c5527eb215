"""``cadence service-worker`` (hidden): the webhook port and the scheduler of ``cadence serve``,
which starts it as a child process; run ``cadence serve``, not this."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app


@click.command(name="service-worker", hidden=True)
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8502, type=int)
@click.option("--stop-timeout", type=float, default=10.0)
@pass_app
def command(app: AppContext, host: str, port: int, stop_timeout: float) -> None:
    """The worker process of `cadence serve` (webhook, /metrics, /readyz, scheduler)."""
    from cadence.service.worker import Service, serve
    from collectors import webhook

    config = app.config
    service = Service(app.db_path, config, str(config.path) if config.path else None, webhook.require_token(),
                      webhook.max_body_bytes_from(config), stop_timeout=stop_timeout)
    serve(service, host, port)
