"""CI pipeline runs and jobs for the Brightcart demo (issue 18), deterministic in the seed.

Drawn from their own random generator (seeded from the demo's seed), after every other demo table,
so the other demo figures do not change. The story the rows tell:
* every repository has a ``ci`` workflow: pull-request runs on feature branches and push runs on
  ``main``, on GitHub-hosted Linux runners (data runs on its own self-hosted runners);
* catalog's test suite is flaky: a third of its failures pass when re-run on the same commit;
* growth's ``mobile-app`` builds iOS on macOS runners, whose minutes dominate the bill;
* in the fifth week before the end, checkout-api's ``main`` stays red for more than a day.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

SOURCE = "demo"
MOBILE_REPO = "mobile-app"
MOBILE_TEAM = "growth"
FLAKY_TEAM = "catalog"
RED_REPO = "checkout-api"
# team -> (median attempt minutes, failure share, runs per repo per weekday)
TEAM_CI = {"platform": (6, 0.05, 6.0), "growth": (11, 0.07, 4.0), "catalog": (14, 0.16, 3.0),
           "data": (18, 0.08, 1.5), "checkout": (16, 0.09, 2.5), "fulfilment": (25, 0.12, 1.2)}


def pipeline_rows(org: str, teams, start: date, days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pipeline_runs, pipeline_jobs) for ``teams`` (collectors.demo.TEAMS) over ``days`` from ``start``."""
    rng = np.random.default_rng([seed, 18])
    runs, jobs = [], []
    origin = pd.Timestamp(start)
    weekday = np.asarray(pd.date_range(start, periods=days, freq="D").day_of_week < 5)
    for team in teams:
        median, fail_share, per_day = TEAM_CI.get(team.name, (10, 0.08, 2.0))
        repos = list(team.repos) + ([MOBILE_REPO] if team.name == MOBILE_TEAM else [])
        for repo in repos:
            workflows = [("ci", median, "linux")]
            if repo == MOBILE_REPO:
                workflows = [("ci", 7, "linux"), ("ios-build", 38, "macos")]
            for wf, wf_median, os_name in workflows:
                lam = np.where(weekday, per_day, per_day * 0.1)
                counts = rng.poisson(lam)
                day_idx = np.repeat(np.arange(days), counts)
                n = len(day_idx)
                hours = day_idx * 24 + np.clip(rng.normal(13.0, 2.5, n), 7, 21)
                created = origin + pd.to_timedelta(np.sort(hours), unit="h")
                is_pr = rng.random(n) < 0.6
                duration = np.round(rng.lognormal(np.log(wf_median), 0.35, n), 2)
                queue = np.round(rng.lognormal(np.log(0.4 if os_name != "macos" else 2.5), 0.8, n), 2)
                failed = rng.random(n) < fail_share
                rerun = failed & (rng.random(n) < (0.35 if team.name == FLAKY_TEAM else 0.1))
                flaky_pass = rerun & (rng.random(n) < (0.9 if team.name == FLAKY_TEAM else 0.3))
                shas = rng.integers(0, 1 << 40, n)
                for i in range(n):
                    rid = f"demo:{org}/{repo}:{wf}:{i + 1}"
                    sha = f"{shas[i]:010x}"
                    branch = f"feature/{(i * 7919) % 997}" if is_pr[i] else "main"
                    event = "pull_request" if is_pr[i] else "push"
                    t0 = created[i]
                    attempts = [("failure" if failed[i] else "success", t0)]
                    if rerun[i]:
                        t1 = t0 + pd.Timedelta(minutes=float(duration[i] + queue[i] + 20))
                        attempts.append(("success" if flaky_pass[i] else "failure", t1))
                    if failed[i] and not is_pr[i] and not flaky_pass[i]:
                        # a broken main gets a fixing push within a couple of hours
                        fix_at = t0 + pd.Timedelta(hours=float(rng.lognormal(np.log(1.2), 0.5)))
                        fix_end = fix_at + pd.Timedelta(minutes=float(queue[i] + duration[i]))
                        runs.append((f"{rid}:fix", 1, f"{org}/{repo}", wf, "main", f"{shas[i] ^ 1:010x}", "push",
                                     "success", fix_at, fix_at, fix_at + pd.Timedelta(minutes=float(queue[i])),
                                     fix_end))
                        jobs += _jobs(f"{rid}:fix", 1, wf, os_name, team.name, fix_at,
                                      fix_at + pd.Timedelta(minutes=float(queue[i])), fix_end, "success")
                    for a, (conclusion, queued) in enumerate(attempts, start=1):
                        started = queued + pd.Timedelta(minutes=float(queue[i]))
                        finished = started + pd.Timedelta(minutes=float(duration[i]))
                        runs.append((rid, a, f"{org}/{repo}", wf, branch, sha, event, conclusion, t0, queued,
                                     started, finished))
                        jobs += _jobs(rid, a, wf, os_name, team.name, queued, started, finished, conclusion)
    runs_df = pd.DataFrame(runs, columns=["id", "attempt", "repo", "workflow", "branch", "sha", "event",
                                          "conclusion", "created_at", "queued_at", "started_at", "finished_at"])
    runs_df = _red_week(runs_df, org, origin, days)
    runs_df["status"] = "completed"
    runs_df["url"] = ("https://github.com/" + runs_df["repo"] + "/actions/runs/"
                      + runs_df["id"].str.rsplit(":", n=1).str[-1] + "/attempts/" + runs_df["attempt"].astype(str))
    runs_df["source"] = SOURCE
    jobs_df = pd.DataFrame(jobs, columns=["run_id", "attempt", "name", "runner_os", "runner_labels", "self_hosted",
                                          "queued_at", "started_at", "finished_at", "conclusion"])
    jobs_df = jobs_df[jobs_df.set_index(["run_id", "attempt"]).index.isin(
        runs_df.set_index(["id", "attempt"]).index)].reset_index(drop=True)
    jobs_df["source"] = SOURCE
    runs_df["attempt"] = runs_df["attempt"].astype("int32")
    jobs_df["attempt"] = jobs_df["attempt"].astype("int32")
    return runs_df, jobs_df


