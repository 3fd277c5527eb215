"""``cadence dashboard`` and sign-in: when it refuses to start, how Streamlit gets its secrets (a 0600
file in a 0700 directory, named by path on the command line, removed at exit and on SIGTERM/SIGHUP),
and the provider check at start, against the real OpenID provider on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import OctKey

from cadence.auth.launch import dashboard_launch, secrets_file
from cadence.auth.oidc import check_provider, read_oidc_env
from cadence.core.settings.auth import AuthConfigError, parse_auth
from cadence.cli import cli
from tests.support.net import JsonServer, free_port, stop, wait_for_health

CADENCE = str(Path(sys.executable).with_name("cadence"))  # the console script `make install` puts beside python
AUTH = parse_auth({"allowed_domains": ["example.com"]})
CLIENT_SECRET = "client-secret-7f3a9c"  # distinctive, so a leak is found by a plain search
COOKIE_SECRET = "cookie-secret-" + "q8" * 20


def oidc_env(issuer: str, public_url: str = "http://127.0.0.1:8501") -> dict[str, str]:
    return {"CADENCE_OIDC_ISSUER": issuer, "CADENCE_OIDC_CLIENT_ID": "cadence",
            "CADENCE_OIDC_CLIENT_SECRET": CLIENT_SECRET, "CADENCE_COOKIE_SECRET": COOKIE_SECRET,
            "CADENCE_PUBLIC_URL": public_url}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


# -- the secrets file ------------------------------------------------------------------------------

def test_secrets_file_is_private_reads_back_and_is_removed_on_leaving():
    doc = {"auth": {"cookie_secret": COOKIE_SECRET, "client_kwargs": {"scope": "openid email profile"}}}
    old = os.umask(0)  # the most permissive umask must not widen either mode
    try:
        with secrets_file(doc) as path:
            assert mode(path) == 0o600 and mode(path.parent) == 0o700
            assert path.stat().st_uid == os.getuid()
            assert tomllib.loads(path.read_text(encoding="utf-8")) == doc
            assert [p.name for p in path.parent.iterdir()] == ["secrets.toml"]
    finally:
        os.umask(old)
    assert not path.exists() and not path.parent.exists()


def test_secrets_file_is_removed_when_the_block_fails():
    with pytest.raises(RuntimeError):
        with secrets_file({"auth": {"cookie_secret": COOKIE_SECRET}}) as path:
            raise RuntimeError("the server failed to start")
    assert not path.parent.exists()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_secrets_file_is_removed_when_the_process_is_told_to_stop(signum, tmp_path):
    # The child starts with the default dispositions a terminal gives (under `nohup` SIGHUP arrives
    # ignored, and secrets_file rightly leaves an ignored signal alone).
    script = ("import signal, sys, time\n"
              "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
              "signal.signal(signal.SIGHUP, signal.SIG_DFL)\n"
              "from cadence.auth.launch import secrets_file\n"
              "with secrets_file({'auth': {'cookie_secret': 'x' * 40}}) as path:\n"
              "    print(path, flush=True)\n"
              "    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2])
    path = Path(proc.stdout.readline().strip())
    assert path.exists()
    proc.send_signal(signum)
    assert proc.wait(timeout=30) == 128 + signum
    assert not path.parent.exists()


# -- when the dashboard refuses to start -----------------------------------------------------------

def test_dashboard_on_a_public_address_without_sign_in_refuses_and_says_why(tmp_path):
    db = tmp_path / "never-built.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "dashboard", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "refusing to serve the dashboard on 0.0.0.0 without sign-in" in message
    assert "CADENCE_OIDC_ISSUER" in message and "--no-auth" in message
    assert not db.exists()  # refused before anything was built or started


def test_the_public_url_alone_is_not_sign_in_so_a_public_address_is_still_refused(tmp_path, monkeypatch):
    # CADENCE_PUBLIC_URL is also the address links in notifications point to: set alone it neither
    # demands the other four variables nor counts as sign-in.
    monkeypatch.setenv("CADENCE_PUBLIC_URL", "https://cadence.example.com")
    db = tmp_path / "never-built.duckdb"
    result = CliRunner().invoke(cli, ["--db", str(db), "dashboard", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    message = str(result.exception)
    assert "refusing to serve the dashboard on 0.0.0.0 without sign-in" in message
    assert "half configured" not in message
    with dashboard_launch("127.0.0.1", False, {"CADENCE_PUBLIC_URL": "https://cadence.example.com"}, None) as launch:
        assert launch.oidc is None and launch.streamlit_args == []


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "cadence.example.com"])
def test_any_non_loopback_host_needs_sign_in_or_no_auth(host):
    with pytest.raises(AuthConfigError, match="without sign-in"):
        with dashboard_launch(host, False, {}, None):
            pass
    with dashboard_launch(host, True, {}, None) as launch:
        assert launch.streamlit_args == [] and "--no-auth" in launch.warnings[0]
    with dashboard_launch("127.0.0.1", False, {}, None) as launch:
        assert launch.streamlit_args == [] and launch.warnings == []


def test_no_auth_with_sign_in_configured_is_a_contradiction(oidc_provider):
    with pytest.raises(AuthConfigError, match="--no-auth was given but sign-in is configured"):
        with dashboard_launch("0.0.0.0", True, oidc_env(oidc_provider.issuer), AUTH):
            pass


def test_sign_in_without_an_allow_list_refuses_to_start(oidc_provider):
    with pytest.raises(AuthConfigError, match=r"no \[auth\] section"):
        with dashboard_launch("127.0.0.1", False, oidc_env(oidc_provider.issuer), None):
            pass


def test_partly_set_variables_stop_the_cli_with_the_missing_names(tmp_path, monkeypatch):
    monkeypatch.setenv("CADENCE_OIDC_ISSUER", "https://login.example.com")
    monkeypatch.setenv("CADENCE_COOKIE_SECRET", COOKIE_SECRET)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "x.duckdb"), "dashboard"])
    message = str(result.exception)
    assert result.exit_code != 0
    assert "CADENCE_OIDC_CLIENT_ID, CADENCE_OIDC_CLIENT_SECRET, CADENCE_PUBLIC_URL are not set" in message
    assert COOKIE_SECRET not in message


# -- the provider check at start -------------------------------------------------------------------

def test_the_provider_check_reads_the_real_discovery_document(oidc_provider):
    doc = check_provider(read_oidc_env(oidc_env(oidc_provider.issuer)))
    assert doc["issuer"] == oidc_provider.issuer
    assert doc["authorization_endpoint"].startswith(oidc_provider.issuer)


def test_a_wrong_issuer_fails_at_start_with_what_to_check(oidc_provider):
    wrong_path = read_oidc_env(oidc_env(oidc_provider.issuer + "/realms/nowhere"))
    with pytest.raises(AuthConfigError, match="HTTP 404 .* check CADENCE_OIDC_ISSUER"):
        check_provider(wrong_path)
    nobody = read_oidc_env(oidc_env(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(AuthConfigError, match="cannot read .* ConnectionError"):
        check_provider(nobody, timeout=5)


@pytest.mark.parametrize("document, words", [
    ({"issuer": "https://elsewhere.example.com", "authorization_endpoint": "https://e/a",
      "token_endpoint": "https://e/t", "jwks_uri": "https://e/j"}, 'names the issuer "https://elsewhere.example.com"'),
    ({"issuer": "ISSUER", "authorization_endpoint": "ISSUER/a"}, "lacks token_endpoint, jwks_uri"),
    ({"issuer": "ISSUER", "authorization_endpoint": "ISSUER/a", "token_endpoint": "http://idp.example.com/t",
      "jwks_uri": "ISSUER/j"}, "token_endpoint .* uses http:// on a non-loopback address"),
])
def test_a_discovery_document_that_cannot_work_fails_at_start(document, words):
    with JsonServer() as server:
        server.document = json.loads(json.dumps(document).replace("ISSUER", server.url))
        with pytest.raises(AuthConfigError, match=words):
            check_provider(read_oidc_env(oidc_env(server.url)))


# -- the real server: what is on the command lines, in the file, and what is left after SIGTERM ----

def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat_line = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat_line.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.slow
def test_a_signed_in_dashboard_hands_streamlit_a_private_file_and_removes_it_on_sigterm(oidc_provider, db_path,
                                                                                        tmp_path):
    config = tmp_path / "cadence.toml"
    config.write_text('[auth]\nallowed_domains = ["example.com"]\n', encoding="utf-8")
    port = free_port()
    env = {**os.environ, **oidc_env(oidc_provider.issuer, f"http://127.0.0.1:{port}"),
           "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
    log = (tmp_path / "dashboard.log").open("w+")
    parent = subprocess.Popen([CADENCE, "--db", str(db_path), "--config", str(config),
                               "dashboard", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                              cwd=Path(__file__).resolve().parents[2])
    try:
        wait_for_health(f"http://127.0.0.1:{port}", parent, log)
        (child,) = _children(parent.pid)
        lines = {"cadence": _cmdline(parent.pid), "streamlit": _cmdline(child)}
        for line in lines.values():
            assert CLIENT_SECRET not in line and COOKIE_SECRET not in line
        words = lines["streamlit"].split()
        path = Path(words[words.index("--secrets.files") + 1])
        assert words[words.index("--server.trustedUserHeaders") + 1] == "{}"
        assert mode(path) == 0o600 and mode(path.parent) == 0o700 and path.parent.name.startswith("cadence-auth-")
        auth = tomllib.loads(path.read_text(encoding="utf-8"))["auth"]
        assert auth["client_secret"] == CLIENT_SECRET and auth["cookie_secret"] == COOKIE_SECRET
        assert auth["redirect_uri"] == f"http://127.0.0.1:{port}/oauth2callback"
        assert auth["server_metadata_url"] == f"{oidc_provider.issuer}/.well-known/openid-configuration"
        # The file carries the secrets; the server's environment no longer does.
        environ = (Path("/proc") / str(child) / "environ").read_bytes().decode(errors="replace")
        assert CLIENT_SECRET not in environ and COOKIE_SECRET not in environ
        assert f"CADENCE_OIDC_ISSUER={oidc_provider.issuer}" in environ.split("\0")
        # Streamlit took the file: its sign-in route (entered with a provider token signed by the cookie
        # secret, as st.login makes it) sends the browser to the provider with this client and callback.
        token = jwt.encode({"alg": "HS256"}, {"provider": "default", "exp": int(time.time()) + 60},
                           OctKey.import_key(COOKIE_SECRET))
        answer = requests.get(f"http://127.0.0.1:{port}/auth/login", params={"provider": token},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 302
        target = urlsplit(answer.headers["location"])
        query = parse_qs(target.query)
        assert f"{target.scheme}://{target.netloc}" == oidc_provider.issuer
        assert query["client_id"] == ["cadence"] and query["scope"] == ["openid email profile"]
        assert query["redirect_uri"] == [f"http://127.0.0.1:{port}/oauth2callback"]
    finally:
        stop(parent, timeout=60)  # SIGTERM (SIGKILL only if it does not end)
    assert not path.parent.exists(), "the secrets directory outlived the server"
    deadline = time.monotonic() + 30
    while (Path("/proc") / str(child)).exists() and time.monotonic() < deadline:  # reaped once it exits
        time.sleep(0.1)
    orphaned = (Path("/proc") / str(child)).exists()
    if orphaned:
        os.kill(child, signal.SIGKILL)  # leave no server behind, then fail
    assert not orphaned, "the Streamlit server outlived `cadence dashboard`"
    log.seek(0)
    output = log.read()
    assert CLIENT_SECRET not in output and COOKIE_SECRET not in output


# -- the webhook receiver keeps its own bearer token -----------------------------------------------

def test_the_webhook_receiver_is_unaffected_by_sign_in(oidc_provider, db_path, monkeypatch):
    from collectors.webhook import create_app
    from tests.support.webhook_support import AUTH as BEARER, TOKEN, deployment, serve_app

    for name, value in oidc_env(oidc_provider.issuer).items():
        monkeypatch.setenv(name, value)
    base, stop_server = serve_app(create_app(db_path, TOKEN, max_body_bytes=64 * 1024))
    try:
        assert requests.post(f"{base}/deployments", json=deployment(1), headers=BEARER, timeout=10).status_code == 200
        refused = requests.post(f"{base}/deployments", json=deployment(2), timeout=10)
        assert refused.status_code == 401 and "location" not in refused.headers  # no redirect to a sign-in
    finally:
        stop_server()
