"""No token leaks through an upstream error (issue 13, items 2 and 13).

GitHub and PagerDuty (the fakes, over real HTTP) answer an error whose body echoes the request
headers, Authorization included. With canary tokens in the environment, the canary must appear in
none of: the command's stdout and stderr (its log lines at -vv included), the records Cadence's
loggers emit, any value in the DuckDB file or its raw bytes after CHECKPOINT, and the rendered Data
health page. ``[sources.X] token_env`` names another variable to read the token from; its value is
scrubbed the same way.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import requests

from tests.support.apptest_support import REPO_ROOT, dashboard_env, open_app, texts
from tests.support.fake_github import FakeGitHub, echo_headers
from tests.support.fake_pagerduty import FakePagerDuty, running

# Shaped like the real thing: a classic GitHub PAT (ghp_ + 36) and a PagerDuty REST key (20).
GH_CANARY = "ghp_C4nary0GitHub0Token7f3a9c2e1b4d6a8c"
PD_CANARY = "u+C4nary_PD-7f3a9c2e1"
RUN_CLI = "import sys; from cadence.cli import main; sys.exit(main())"
NOW = datetime(2026, 3, 20, 12, 0)


def leaked(text: str, canary: str) -> bool:
    """True when ``text`` holds the canary or any 10 characters of it in a row (a cut token leaks too)."""
    return any(canary[i:i + 10] in text for i in range(len(canary) - 9))


def run_cli(args: list[str], env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CADENCE_CONFIG", "CADENCE_DB", "GITHUB_TOKEN", "PAGERDUTY_TOKEN")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", RUN_CLI, "-vv", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def assert_warehouse_clean(db_path: Path, canary: str) -> None:
    """No value of any table holds the canary, nor do the file's bytes after a CHECKPOINT. A control
    string written the same way (sync_state.last_error) is found in the bytes, so the byte check
    can see a stored string."""
    control = "control-string-QWERTYzxcvbMNBV-000111"
    con = duckdb.connect(str(db_path))
    try:
        con.execute("INSERT INTO sync_state (source, scope, last_error) VALUES ('control', 'x', ?)", [control])
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                assert not leaked(repr(row), canary), f"{table} holds the token: {row}"
        con.execute("CHECKPOINT")
    finally:
        con.close()
    raw = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert control.encode() in raw, "the byte check cannot see strings in this file"
    assert not leaked(raw.decode("latin-1"), canary)


def assert_data_health_clean(db_path: Path, canary: str) -> str:
    """The rendered Data health page: its texts and every table cell. Returns the page text."""
    with dashboard_env(db_path):
        at = open_app("data_health")
    assert not at.exception
    shown = texts(at)
    for frame in at.dataframe:
        shown += "\n" + frame.value.to_csv()
    assert not leaked(shown, canary)
    return shown


# -- GitHub -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def github():
    with FakeGitHub() as fake:
        yield fake


def github_config(tmp_path: Path, fake: FakeGitHub, extra: str = "") -> Path:
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.github]\nbase_url = "{fake.base_url}"\nrepos = ["shop/api"]\n'
                   f"min_request_interval = 0\n{extra}", encoding="utf-8")
    return cfg


def prime_echo(fake: FakeGitHub, token: str) -> None:
    """A repository, and GraphQL errors that echo the request headers; checks that the echo does
    carry the token, so a clean output below means Cadence scrubbed it."""
    fake.reset(tokens={token: {}})
    repo = fake.add_repo("shop/api")
    repo.commit("init", "2026-03-01T08:00:00Z")
    fake.add_fault("/api/graphql", echo_headers(400), echo_headers(400))
    probe = requests.post(fake.url + "/api/graphql", json={"query": "{ viewer { login } }"},
                          headers={"Authorization": f"token {token}"}, timeout=30)
    assert probe.status_code == 400 and token in probe.json()["message"]


@pytest.mark.parametrize("status", [400, 401])
def test_github_error_echoing_the_token_is_scrubbed_everywhere(github, tmp_path, status):
    prime_echo(github, GH_CANARY)
    github.faults.clear()
    github.add_fault("/api/graphql", echo_headers(status), echo_headers(status))
    db = tmp_path / "w.duckdb"
    proc = run_cli(["--db", str(db), "--config", str(github_config(tmp_path, github)), "sync", "github"],
                   {"GITHUB_TOKEN": GH_CANARY})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not leaked(proc.stdout, GH_CANARY) and not leaked(proc.stderr, GH_CANARY), proc.stderr
    assert "[redacted]" in proc.stderr and "ERROR collectors.github: github shop/api" in proc.stderr  # the log line
    assert_warehouse_clean(db, GH_CANARY)
    page = assert_data_health_clean(db, GH_CANARY)
    assert "[redacted]" in page and "shop/api" in page


def test_github_error_in_cadence_loggers_is_scrubbed(github, tmp_path, monkeypatch, caplog):
    """In-process: what Cadence's loggers emit (any handler: caplog's here) is scrubbed."""
    from cadence.cli import main

    prime_echo(github, GH_CANARY)
    monkeypatch.setenv("GITHUB_TOKEN", GH_CANARY)
    caplog.set_level(logging.DEBUG)
    code = main(["--db", str(tmp_path / "w.duckdb"), "--config", str(github_config(tmp_path, github)),
                 "sync", "github"])
    assert code == 1
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "shop/api" in messages and "[redacted]" in messages
    assert not leaked(caplog.text, GH_CANARY)


def test_github_token_env_names_the_variable_and_is_scrubbed(github, tmp_path):
    """token_env: the token is read from that variable (GITHUB_TOKEN is not consulted), and an
    upstream echo of it is scrubbed like GITHUB_TOKEN's."""
    other = "ghp_Other0Canary0Token0aa11bb22cc33dd44ee5"
    github.reset(tokens={other: {}})
    repo = github.add_repo("shop/api")
    repo.commit("init", "2026-03-01T08:00:00Z")
    cfg = github_config(tmp_path, github, 'token_env = "CADENCE_GH_READ_TOKEN"\n')
    db = tmp_path / "w.duckdb"
    ok = run_cli(["--db", str(db), "--config", str(cfg), "sync", "github"],
                 {"CADENCE_GH_READ_TOKEN": other, "GITHUB_TOKEN": "ghp_wrong0token0would0be0refused00000"})
    assert ok.returncode == 0, ok.stderr
    assert "1 of 1 repositories synced" in ok.stdout

    unset = run_cli(["--db", str(db), "--config", str(cfg), "sync", "github"], {"GITHUB_TOKEN": other})
    assert unset.returncode == 1 and "CADENCE_GH_READ_TOKEN is not set" in unset.stderr

    github.add_fault("/api/graphql", echo_headers(400))
    echoed = run_cli(["--db", str(db), "--config", str(cfg), "sync", "github"], {"CADENCE_GH_READ_TOKEN": other})
    assert echoed.returncode == 1 and "[redacted]" in echoed.stderr
    assert not leaked(echoed.stdout + echoed.stderr, other)
    assert_warehouse_clean(db, other)


