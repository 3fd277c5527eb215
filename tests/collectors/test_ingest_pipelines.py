"""`cadence ingest pipeline_runs|pipeline_jobs` and the webhook's POST /pipeline_runs: CI attempts
and jobs from any CI, with the ingest rules (everything checked before anything is written,
line-named errors, times out of order are errors, upsert on the natural key)."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest
import requests

from cadence.cli import main
from cadence.core.errors import IngestError
from collectors.webhook import create_app
from tests.support.webhook_support import AUTH, TOKEN, serve_app
from collectors.files import ingest_file


def stored(db_path, sql="SELECT id, attempt, repo, workflow, branch, status, conclusion, created_at, queued_at, "
                        "started_at, finished_at, source FROM pipeline_runs ORDER BY id, attempt"):
    with duckdb.connect(str(db_path), read_only=True) as c:
        return c.execute(sql).fetchall()


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


RUNS_CSV = ("id,attempt,repo,workflow,branch,sha,event,conclusion,queued_at,started_at,finished_at,url\n"
            "jenkins:api:41,1,shop/api,api-build,main,abc,push,FAILURE,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,"
            "2026-03-02T10:11:00Z,https://jenkins.example/job/api-build/41/\n"
            "jenkins:api:41,2,shop/api,api-build,main,abc,push,SUCCESS,2026-03-02T11:00:00Z,2026-03-02 12:01+01:00,"
            "2026-03-02T11:09:00Z,https://jenkins.example/job/api-build/41/\n"
            "circle:web:7,,shop/web,build,feat/x,def,pull_request,,2026-03-02T12:00:00Z,2026-03-02T12:02:00Z,,\n")


def test_runs_and_jobs_load_and_a_second_ingest_changes_nothing(db_path, tmp_path):
    runs = write(tmp_path, "runs.csv", RUNS_CSV)
    result = ingest_file(db_path, "pipeline_runs", runs)
    assert (result.rows_read, result.inserted, result.updated) == (3, 3, 0)
    assert stored(db_path) == [
        # Jenkins' SUCCESS/FAILURE are GitHub's words; an attempt without a finish is in progress;
        # created_at defaults to queued_at; +01:00 converted to UTC; an empty attempt is 1
        ("circle:web:7", 1, "shop/web", "build", "feat/x", "in_progress", None, datetime(2026, 3, 2, 12),
         datetime(2026, 3, 2, 12), datetime(2026, 3, 2, 12, 2), None, "ingest"),
        ("jenkins:api:41", 1, "shop/api", "api-build", "main", "completed", "failure", datetime(2026, 3, 2, 10),
         datetime(2026, 3, 2, 10), datetime(2026, 3, 2, 10, 1), datetime(2026, 3, 2, 10, 11), "ingest"),
        ("jenkins:api:41", 2, "shop/api", "api-build", "main", "completed", "success", datetime(2026, 3, 2, 11),
         datetime(2026, 3, 2, 11), datetime(2026, 3, 2, 11, 1), datetime(2026, 3, 2, 11, 9), "ingest"),
    ]
    jobs = write(tmp_path, "jobs.jsonl",
                 '{"run_id": "jenkins:api:41", "attempt": 2, "name": "test", "runner_os": "Linux", '
                 '"runner_labels": ["self-hosted", "linux"], "self_hosted": true, "queued_at": "2026-03-02T11:00:00Z", '
                 '"started_at": "2026-03-02T11:01:00Z", "finished_at": "2026-03-02T11:09:00Z", "conclusion": "passed"}\n'
                 '{"run_id": "circle:web:7", "name": "build", "runner_os": "macos", '
                 '"started_at": "2026-03-02T12:02:00Z"}\n')
    assert ingest_file(db_path, "pipeline_jobs", jobs).inserted == 2
    assert stored(db_path, "SELECT run_id, attempt, name, runner_os, runner_labels, self_hosted, queued_at, "
                           "conclusion FROM pipeline_jobs ORDER BY run_id") == [
        ("circle:web:7", 1, "build", "macos", None, False, datetime(2026, 3, 2, 12, 2), None),
        ("jenkins:api:41", 2, "test", "linux", ["self-hosted", "linux"], True, datetime(2026, 3, 2, 11), "success")]
    again = ingest_file(db_path, "pipeline_runs", runs)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)


def test_times_out_of_order_and_bad_words_are_errors_naming_the_line(db_path, tmp_path):
    ingest_file(db_path, "pipeline_runs", write(tmp_path, "ok.csv", RUNS_CSV))
    before = stored(db_path)
    path = write(tmp_path, "bad.csv",
                 "id,attempt,repo,workflow,conclusion,queued_at,started_at,finished_at\n"
                 "r1,1,shop/api,ci,success,2026-03-02T10:00:00Z,2026-03-02T09:59:00Z,2026-03-02T10:05:00Z\n"  # 2
                 "r2,1,shop/api,ci,success,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,2026-03-02T10:00:30Z\n"  # 3
                 "r3,1,shop/api,ci,greenish,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,2026-03-02T10:02:00Z\n"  # 4
                 "r4,0,shop/api,ci,success,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,2026-03-02T10:02:00Z\n"   # 5
                 "r5,1,shop/api,ci,success,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,2026-03-02T10:02:00Z\n"
                 "r5,1,shop/api,ci,failure,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,2026-03-02T10:02:00Z\n"   # 7
                 "r6,1,,ci,success,2026-03-02T10:00:00Z,2026-03-02T10:01:00Z,2026-03-02T10:02:00Z\n")         # 8
    with pytest.raises(IngestError) as info:
        ingest_file(db_path, "pipeline_runs", path)
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{path}: 6 problems; nothing was written.")
    assert lines[1:] == [
        # (the CSV reader parsed the times already: they are shown as it read them, in UTC)
        f'{path}:2: started_at: "2026-03-02 09:59:00+00" is before the attempt was queued (2026-03-02 10:00:00+00); '
        "fix the times at their source",
        f'{path}:3: finished_at: "2026-03-02 10:00:30+00" is before the attempt started (2026-03-02 10:01:00+00); '
        "fix the times at their source",
        f'{path}:4: conclusion: "greenish" is not a conclusion; use one of success, failure, cancelled, skipped, '
        "timed_out, neutral, action_required, startup_failure, stale (empty while running)",
        f'{path}:5: attempt: "0" is not an attempt number (1, 2, ...)',
        f'{path}:7: "r5" appears again (first on line 6); each id + attempt once per input',
        f"{path}:8: repo: is empty; a value is required",
    ]
    assert stored(db_path) == before


def test_cli_ingest_pipeline_runs(db_path, tmp_path, capsys):
    path = write(tmp_path, "runs.csv", RUNS_CSV)
    assert main(["--db", str(db_path), "ingest", "pipeline_runs", str(path)]) == 0
    assert "pipeline_runs from" in capsys.readouterr().out
    bad = write(tmp_path, "bad.jsonl", '{"run_id": "x", "name": "build", "runner_os": "plan9"}\n')
    assert main(["--db", str(db_path), "ingest", "pipeline_jobs", str(bad)]) == 1
    assert f'{bad}:1: runner_os: "plan9" is not a runner OS; use one of linux, windows, macos' in capsys.readouterr().err


def test_webhook_post_pipeline_runs(db_path):
    base, stop = serve_app(create_app(db_path, TOKEN))
    try:
        run = {"id": "circleci:web:88", "repo": "shop/web", "workflow": "build", "branch": "main",
               "conclusion": "canceled", "queued_at": "2026-03-02T10:00:00Z", "started_at": "2026-03-02T10:01:00Z",
               "finished_at": "2026-03-02T10:03:00Z"}
        ok = requests.post(f"{base}/pipeline_runs", json=[run], headers=AUTH, timeout=10)
        assert ok.status_code == 200 and ok.json()["inserted"] == 1
        again = requests.post(f"{base}/pipeline_runs", json=run, headers=AUTH, timeout=10)   # a retried post
        assert again.status_code == 200 and again.json()["inserted"] == 0
        bad = requests.post(f"{base}/pipeline_runs", json={**run, "attempt": 2, "finished_at": "2026-03-02T09:00:00Z"},
                            headers=AUTH, timeout=10)
        assert bad.status_code == 422
        assert bad.json()["problems"] == [{"record": 1, "column": "finished_at", "reason":
                                           '"2026-03-02T09:00:00Z" is before the attempt started '
                                           '(2026-03-02T10:01:00Z); fix the times at their source'}]
        empty = requests.post(f"{base}/pipeline_runs", data=b" ", headers=AUTH, timeout=10)
        assert empty.status_code == 422 and "POST one pipeline run attempt object" in empty.json()["error"]
    finally:
        stop()
    assert stored(db_path, "SELECT id, attempt, conclusion, source FROM pipeline_runs") == [
        ("circleci:web:88", 1, "cancelled", "webhook")]
