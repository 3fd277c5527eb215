"""``cadence webhook``: serve the webhook receiver (see collectors/webhook.py)."""

from __future__ import annotations

import click

from cadence.cli import AppContext, pass_app


@click.command(name="webhook")
@click.option("--port", default=8502, show_default=True, help="Port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 127.0.0.1 keeps it on this machine (put a TLS proxy in front "
                   "before binding wider).")
@click.option("--max-body-bytes", type=int, default=None,
              help="Largest request body accepted, ≥ 1024 (default: sources.webhook.max_body_bytes, "
                   "else 1 MiB).")
@pass_app
def command(app: AppContext, port: int, host: str, max_body_bytes: int | None) -> None:
    """Receive deployments, incidents and changes over HTTP (token from CADENCE_WEBHOOK_TOKEN)."""
    from collectors import webhook

    if max_body_bytes is None:
        limit = webhook.max_body_bytes_from(app.config)
    else:   # the flag obeys the config key's rule: a limit below 1 KiB would refuse every post
        limit = webhook.check_max_body_bytes(max_body_bytes, "--max-body-bytes")
    token = webhook.require_token()
    db = app.db_path
    server = webhook.make_server(webhook.create_app(db, token, max_body_bytes=limit))
    sock = webhook.bind_socket(host, port)
    click.echo(f"Cadence webhook on http://{host}:{sock.getsockname()[1]} writing to {db} "
               f"(POST /deployments, /incidents, /changes; GET /healthz)", err=True)
    server.run(sockets=[sock])