# -- PagerDuty ----------------------------------------------------------------------------------

def pagerduty_config(tmp_path: Path, fake: FakePagerDuty, extra: str = "") -> Path:
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.pagerduty]\nbase_url = "{fake.url}"\nsince = "2026-02-01"\n{extra}',
                   encoding="utf-8")
    return cfg


@pytest.mark.parametrize("token_env", [None, "CADENCE_PD_READ_TOKEN"])
def test_pagerduty_error_echoing_the_token_is_scrubbed_everywhere(tmp_path, token_env):
    with running(FakePagerDuty(token=PD_CANARY, echo_headers=True)) as fake:
        probe = requests.get(fake.url + "/incidents", headers={"Authorization": f"Token token={PD_CANARY}"},
                             timeout=30)
        assert probe.status_code == 400 and PD_CANARY in probe.text
        extra = f'token_env = "{token_env}"\n' if token_env else ""
        db = tmp_path / "w.duckdb"
        proc = run_cli(["--db", str(db), "--config", str(pagerduty_config(tmp_path, fake, extra)),
                        "sync", "pagerduty"], {token_env or "PAGERDUTY_TOKEN": PD_CANARY})
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "HTTP 400" in proc.stderr
    assert not leaked(proc.stdout + proc.stderr, PD_CANARY), proc.stderr
    assert "[redacted]" in proc.stderr
    assert_warehouse_clean(db, PD_CANARY)
    page = assert_data_health_clean(db, PD_CANARY)
    assert "[redacted]" in page and "pagerduty" in page


def test_pagerduty_token_env_reads_that_variable(tmp_path):
    with running(FakePagerDuty(token=PD_CANARY)) as fake:
        fake.add("T1", "2026-02-10T00:00:00Z")
        cfg = pagerduty_config(tmp_path, fake, 'token_env = "CADENCE_PD_READ_TOKEN"\n')
        db = tmp_path / "w.duckdb"
        missing = run_cli(["--db", str(db), "--config", str(cfg), "sync", "pagerduty"], {"PAGERDUTY_TOKEN": PD_CANARY})
        assert missing.returncode == 1 and "CADENCE_PD_READ_TOKEN is missing or invalid" in missing.stderr
        ok = run_cli(["--db", str(db), "--config", str(cfg), "sync", "pagerduty"], {"CADENCE_PD_READ_TOKEN": PD_CANARY})
    assert ok.returncode == 0, ok.stderr
    assert "1 incident rows written" in ok.stderr


