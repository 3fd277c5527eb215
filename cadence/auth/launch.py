"""``cadence dashboard``'s part of sign-in: decide whether the server may start, and hand Streamlit
its ``[auth]`` secrets without exposing them.

Streamlit 1.67 reads secrets from ``st.App(secrets=...)`` or from the TOML files named by
``--secrets.files``. The dashboard runs ``streamlit run`` as a child, so it writes one such file:
in a fresh directory only this user can enter (0700), itself readable only by this user (0600),
removed when the server ends (normally, on Ctrl-C, SIGTERM or SIGHUP). Only the file's *path*
goes on the child's command line (``/proc/PID/cmdline`` is readable by every user), and the two
secret variables are taken out of the child's environment (the file carries them).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import threading
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.auth.oidc import OIDC_ENV, SECRET_ENV, OidcSettings, check_provider, is_loopback_host, read_oidc_env
from cadence.core.settings.auth import AuthConfigError, AuthSettings

SECRETS_NAME = "secrets.toml"
_CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def toml_string(value: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def to_toml(doc: Mapping[str, Any]) -> str:
    """TOML for a document of tables holding strings and nested tables (what the secrets need)."""
    lines: list[str] = []

    def table(prefix: str, body: Mapping[str, Any]) -> None:
        scalars = {k: v for k, v in body.items() if not isinstance(v, Mapping)}
        if prefix:
            lines.append(f"[{prefix}]")
        for key, value in scalars.items():
            if not isinstance(value, str):
                raise TypeError(f"secrets hold strings only, {key} is {type(value).__name__}")
            lines.append(f"{toml_string(key)} = {toml_string(value)}")
        for key, value in body.items():
            if isinstance(value, Mapping):
                table(f"{prefix}.{toml_string(key)}" if prefix else toml_string(key), value)

    table("", doc)
    return "\n".join(lines) + "\n"


@contextmanager
def _removed_on_signals(cleanup: Callable[[], None]) -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit while inside, so ``finally`` blocks (the secrets file's
    removal) run; without it the default action ends the process on the spot. A handler someone
    else installed (e.g. one forwarding signals to the child) is left alone, and is theirs to exit
    cleanly through."""
    previous: dict[int, Any] = {}

    def stop(signum, _frame) -> None:
        raise SystemExit(128 + signum)

    in_main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    for sig in _CLEANUP_SIGNALS if in_main else ():
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            previous[sig] = signal.signal(sig, stop)
    try:
        yield
    finally:
        cleanup()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _private_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")  # a per-user tmpfs where systemd provides one
    base = runtime if runtime and os.path.isdir(runtime) and os.stat(runtime).st_uid == os.getuid() else None
    return Path(tempfile.mkdtemp(prefix="cadence-auth-", dir=base))  # mkdtemp: mode 0700


@contextmanager
def secrets_file(doc: Mapping[str, Any]) -> Iterator[Path]:
    """Write ``doc`` as TOML to a new 0600 file in a new 0700 directory; remove both on leaving
    (also on SIGTERM/SIGHUP). Yields the file's path."""
    text = to_toml(doc)
    if tomllib.loads(text) != doc:  # never hand Streamlit a file that reads back differently
        raise ValueError("the secrets did not survive a TOML round trip")
    directory = _private_dir()
    path = directory / SECRETS_NAME
    with _removed_on_signals(lambda: shutil.rmtree(directory, ignore_errors=True)):
        os.chmod(directory, 0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
            fh.write(text)
        yield path


@dataclass
class Launch:
    """What the dashboard adds to Streamlit's start: arguments, the child's environment, warnings."""

    streamlit_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    oidc: OidcSettings | None = None


def open_server_error(host: str) -> AuthConfigError:
    return AuthConfigError(
        f"refusing to serve the dashboard on {host} without sign-in: anyone who can reach that address would see "
        f"every team's delivery record and the cloud bill. Configure sign-in ({', '.join(OIDC_ENV)}; "
        "docs/operations.md, \"Sign-in\"), listen on 127.0.0.1 behind your own authenticating proxy, or pass "
        "--no-auth to serve it open anyway")


@contextmanager
def dashboard_launch(host: str, no_auth: bool, env: Mapping[str, str], auth: AuthSettings | None, *,
                     check: Callable[[OidcSettings], Any] = check_provider) -> Iterator[Launch]:
    """Check that the dashboard may start as asked and prepare Streamlit's sign-in; raises
    AuthConfigError (one line, nothing started) when it may not. ``env`` is the child's
    environment before the secrets are taken out of it."""
    oidc = read_oidc_env(env)
    child_env = {k: v for k, v in env.items() if k not in SECRET_ENV}
    if oidc is None:
        launch = Launch(env=child_env)
        if not no_auth and not is_loopback_host(host):
            raise open_server_error(host)
        if no_auth:
            launch.warnings.append(f"--no-auth: the dashboard on {host} has no sign-in; everyone who can reach it "
                                   "sees every figure, costs included.")
        if auth is not None:
            launch.warnings.append("cadence.toml has an [auth] section but the CADENCE_OIDC_* variables are not set, "
                                   "so nobody is asked to sign in.")
        yield launch
        return
    if no_auth:
        raise AuthConfigError("--no-auth was given but sign-in is configured (CADENCE_OIDC_* are set); unset them to "
                              "serve without sign-in, or drop --no-auth")
    if auth is None or not auth.has_allow_list:
        raise AuthConfigError("sign-in is configured (CADENCE_OIDC_* are set) but cadence.toml has no [auth] section "
                              "saying who may enter; add [auth] allowed_domains and/or allowed_emails "
                              "(docs/configuration.md)")
    check(oidc)
    launch = Launch(env=child_env, oidc=oidc)
    if oidc.public_url.startswith("http://") and not is_loopback_host(host):
        launch.warnings.append(f"CADENCE_PUBLIC_URL {oidc.public_url} is plain http: session cookies cross the network "
                               "unencrypted; serve Cadence behind https.")
    with secrets_file(oidc.streamlit_secrets()) as path:
        # No identity from request headers: a stray config.toml mapping one into st.user would let
        # anyone who sets that header past the sign-in.
        launch.streamlit_args = ["--secrets.files", str(path), "--server.trustedUserHeaders", "{}"]
        if oidc.base_path:
            launch.streamlit_args += ["--server.baseUrlPath", oidc.base_path]
        yield launch


def prepare_dashboard(host: str, no_auth: bool, env: Mapping[str, str], auth: AuthSettings | None) -> Launch:
    """``dashboard_launch`` held for the rest of this process: the secrets file is removed when the
    process exits (normally, by SystemExit, Ctrl-C, or SIGTERM/SIGHUP, which exit through it)."""
    stack = ExitStack()
    launch = stack.enter_context(dashboard_launch(host, no_auth, env, auth))
    atexit.register(stack.close)
    return launch
