"""``cadence sync gitlab`` end to end against the fake GitLab on 127.0.0.1: two projects synced by
the CLI, then ``cadence metrics`` on what it wrote (hand-computed figures); a run killed mid-way
resumes to exactly one clean run; the token never leaves the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from cadence.cli import main
from tests.support.db import rows
from tests.support.fake_fixtures import TOKEN, fake_forge_fixtures
from tests.support.fake_gitlab import FakeGitLab, Fault
from tests.support.fake_gitlab import server as fake_server
from tests.support.fake_gitlab.scenarios import busy_project, two_projects



server, fake = fake_forge_fixtures(FakeGitLab, "GITLAB_TOKEN", "GitLab")


def write_config(tmp_path, fake, projects=("shop/api", "shop/web"), extra: str = "") -> str:
    cfg = tmp_path / "cadence.toml"
    cfg.write_text(f'[sources.gitlab]\nbase_url = "{fake.url}"\nprojects = {json.dumps(list(projects))}\n{extra}',
                   encoding="utf-8")
    return str(cfg)


def test_sync_gitlab_then_metrics_give_the_hand_computed_figures(fake, db_path, tmp_path, capsys):
    two_projects(fake)
    cfg = write_config(tmp_path, fake)
    assert main(["--db", str(db_path), "--config", cfg, "sync", "gitlab"]) == 0
    out = capsys.readouterr().out
    assert "GitLab: 2 of 2 projects synced" in out
    assert "rows written: 4 changes, 4 deployments, 4 deployment_changes, 2 incidents" in out
    assert "4 pipeline_runs, 8 pipeline_jobs" in out       # p1 twice (a retried job), p2, p3; 3 + 3 + 2 jobs
    assert "Requests: 13 (of which 0 answered 304 Not Modified)" in out   # 10 + 2 pipelines pages + 1 jobs page
    assert rows(db_path, "SELECT count(*) FROM deployment_changes") == [(4,)]

    assert main(["--db", str(db_path), "--config", cfg, "metrics", "--start", "2026-03-02", "--end", "2026-03-08",
                 "--period", "total", "--format", "json"]) == 0
    (m,) = json.loads(capsys.readouterr().out)
    # successful production deployments: shop/api 02 16:10 (the retry; the failure at 15:10 is not one),
    # shop/web 03 11:10 and 03 14:10; changes shipped: api !1, !2 (both with the retry), web !1, !2
    assert m["deployments"] == 3 and m["changes_deployed"] == 4
    # lead time, first commit → deployment finished:
    #   api!1 02 08:00 → 02 16:10 = 8.1667 h; api!2 02 12:00 → 16:10 = 4.1667 h;
    #   web!1 03 08:00 → 03 11:10 = 3.1667 h; web!2 03 12:00 → 14:10 = 2.1667 h
    #   median of 2.1667, 3.1667, 4.1667, 8.1667 = (3.1667 + 4.1667) / 2 = 3.6667 h
    assert m["lead_time_p50_hours"] == pytest.approx(3.6667, abs=1e-3)
    # pickup, opened → first review: api!1 09:00 → ben's approval 10:00 = 1 h; api!2 none (only its
    # author commented); web!1 09:00 → dee's comment 09:45 = 0.75 h; web!2 12:30 → approval 13:00 = 0.5 h
    #   median of 0.5, 0.75, 1 = 0.75 h
    assert m["pickup_p50_hours"] == pytest.approx(0.75)
    # deploy, merged → deployed: api!1 11:00 → 16:10 = 5.1667; api!2 14:00 → 16:10 = 2.1667;
    #   web!1 10:30 → 11:10 = 0.6667; web!2 13:30 → 14:10 = 0.6667; median (0.6667 + 2.1667) / 2 = 1.4167
    assert m["deploy_p50_hours"] == pytest.approx(1.4167, abs=1e-3)
    # incidents: "checkout down" 02 17:00-19:00 (2 h) and "slow pages", still open
    assert m["incidents"] == 2 and m["open_incidents"] == 1 and m["mttr_p50_hours"] == pytest.approx(2.0)


def test_a_failed_project_is_named_and_the_command_exits_1(fake, db_path, tmp_path, capsys):
    two_projects(fake)
    fake.tokens[TOKEN] = {"hidden": {"shop/web"}}
    cfg = write_config(tmp_path, fake)
    assert main(["--db", str(db_path), "--config", cfg, "sync", "gitlab"]) == 1
    captured = capsys.readouterr()
    assert "GitLab: 1 of 2 projects synced" in captured.out
    assert 'Error: 1 of 2 projects failed (the others were written); first: shop/web: Project "shop/web" ' \
           "not found, or the token cannot read it" in captured.err
    assert rows(db_path, "SELECT DISTINCT repo FROM changes") == [("shop/api",)]


def test_sync_gitlab_has_help(capsys):
    assert main(["sync", "gitlab", "--help"]) == 0
    out = capsys.readouterr().out
    assert "GITLAB_TOKEN" in out and "--project" in out


def test_the_token_is_never_shown_logged_or_stored(fake, tmp_path):
    """A canary token through a run that succeeds, fails per project (including an error body that
    quotes the token) and is rejected: absent from every output, log line and byte of the database."""
    canary = "glpat-CANARY-5f3c9a7e1d2b4c6a"
    two_projects(fake)
    fake.add_project("shop/secret").commit("init", "2026-03-01T00:00:00Z")
    fake.tokens = {canary: {"hidden": {"shop/secret"}}}
    fake.add_fault(fake_server.PROJECTS + "/shop%2Fweb",
                   Fault(403, {"message": f"403 Forbidden - token {canary} lacks the read_api scope"}))
    db = tmp_path / "canary.duckdb"
    cfg = write_config(tmp_path, fake, projects=("shop/api", "shop/web", "shop/secret"))
    env = {**os.environ, "GITLAB_TOKEN": canary}
    code = "import sys; from cadence.cli import main; sys.exit(main())"
    good = subprocess.run([sys.executable, "-c", code, "-vv", "--db", str(db), "--config", cfg, "sync", "gitlab"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert good.returncode == 1                                   # two projects failed, one written
    assert "[GITLAB_TOKEN]" in good.stdout + good.stderr          # the quoted token was scrubbed
    assert rows(db, "SELECT count(*) FROM changes") == [(2,)]
    bad = subprocess.run([sys.executable, "-c", code, "-vv", "--db", str(db), "--config", cfg, "sync", "gitlab"],
                         env={**env, "GITLAB_TOKEN": canary + "-revoked"}, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "rejected the token (401" in bad.stderr
    for text in (good.stdout, good.stderr, bad.stdout, bad.stderr):
        assert canary not in text
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("canary.duckdb"))
    assert stored and canary.encode() not in stored
    assert all(canary not in str(v) for r in rows(db, "SELECT * FROM sync_state") for v in r)


@pytest.mark.slow
def test_a_killed_sync_resumes_without_loss_or_duplicates(fake, tmp_path):
    """`cadence sync gitlab` in its own process, killed (SIGKILL) while a request hangs in the middle
    of the second project; the next run ends with exactly the rows and cursors of one clean sync."""
    from tests.support.kill_support import RUN_CLI, kill_while_held

    busy_project(fake, "shop/api", merge_requests=300, deployments=60, seed=3, pipelines=100)
    web = busy_project(fake, "shop/web", merge_requests=300, deployments=60, start="2025-02-03T09:00:00Z", seed=4,
                       method="squash_ff", pipelines=100)
    cfg = write_config(tmp_path, fake, extra="parallelism = 1\n")
    tables = ("changes", "deployments", "deployment_changes", "incidents", "pipeline_runs", "pipeline_jobs")

    def snapshot(db):
        got = {t: sorted(rows(db, f"SELECT * FROM {t}"), key=repr) for t in tables}
        got["cursors"] = sorted(rows(db, "SELECT scope, cursor FROM sync_state WHERE source = 'gitlab'"))
        return got

    reference = tmp_path / "reference.duckdb"
    assert main(["--db", str(reference), "--config", cfg, "sync", "gitlab"]) == 0
    expected = snapshot(reference)
    api_graphql = sum(1 for q in fake.requests if q["project"] == "shop/api" and q["path"] == fake_server.GRAPHQL_PATH)
    web_graphql = sum(1 for q in fake.requests if q["project"] == "shop/web" and q["path"] == fake_server.GRAPHQL_PATH)
    assert api_graphql >= 3 and web_graphql >= 3                      # several pages each

    # Let shop/api's GraphQL requests and the first of shop/web's through, then hold the next one.
    fake.reset_log()
    release = threading.Event()
    fake.add_fault(fake_server.GRAPHQL_PATH, *[fake_server.passthrough()] * (api_graphql + 1),
                   fake_server.hang(release))
    db = tmp_path / "killed.duckdb"
    kill_while_held(RUN_CLI, ["--db", str(db), "--config", cfg, "sync", "gitlab"],
                    lambda: fake.hanging, release, env={**os.environ, "GITLAB_TOKEN": TOKEN})

    # What the killed run committed: shop/api whole, nothing of shop/web; never more than a clean sync.
    partial = snapshot(db)
    api = [r for r in expected["changes"] if r[0].startswith("gitlab:shop/api!")]
    assert partial["changes"] == api and 0 < len(api) < len(expected["changes"])
    assert not [c for c in partial["cursors"] if c[0].startswith("shop/web")]

    fake.faults.clear()
    assert main(["--db", str(db), "--config", cfg, "sync", "gitlab"]) == 0
    assert snapshot(db) == expected

    # Killed again on a fresh database, this time in the middle of shop/web's jobs: 100 pipelines of
    # 5 jobs + 10 retries = 510 jobs, 6 pages of 100; the third is held.
    assert len(expected["pipeline_jobs"]) == 2 * 510 and len(expected["pipeline_runs"]) == 2 * 110
    jobs_path = f"{fake_server.PROJECTS}/{web.id}/jobs"
    release = threading.Event()
    fake.hanging = 0
    fake.add_fault(jobs_path, fake_server.passthrough(), fake_server.passthrough(), fake_server.hang(release))
    db2 = tmp_path / "killed-in-jobs.duckdb"
    kill_while_held(RUN_CLI, ["--db", str(db2), "--config", cfg, "sync", "gitlab"],
                    lambda: fake.hanging, release, env={**os.environ, "GITLAB_TOKEN": TOKEN})
    partial = snapshot(db2)
    assert partial["pipeline_runs"] == [r for r in expected["pipeline_runs"] if r[0].startswith("gitlab:shop/api:")]
    assert not [c for c in partial["cursors"] if c[0].startswith("shop/web")]
    fake.faults.clear()
    assert main(["--db", str(db2), "--config", cfg, "sync", "gitlab"]) == 0
    assert snapshot(db2) == expected