# -- the page, over a warehouse written before the fix --------------------------------------------

def test_data_health_scrubs_an_old_error_holding_a_token(db_path, monkeypatch):
    """A last_error stored by an older Cadence, read by a dashboard whose environment has no token:
    what looks like a credential is still not shown."""
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO sync_state (source, scope, last_error) VALUES ('github', 'shop/api', ?)",
                [f"GitHub answered 400 (Problems parsing request; request was:\r\nAuthorization: token {GH_CANARY}"
                 f"\r\nUser-Agent: cadence) for shop/api pulls."])
    con.close()
    page = assert_data_health_clean(db_path, GH_CANARY)
    assert "Authorization: token [redacted]" in page


# -- the scrubber ---------------------------------------------------------------------------------

SECRETS = {"GITHUB_TOKEN": GH_CANARY, "PAGERDUTY_TOKEN": PD_CANARY,
           "CADENCE_WEBHOOK_TOKEN": "wh-C4nary-0123456789abcdef0123",
           "AWS_SECRET_ACCESS_KEY": "aws/C4nary+Secret0123456789ABCDEFGHIJKLM",
           "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEC4naryS3ssion0123456789=="}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_every_secret_variable_is_scrubbed_in_any_rendering(monkeypatch, name):
    from cadence.core.scrub import scrub

    monkeypatch.setenv(name, SECRETS[name])
    value = SECRETS[name]
    for text in (f"failed: {value}", f"{{'x': '{value}'}}", f'{{"x":"{value}"}}', f"x={value}&y=1",
                 f"({value})", f"{value}\n{value}"):
        assert not leaked(scrub(text), value), text
        assert "[redacted]" in scrub(text)


def test_patterns_without_a_configured_value():
    """Header, bearer, basic, query-parameter and URL-credential shapes, with no variable set."""
    from cadence.core.scrub import scrub

    cases = {
        "Authorization: Bearer abc.DEF-123_456": "abc.DEF-123_456",
        "'Authorization': 'token 0123456789abcdef'": "0123456789abcdef",
        '{"authorization":"Basic dXNlcjpwYXNzd29yZDEyMw=="}': "dXNlcjpwYXNzd29yZDEyMw",
        "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==": "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
        "PRIVATE-TOKEN: glpat-0123456789abcdefghij": "glpat-0123456789abcdefghij",
        "X-Api-Key: k3y0123456789": "k3y0123456789",
        "sent Token token=y_NbAkKc66ryYTWUXYEu": "y_NbAkKc66ryYTWUXYEu",
        "GET /api/v1/query?query=up&token=s3cr3t0value HTTP/1.1": "s3cr3t0value",
        "https://hooks.example/x?access_token=abc123def456&b=2": "abc123def456",
        "smtp://cadence:hunter2pass@mail.example:587": "hunter2pass",
        "redirect to https://ops:Pa55w0rd!@prometheus.example/api": "Pa55w0rd!",
        "client_secret=Zm9vYmFyYmF6cXV4MTIz": "Zm9vYmFyYmF6cXV4MTIz",
        "s3://b/k?X-Amz-Security-Token=IQoJb3JpZ2luX2Vj0123&X-Amz-Signature=9f86d081884c7d65": "9f86d081884c7d65",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260301, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7":
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        "password: correct-horse-9-battery": "correct-horse-9-battery",
        "bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl": "eyJhbGciOiJSUzI1NiJ9",
        "token ghs_16C7e42F292c6912E7710c838347Ae178B4a rejected": "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        "see https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX": "XXXXXXXXXXXXXXXXXXXXXXXX",
    }
    for text, secret in cases.items():
        out = scrub(text)
        assert secret not in out and "[redacted]" in out, (text, out)
        assert scrub(out) == out, "scrubbing twice changes nothing more"


def test_ordinary_messages_are_left_alone():
    from cadence.core.scrub import scrub

    for text in (
        'Repository "acme/api" not found, or the token lacks repo scope; check GITHUB_TOKEN.',
        "GITHUB_TOKEN is not set; set GITHUB_TOKEN to a token that can read the repositories",
        "missing Authorization header; send `Authorization: Bearer $CADENCE_WEBHOOK_TOKEN`",
        "Authorization must be `Bearer <token>`",
        "uses basic authentication for the proxy; the bearer token is refused",
        "github shop/api: 3 pages, 212 rows, cursor now 2026-03-01T10:00Z",
        "PagerDuty /incidents answered HTTP 400: Invalid Input Provided: offset + limit must be at most 10000",
        "https://github.example.com/api/v3/repos/shop/api/pulls?page=2&per_page=100",
    ):
        assert scrub(text) == text


