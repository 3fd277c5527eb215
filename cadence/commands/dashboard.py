"""``cadence dashboard``: serve the Streamlit app (what ``make run`` calls)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from cadence.auth.launch import prepare_dashboard
from cadence.cli import AppContext, pass_app
from cadence.core.config import DEMO_DB
from cadence.core.errors import CadenceError

log = logging.getLogger(__name__)
# The Streamlit script: in an installed package, the copy the wheel carries (setup.py puts app.py,
# pages/ and the theme there); in a source checkout or an editable install, the tree's own app.py.
PACKAGED_APP = Path(__file__).resolve().parents[1] / "dashboard" / "app" / "app.py"
SOURCE_APP = Path(__file__).resolve().parents[2] / "app.py"


def app_script() -> Path:
    """The app.py that ``cadence dashboard`` runs (see PACKAGED_APP)."""
    if PACKAGED_APP.is_file():
        return PACKAGED_APP
    if SOURCE_APP.is_file():
        return SOURCE_APP
    raise CadenceError(f"The dashboard's app.py is neither in the package ({PACKAGED_APP.parent}) nor in a "
                       f"source checkout ({SOURCE_APP.parent}); reinstall Cadence (pip install cadence).")


def choose_database(app: AppContext) -> Path:
    """The configured database; with none configured and no default file, the demo one (built once)."""
    path = app.db_path
    if app.db_configured or path.exists():
        return path
    if not DEMO_DB.exists():
        from collectors.demo import build_demo

        log.info("no database configured: building the demo warehouse at %s", DEMO_DB)
        build_demo(DEMO_DB)
    return DEMO_DB


def streamlit_args(port: int, host: str) -> list[str]:
    """The Streamlit command line: headless, no usage stats, no grid toolbar download (it writes
    formula cells raw; every table has Cadence's neutralised "Download CSV" instead), and no full
    garbage collection after every script run (it walks every cached result: 0.1-0.3 s per page
    view on the demo, more on a large warehouse; Python's own collector still runs), and no watching
    of source files (a served dashboard does not reload its code; each new session's watcher and the
    recompiling after any change cost a first page load 0.1-0.2 s; `streamlit run app.py` still
    reloads on save while developing)."""
    return [sys.executable, "-m", "cadence.dashboard.server", "run", str(app_script()),
            "--server.port", str(port), "--server.address", host,
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.disableDataExport", "true", "--runner.postScriptGC", "false",
            "--server.fileWatcherType", "none"]


# Signals that stop `cadence dashboard` are passed on to Streamlit, which then shuts down cleanly;
# without this a SIGTERM (systemd, docker stop, kill) ended only this process and left the server
# serving the port, re-parented to PID 1. SIGHUP (a closed terminal) becomes a SIGTERM: Streamlit
# does not handle SIGHUP and would die without closing its sessions.
FORWARDED = {signal.SIGTERM: signal.SIGTERM, signal.SIGINT: signal.SIGINT,
             signal.SIGHUP: signal.SIGTERM, signal.SIGQUIT: signal.SIGQUIT}


def run_forwarding_signals(args: list[str], env: dict[str, str]) -> int:
    """Run ``args`` as a child, pass FORWARDED signals on to it, wait for it to end; its exit
    status (128 + N when a signal N ended it, as a shell reports)."""
    child: subprocess.Popen | None = None
    pending: list[int] = []

    def forward(signum, _frame) -> None:
        if child is None:
            pending.append(FORWARDED[signum])   # arrived before the child started
        elif child.poll() is None:
            child.send_signal(FORWARDED[signum])

    previous = {s: signal.signal(s, forward) for s in FORWARDED}
    try:
        child = subprocess.Popen(args, env=env)
        for signum in pending:
            child.send_signal(signum)
        code = child.wait()   # a handled signal interrupts nothing: wait() resumes (PEP 475)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 128 - code if code < 0 else code


@click.command(name="dashboard")
@click.option("--port", default=8501, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; 127.0.0.1 keeps it on this machine.")
@click.option("--no-auth", is_flag=True,
              help="Serve without sign-in on a non-loopback --host (prints a warning). Sign-in: CADENCE_OIDC_* "
                   "variables and [auth] in cadence.toml, see docs/operations.md.")
@pass_app
def command(app: AppContext, port: int, host: str, no_auth: bool) -> None:
    """Serve the dashboard (builds the demo database when no real one is configured). SIGTERM,
    SIGINT or SIGHUP stop the server and then this command."""
    # Sign-in (cadence.auth.launch): refuse an open non-loopback server; otherwise Streamlit's secrets
    # file, private and removed when this process exits, and an environment without the secrets.
    sign_in = prepare_dashboard(host, no_auth, os.environ, app.config.auth)
    for warning in sign_in.warnings:
        click.echo(f"Warning: {warning}", err=True)
    db = choose_database(app)
    env = dict(sign_in.env, CADENCE_DB=str(db.resolve()))
    if app.config.path:
        env["CADENCE_CONFIG"] = str(app.config.path.resolve())
    click.echo(f"Cadence on http://localhost:{port} reading {db}", err=True)
    # --secrets.files PATH (sign-in): the path only, never a secret
    raise SystemExit(run_forwarding_signals(streamlit_args(port, host) + sign_in.streamlit_args, env))
