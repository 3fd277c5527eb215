"""CI pipeline figures (metrics/pipelines.py) on hand-written rows in a real DuckDB file, with the
arithmetic beside each assertion. The week is Monday 2026-03-02 .. Sunday 2026-03-08."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from cadence.core.config import parse_config
from metrics.pipelines import (
    SUMMARY_KEYS,
    PipelineQueryError,
    pipeline_drilldown,
    pipeline_minutes,
    pipeline_red_spells,
    pipeline_summary,
    pipeline_workflows,
)
from warehouse import upsert_rows, write_connection

START, END = date(2026, 3, 2), date(2026, 3, 8)
NOW = datetime(2026, 3, 10)
CONFIG = parse_config({"teams": {"payments": {"repos": ["shop/api"]}, "web": {"repos": ["shop/web"]}}})


def t(day: int, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(2026, 3, day, hh, mm, ss)


def run(rid, attempt, sha, conclusion, created, started, finished, *, branch="main", event="push",
        workflow="ci", repo="shop/api", queued=None):
    return {"id": rid, "attempt": attempt, "repo": repo, "workflow": workflow, "branch": branch, "sha": sha,
            "event": event, "status": "completed" if finished else "in_progress", "conclusion": conclusion,
            "created_at": created, "queued_at": queued or started, "started_at": started,
            "finished_at": finished, "url": f"https://ci.example/{rid}/{attempt}", "source": "ingest"}


def job(rid, attempt, name, queued, started, finished, os="linux", labels=None, self_hosted=False):
    return {"run_id": rid, "attempt": attempt, "name": name, "runner_os": os, "runner_labels": labels or [],
            "self_hosted": self_hosted, "queued_at": queued, "started_at": started, "finished_at": finished,
            "conclusion": "success", "source": "ingest"}


RUNS = [
    run("r1", 1, "a", "failure", t(2, 10), t(2, 10, 2), t(2, 10, 12), queued=t(2, 10)),   # 10 min, opens a spell
    run("r1", 2, "a", "success", t(2, 10), t(2, 11, 1), t(2, 11, 9), queued=t(2, 11)),    # 8 min, re-run passes
    run("r2", 1, "b", "success", t(3, 9), t(3, 9), t(3, 9, 20)),                          # 20 min
    run("r3", 1, "c", "failure", t(4, 12), t(4, 12), t(4, 12, 30)),                       # 30 min, opens a spell
    run("r4", 1, "d", "success", t(4, 14), t(4, 14), t(4, 14, 30)),                       # 30 min, new commit fixes
    run("r5", 1, "e", "cancelled", t(5, 8), t(5, 8, 1), t(5, 8, 3), branch="feat", event="pull_request"),
    run("r6", 1, "f", "success", t(5, 9), t(5, 9, 5), t(5, 9, 25), branch="feat", event="pull_request",
        queued=t(5, 9)),                                                                   # 20 min
]
JOBS = [
    job("r1", 1, "build", t(2, 10), t(2, 10, 2), t(2, 10, 12)),                  # queue 2, 10 min linux
    job("r1", 2, "build", t(2, 11), t(2, 11, 1), t(2, 11, 9, 30)),               # queue 1, 8.5 -> 9 min linux
    job("r2", 1, "build", t(3, 9), t(3, 9), t(3, 9, 20), os="macos"),            # queue 0, 20 min macos
    job("r6", 1, "build", t(5, 9), t(5, 9, 5), t(5, 9, 25), os="windows"),       # queue 5, 20 min windows
    job("r6", 1, "lint", t(5, 9), t(5, 9, 1), t(5, 9, 2, 1), labels=["self-hosted", "linux"],
        self_hosted=True),                                                       # queue 1, 61 s -> 2 min
]


@pytest.fixture
def loaded(db_path):
    with write_connection(db_path) as con:
        upsert_rows(con, "pipeline_runs", RUNS)
        upsert_rows(con, "pipeline_jobs", JOBS)
    return db_path


def _con(path):
    from warehouse import read_connection
    return read_connection(path)


def test_summary_org_total(loaded):
    with _con(loaded) as con:
        df = pipeline_summary(con, CONFIG, START, END, now=NOW)
    assert list(df.columns[:1]) == ["scope"] and set(SUMMARY_KEYS) <= set(df.columns)
    row = df.iloc[0]
    assert len(df) == 1 and row.scope == "all"
    assert row.runs == 7                                   # 7 attempts (r1 twice)
    # pass: r1#2, r2, r4, r6 = 4; fail: r1#1, r3 = 2; r5 cancelled counted apart -> 4 / 6
    assert row.success_rate == pytest.approx(4 / 6)
    assert (row.passed_attempts, row.failed_attempts, row.excluded_attempts) == (4, 2, 1)
    # pairs with a failure: (ci, a) passed later on the same sha, (ci, c) never did -> 1 / 2
    assert row.flaky_rate == pytest.approx(0.5)
    # durations of pass/fail attempts: 8, 10, 20, 20, 30, 30 -> p50 (20 + 20) / 2 = 20;
    # p90 at position 0.9 x 5 = 4.5 between 30 and 30 = 30
    assert row.duration_p50_minutes == pytest.approx(20)
    assert row.duration_p90_minutes == pytest.approx(30)
    # queue minutes 2, 1, 0, 5, 1 -> sorted 0, 1, 1, 2, 5 -> p50 1
    assert row.queue_p50_minutes == pytest.approx(1)
    # red spells on main: 10:12 -> 11:09 on 03-02 (57 min = 0.95 h), 12:30 -> 14:30 on 03-04 (2 h)
    assert row.red_hours_default_branch == pytest.approx(2.95)
    # pull-request runs: r6 created 09:00, first pass/fail finish 09:25 -> 25 (r5 was only cancelled)
    assert row.feedback_p50_minutes == pytest.approx(25)
    # minutes 10 + 9 + 20 + 20 + 2 = 61; cost 19 x 0.008 + 20 x 0.08 + 20 x 0.016 + 2 x 0 = 2.072
    assert row.ci_minutes == 61
    assert row.ci_cost == pytest.approx(2.072)


def test_configured_rates_and_label_rates(loaded):
    config = parse_config({"pipelines": {"rates_usd_per_minute": {"macos": 0.1, "self-hosted": 0.5}}})
    with _con(loaded) as con:
        df = pipeline_summary(con, config, START, END, now=NOW)
    # the lint job's label "self-hosted" has a label rate 0.5: 2 x 0.5 = 1.0; macos 20 x 0.1 = 2.0;
    # linux 19 x 0.008 = 0.152; windows 20 x 0.016 = 0.32 -> 3.472
    assert df.iloc[0].ci_cost == pytest.approx(3.472)


def test_by_team_and_workflow_and_weeks(db_path):
    rows = RUNS + [run("w1", 1, "x", "failure", t(9, 10), t(9, 10), t(9, 10, 6), repo="shop/web",
                       workflow="e2e")]
    with write_connection(db_path) as con:
        upsert_rows(con, "pipeline_runs", rows)
        upsert_rows(con, "pipeline_jobs", JOBS)
    with _con(db_path) as con:
        teams = pipeline_summary(con, CONFIG, START, date(2026, 3, 15), by="team", period="week", now=NOW)
        wfs = pipeline_summary(con, CONFIG, START, date(2026, 3, 15), by="workflow", now=NOW)
    got = {(r.scope, str(r.period_start)): r for r in teams.itertuples()}
    assert set(got) == {("payments", "2026-03-02"), ("web", "2026-03-09")}
    assert got[("web", "2026-03-09")].runs == 1
    assert got[("web", "2026-03-09")].success_rate == 0.0          # 0 passes / 1 fail
    # web's spell opens 2026-03-09 10:06 and never closes: clipped at NOW 2026-03-10 00:00 = 13.9 h
    assert got[("web", "2026-03-09")].red_hours_default_branch == pytest.approx(13.9)
    assert sorted(wfs.scope) == ["shop/api: ci", "shop/web: e2e"]


def test_red_spell_crossing_weeks_is_split(db_path):
    rows = [run("s1", 1, "a", "failure", t(8, 20), t(8, 20), t(8, 22)),      # Sunday 22:00
            run("s2", 1, "b", "success", t(9, 1), t(9, 1), t(9, 4))]         # Monday 04:00
    with write_connection(db_path) as con:
        upsert_rows(con, "pipeline_runs", rows)
    with _con(db_path) as con:
        weeks = pipeline_summary(con, CONFIG, START, date(2026, 3, 15), period="week", now=NOW)
        spells = pipeline_red_spells(con, CONFIG, START, date(2026, 3, 15), now=NOW)
    red = dict(zip(weeks.period_start.astype(str), weeks.red_hours_default_branch, strict=True))
    # 22:00 -> 24:00 Sunday = 2 h in the week of 03-02; 00:00 -> 04:00 Monday = 4 h in the week of 03-09
    assert red == {"2026-03-02": pytest.approx(2.0), "2026-03-09": pytest.approx(4.0)}
    assert len(spells) == 1 and spells.iloc[0].red_hours == pytest.approx(6.0)
    assert spells.iloc[0].fixing_sha == "b" and spells.iloc[0].broken_sha == "a"


def test_default_branch_from_collector_and_config(db_path):
    rows = [run("d1", 1, "a", "failure", t(3, 10), t(3, 10), t(3, 11), branch="trunk"),
            run("d2", 1, "b", "success", t(3, 12), t(3, 12), t(3, 13), branch="trunk")]
    with write_connection(db_path) as con:
        upsert_rows(con, "pipeline_runs", rows)
    with _con(db_path) as con:
        plain = pipeline_summary(con, CONFIG, START, END, now=NOW)
        config = parse_config({"pipelines": {"default_branches": ["trunk"]}})
        configured = pipeline_summary(con, config, START, END, now=NOW)
    assert plain.iloc[0].red_hours_default_branch == 0          # trunk is not main/master
    assert configured.iloc[0].red_hours_default_branch == pytest.approx(2.0)   # 11:00 -> 13:00
    with write_connection(db_path) as con:   # a collector reported the repo's default branch
        con.execute("INSERT INTO sync_state (source, scope, details) VALUES ('github', 'shop/api', ?)",
                    ['{"default_branch": "trunk"}'])
    with _con(db_path) as con:
        reported = pipeline_summary(con, CONFIG, START, END, now=NOW)
    assert reported.iloc[0].red_hours_default_branch == pytest.approx(2.0)


def test_minutes_workflows_drilldown(loaded):
    with _con(loaded) as con:
        minutes = pipeline_minutes(con, CONFIG, START, END, now=NOW)
        wfs = pipeline_workflows(con, CONFIG, START, END, now=NOW)
        drill = pipeline_drilldown(con, CONFIG, START, END, by="team", scope="payments", now=NOW)
    by_os = {(r.runner_os, r.self_hosted): (r.ci_minutes, round(r.ci_cost, 4)) for r in minutes.itertuples()}
    # linux hosted 10 + 9 = 19 min x 0.008; macos 20 x 0.08; windows 20 x 0.016; self-hosted 2 x 0
    assert by_os == {("linux", False): (19, 0.152), ("macos", False): (20, 1.6),
                     ("windows", False): (20, 0.32), ("linux", True): (2, 0.0)}
    assert wfs.iloc[0].workflow == "ci" and wfs.iloc[0].runs == 7
    assert len(drill) == 7 and drill.url.str.startswith("https://ci.example/").all()
    r1 = drill[(drill.run_id == "r1") & (drill.attempt == 1)].iloc[0]
    assert r1.flaky_sha and r1.ci_minutes == 10


def test_unknown_grouping(loaded):
    with _con(loaded) as con, pytest.raises(PipelineQueryError, match="service"):
        pipeline_summary(con, CONFIG, START, END, by="service")


def test_weekly_export_gains_ci_cost_and_flaky_rate(loaded):
    from metrics.export import export_metrics_table, to_csv_bytes

    with _con(loaded) as con:
        df = export_metrics_table(con, CONFIG, START, END, by="team", period="week")
        by_service = export_metrics_table(con, CONFIG, START, END, by="service", period="week")
    row = df[df.scope == "payments"].iloc[0]
    # shop/api is payments': the week's cost 2.072 and flaky 1 / 2 (as test_summary_org_total)
    assert row.ci_cost == pytest.approx(2.072) and row.flaky_rate == pytest.approx(0.5)
    assert list(df.columns[-2:]) == ["ci_cost", "flaky_rate"]
    assert "2.07,0.5000" in to_csv_bytes(df[df.scope == "payments"]).decode()
    assert by_service.empty or by_service["ci_cost"].isna().all()