def test_a_future_source_registers_its_secret(monkeypatch):
    """A new source names its variable once; reading it through cadence.core.config.secret is enough."""
    from cadence.core.config import secret
    from cadence.core.scrub import register_secret_env, scrub, secret_env_names

    monkeypatch.setenv("CADENCE_SLACK_WEBHOOK_URL", "https://chat.example/hook/abcDEF0123456789")
    monkeypatch.setenv("CADENCE_SMTP_PASSWORD", "Smtp0Passw0rd0Canary")
    assert "abcDEF0123456789" in scrub("posting to https://chat.example/hook/abcDEF0123456789")
    register_secret_env("CADENCE_SLACK_WEBHOOK_URL")
    assert secret("CADENCE_SMTP_PASSWORD") == "Smtp0Passw0rd0Canary"
    assert {"CADENCE_SLACK_WEBHOOK_URL", "CADENCE_SMTP_PASSWORD", "GITHUB_TOKEN"} <= set(secret_env_names())
    assert scrub("posting to https://chat.example/hook/abcDEF0123456789 failed") == "posting to [redacted] failed"
    assert scrub("login failed for Smtp0Passw0rd0Canary") == "login failed for [redacted]"


@pytest.mark.timeout(60)   # a pattern that backtracks quadratically takes minutes on these
def test_scrub_handles_large_and_adversarial_messages(monkeypatch):
    """Megabyte bodies through the scrubber, every variable set, including runs built to make a
    careless pattern backtrack ("a.a.a…" once took 2 minutes for 200 KB); each is about 0.1 s here
    (measured, not asserted: the timeout catches a quadratic pattern)."""
    from cadence.core.scrub import scrub

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    body = ("Authorization: token " + GH_CANARY + "\r\nX: " + "a" * 200 + " token=" + "b" * 50 + " ") * 8000
    out = scrub(body)
    assert not leaked(out, GH_CANARY) and "b" * 50 not in out
    for unit in ("a.", "a-", "eyJ", "a://", "x://a:", "token ", "token=", "ghp_", "https://", "Authorization: "):
        text = unit * (400_000 // len(unit))
        assert len(scrub(text)) > 0


def test_log_records_keep_their_arguments_for_formatters_that_read_them():
    """uvicorn's access log formatter unpacks ``record.args``: a scrubbed record must keep them."""
    import io

    from uvicorn.logging import AccessFormatter

    from cadence.core.scrub import install_log_scrubber

    install_log_scrubber()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter("%(client_addr)s %(request_line)s %(status_code)s", use_colors=False))
    logger = logging.getLogger("uvicorn.access.scrub-test")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/hook?token=s3cr3t0value", "1.1", 200)
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/healthz", "1.1", 200)
    finally:
        logger.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert lines[0] == "127.0.0.1:5000 GET /hook?token=[redacted] HTTP/1.1 200 OK"
    assert lines[1] == "127.0.0.1:5000 GET /healthz HTTP/1.1 200 OK"
    assert len(lines) == 2


@pytest.mark.parametrize("source", ["github", "pagerduty"])
@pytest.mark.parametrize("pasted", ["y_NbAkKc66ryYTWUXYEu", GH_CANARY, PD_CANARY])
def test_a_token_pasted_as_token_env_is_refused_without_echoing_it(tmp_path, capsys, source, pasted):
    """token_env holds a variable's name; a token put there by mistake is refused and not repeated."""
    from cadence.cli import main

    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.{source}]\ntoken_env = "{pasted}"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "w.duckdb"), "sync", source]) == 1
    err = capsys.readouterr().err
    assert f"sources.{source}.token_env: must be the name of an environment variable" in err
    assert not leaked(err, pasted)


def test_token_env_elsewhere_is_refused(tmp_path, capsys, monkeypatch):
    from cadence.cli import main

    monkeypatch.setenv("CADENCE_WEBHOOK_TOKEN", "wh-C4nary-0123456789abcdef0123")
    cfg = tmp_path / "cadence.toml"
    cfg.write_text('[sources.webhook]\ntoken_env = "MY_HOOK_TOKEN"\n', encoding="utf-8")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "w.duckdb"), "webhook"]) == 1
    assert "sources.webhook.token_env: only [sources.github] and [sources.pagerduty]" in capsys.readouterr().err