def _jobs(rid, attempt, wf, os_name, team, queued, started, finished, conclusion) -> list[tuple]:
    """Two jobs per attempt: a short lint beside the build/test job that takes the attempt's time."""
    self_hosted = team == "data"
    labels = ["self-hosted", "linux", "x64"] if self_hosted else {
        "linux": ["ubuntu-latest"], "macos": ["macos-14"], "windows": ["windows-latest"]}[os_name]
    lint_end = min(finished, started + pd.Timedelta(minutes=1.5))
    main = "build-ios" if wf == "ios-build" else "test"
    return [(rid, attempt, "lint", "linux", ["self-hosted", "linux", "x64"] if self_hosted else ["ubuntu-latest"],
             self_hosted, queued, started, lint_end, "success"),
            (rid, attempt, main, os_name, labels, self_hosted, queued, started, finished, conclusion)]


def _red_week(runs: pd.DataFrame, org: str, origin: pd.Timestamp, days: int) -> pd.DataFrame:
    """checkout-api's main goes red on the Tuesday of the fifth week before the end and stays red
    until Wednesday 15:00: the pushes in between fail, the next one fixes it."""
    tuesday = origin + pd.Timedelta(days=days - 7 * 5 + 1)
    broke, fixed = tuesday + pd.Timedelta(hours=10), tuesday + pd.Timedelta(hours=24 + 15)
    mask = (runs.repo == f"{org}/{RED_REPO}") & (runs.workflow == "ci") & (runs.branch == "main")
    window = mask & (runs.finished_at >= broke) & (runs.finished_at <= fixed)
    runs = runs[~window]
    extra = []
    for k, (conclusion, at) in enumerate([("failure", broke), ("failure", broke + pd.Timedelta(hours=5)),
                                          ("failure", broke + pd.Timedelta(hours=22)), ("success", fixed)]):
        start = at - pd.Timedelta(minutes=16)
        extra.append((f"demo:{org}/{RED_REPO}:ci:red-{k + 1}", 1, f"{org}/{RED_REPO}", "ci", "main",
                      f"badc0de{k:03d}", "push", conclusion, start, start, start, at))
    return pd.concat([runs, pd.DataFrame(extra, columns=runs.columns)], ignore_index=True)
