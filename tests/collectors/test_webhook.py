"""collectors/webhook.py over real HTTP: uvicorn in a thread on 127.0.0.1, a real DuckDB file."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from cadence.cli import main
from collectors.webhook import create_app
from tests.support.lock_support import lock_contention_seen, lock_held
from tests.support.webhook_support import AUTH, TOKEN, deployment, serve_app
from warehouse import read_connection

@pytest.fixture
def url(db_path):
    base, stop = serve_app(create_app(db_path, TOKEN, max_body_bytes=64 * 1024))
    yield base
    stop()


def count(db_path, table="deployments"):
    with read_connection(db_path) as con:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table: fixed names


def test_healthz(url):
    r = requests.get(f"{url}/healthz", timeout=60)
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.parametrize("headers, reason", [
    ({}, "missing Authorization header"),
    ({"Authorization": "Bearer not-the-token-at-all"}, "invalid token"),
    ({"Authorization": f"Basic {TOKEN}"}, "must be `Bearer <token>`"),
    ({"Authorization": "Bearer "}, "must be `Bearer <token>`"),
])
def test_requests_without_the_right_token_are_refused(url, db_path, headers, reason):
    r = requests.post(f"{url}/deployments", json=deployment(1), headers=headers, timeout=60)
    assert r.status_code == 401
    assert reason in r.json()["error"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(db_path) == 0


def test_right_token_writes_one_object_and_a_list(url, db_path):
    r = requests.post(f"{url}/deployments", json=deployment(1), headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    r = requests.post(f"{url}/deployments", json=[deployment(2), deployment(3)], headers=AUTH,
                      timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["records"] == 2
    with read_connection(db_path) as con:
        got = con.execute("SELECT id, finished_at, source FROM deployments ORDER BY id").fetchall()
    # 10:05+01:00 is 09:05 UTC
    assert got == [(f"ci:{n}", datetime(2026, 2, 2, 9, 5), "webhook") for n in (1, 2, 3)]


def test_malformed_json_is_422_with_position(url, db_path):
    r = requests.post(f"{url}/deployments", data=b'{"id": "ci:1",\n "repo": }', headers=AUTH,
                      timeout=60)
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["error"] and "line 2" in r.json()["error"]
    r = requests.post(f"{url}/incidents", data=b'"just a string"', headers=AUTH, timeout=60)
    assert r.status_code == 422 and "object or a list" in r.json()["error"]
    assert count(db_path) == 0


def test_wrong_types_are_422_naming_the_field_and_write_nothing(url, db_path):
    # The first record is fine; the second has an unparseable time: all-or-nothing.
    body = [deployment(1), deployment(2, finished_at="yesterday-ish")]
    r = requests.post(f"{url}/deployments", json=body, headers=AUTH, timeout=60)
    assert r.status_code == 422
    assert "record 2" in r.json()["error"] and "finished_at" in r.json()["error"]
    assert [(p["record"], p["column"]) for p in r.json()["problems"]] == [(2, "finished_at")]
    r = requests.post(f"{url}/incidents", json={"id": "x:1", "service": "api"}, headers=AUTH,
                      timeout=60)  # no created_at
    assert r.status_code == 422 and "created_at" in r.json()["error"]
    assert count(db_path) == 0 and count(db_path, "incidents") == 0


def test_oversized_body_is_413(url, db_path):
    big = [deployment(n) for n in range(400)]  # ~100 KB > 64 KiB
    r = requests.post(f"{url}/deployments", data=json.dumps(big), headers=AUTH, timeout=60)
    assert r.status_code == 413 and "larger than 65536 bytes" in r.json()["error"]

    def chunks():  # chunked transfer: no Content-Length to reject up front
        for n in range(400):
            yield (json.dumps(deployment(n)) + " ").encode()
    r = requests.post(f"{url}/deployments", data=chunks(), headers=AUTH, timeout=60)
    assert r.status_code == 413
    assert count(db_path) == 0


def test_duplicate_posts_are_idempotent(url, db_path):
    for _ in range(2):
        r = requests.post(f"{url}/deployments", json=[deployment(1), deployment(2)], headers=AUTH,
                          timeout=60)
        assert r.status_code == 200, r.text
    # a re-post with a changed status replaces the row, it does not add one
    r = requests.post(f"{url}/deployments", json=deployment(2, status="failure"), headers=AUTH,
                      timeout=60)
    assert r.status_code == 200
    with read_connection(db_path) as con:
        assert con.execute("SELECT id, status FROM deployments ORDER BY id").fetchall() == [
            ("ci:1", "success"), ("ci:2", "failure")]


@pytest.mark.slow
def test_200_concurrent_posts_each_land_once(url, db_path):
    session_local = threading.local()

    def post(n):
        s = getattr(session_local, "s", None) or requests.Session()
        session_local.s = s
        # 200 posts queue for one writer: seconds each on a busy machine; the timeout is a deadline
        return s.post(f"{url}/deployments", json=deployment(n), headers=AUTH, timeout=300).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(200)))
    assert statuses == [200] * 200
    with read_connection(db_path) as con:
        assert con.execute("SELECT count(*), count(DISTINCT id) FROM deployments").fetchone() == (200, 200)


def test_waits_for_another_process_holding_the_database(url, db_path, monkeypatch):
    # Another process (a sync, say) holds the file read-write; the post finds it locked, waits,
    # and lands once the holder lets go.
    seen = lock_contention_seen(monkeypatch)
    answer: dict = {}
    with lock_held(db_path) as holder:
        post = threading.Thread(target=lambda: answer.update(r=requests.post(
            f"{url}/deployments", json=deployment(7), headers=AUTH, timeout=120)))
        post.start()
        assert seen.wait(120), "the webhook never found the database locked"
        assert not answer, "the post was answered while the database was locked"
        holder.release()
        post.join(120)
    assert answer["r"].status_code == 200, answer["r"].text
    assert count(db_path) == 1


def test_cli_refuses_to_start_without_a_token(tmp_path, capsys, monkeypatch):
    assert main(["--db", str(tmp_path / "w.duckdb"), "webhook", "--port", "0"]) == 1
    assert "CADENCE_WEBHOOK_TOKEN is not set" in capsys.readouterr().err
    monkeypatch.setenv("CADENCE_WEBHOOK_TOKEN", "short")
    assert main(["--db", str(tmp_path / "w.duckdb"), "webhook", "--port", "0"]) == 1
    assert "shorter than 16" in capsys.readouterr().err
    assert not (tmp_path / "w.duckdb").exists()


def test_cli_help():
    from click.testing import CliRunner

    from cadence.cli import cli
    out = CliRunner().invoke(cli, ["webhook", "--help"]).output
    assert "--host" in out and "127.0.0.1" in out and "CADENCE_WEBHOOK_TOKEN" in out
