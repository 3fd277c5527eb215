"""Benchmark: ``metrics.dora_metrics`` weekly by team for one year on a large synthetic warehouse,
against a straightforward pandas implementation of the same definitions written here.

The warehouse (1,000,000 deployments, 5,000,000 changes, 100,000 incidents over three years,
500 repos in 25 teams) is generated set-wise in DuckDB SQL from ``range()`` with hash-based
pseudo-random values, so it is the same for the same seed and takes seconds to build. It is kept
under benchmarks/out/ and rebuilt only when missing or with ``--rebuild``.

Each path runs in a fresh subprocess (its peak RSS is then its own); both results are compared
value by value (counts exactly, hours and rates to 1e-6). Prints the medians, the ratio and peak
memory. Usage::

    .venv/bin/python benchmarks/bench_metrics.py [--runs 3] [--rebuild] [--small]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

log = logging.getLogger("bench_metrics")

SEED = 20240607
START, END = date(2025, 1, 1), date(2025, 12, 31)     # the timed year (the last of three)
DATA_START = "2023-01-01"
SPAN_SECONDS = 1096 * 86400                              # 2023-01-01 .. 2025-12-31
FULL = {"deployments": 1_000_000, "changes": 5_000_000, "incidents": 100_000, "repos": 500, "teams": 25}
SMALL = {"deployments": 20_000, "changes": 100_000, "incidents": 2_000, "repos": 50, "teams": 5}

GENERATE = """
-- Deployments: 85 % production, 90 % successful; every 50th ships an old sha of its repo again
-- (so some are rollbacks); started at a pseudo-random second of the three years, 1-60 min long.
INSERT INTO deployments (id, repo, service, environment, sha, status, started_at, finished_at, source)
SELECT 'd' || i,
       'org/repo-' || lpad(CAST(r AS VARCHAR), 3, '0'),
       'svc-' || lpad(CAST(r AS VARCHAR), 3, '0'),
       CASE WHEN hash(i, $seed, 'env') % 100 < 85 THEN 'production' ELSE 'staging' END,
       CASE WHEN hash(i, $seed, 'rb') % 50 = 0 THEN 'old-' || r || '-' || (hash(i, $seed, 'old') % 40)
            ELSE 'sha' || i END,
       CASE WHEN hash(i, $seed, 'ok') % 100 < 90 THEN 'success' ELSE 'failure' END,
       TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i, $seed, 't') % $span AS BIGINT)),
       TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i, $seed, 't') % $span + 60 + hash(i, $seed, 'd') % 3540 AS BIGINT)),
       'bench'
FROM (SELECT i, hash(i, $seed, 'repo') % $repos AS r FROM range($deployments) t(i));

-- Changes: first commit at a random time, opened 0-48 h later, reviewed 0-24 h later (10 % never),
-- merged 0-24 h after that. The first 10 % squash-merge to the sha of deployment i of their repo
-- (found by sha); 5 % carry a hotfix label, 2 % are reverts.
INSERT INTO changes (id, repo, number, title, labels, first_commit_at, opened_at, first_review_at,
                     merged_at, merge_sha, source)
SELECT 'c' || i, repo, i,
       CASE WHEN hash(i, $seed, 'rev') % 100 < 2 THEN 'Revert "change ' || i || '"' ELSE 'change ' || i END,
       CASE WHEN hash(i, $seed, 'lab') % 100 < 5 THEN ['hotfix'] ELSE ['feature'] END,
       fc, op, rv, mg, sha, 'bench'
FROM (
    SELECT i, repo, sha, mg - to_seconds(CAST(h3 + h2 + h1 AS BIGINT)) AS fc,
           mg - to_seconds(CAST(h3 + h2 AS BIGINT)) AS op,
           CASE WHEN hash(i, $seed, 'norev') % 10 = 0 THEN NULL ELSE mg - to_seconds(CAST(h3 AS BIGINT)) END AS rv,
           mg
    FROM (
        SELECT c.i,
               coalesce(d.repo, 'org/repo-' || lpad(CAST(hash(c.i, $seed, 'repo') % $repos AS VARCHAR), 3, '0')) AS repo,
               coalesce(d.sha, 'm' || c.i) AS sha,
               coalesce(d.started_at - to_seconds(CAST(hash(c.i, $seed, 'lag') % 7200 AS BIGINT)),
                        TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(c.i, $seed, 'm') % $span AS BIGINT))) AS mg,
               hash(c.i, $seed, 'h1') % 172800 AS h1, hash(c.i, $seed, 'h2') % 86400 AS h2,
               hash(c.i, $seed, 'h3') % 86400 AS h3
        FROM range($changes) c(i)
        LEFT JOIN deployments d ON c.i < $changes / 10 AND d.id = 'd' || c.i
    )
);

-- Explicit links: 6 % of changes are linked to the production deployment of their repo that started
-- next after their merge (what a collector reading the deployment's commits would record).
INSERT INTO deployment_changes (deployment_id, change_id, source)
SELECT d.id, c.id, 'bench'
FROM (SELECT id, repo, merged_at FROM changes WHERE hash(number, $seed, 'x') % 100 < 6) c
ASOF JOIN (SELECT id, repo, started_at FROM deployments WHERE environment = 'production' AND status = 'success') d
  ON d.repo = c.repo AND d.started_at >= c.merged_at;

-- Incidents: on a random service at a random time, resolved 5 min - 3 days later (30 % of those of
-- the last week still open);
-- 20 % name a causing deployment explicitly.
INSERT INTO incidents (id, service, repo, title, severity, created_at, resolved_at, caused_by_deployment_id, source)
SELECT 'inc' || i,
       'svc-' || lpad(CAST(r AS VARCHAR), 3, '0'),
       'org/repo-' || lpad(CAST(r AS VARCHAR), 3, '0'),
       'incident ' || i, 'SEV2', ct,
       CASE WHEN ct >= TIMESTAMP '2025-12-24' AND hash(i, $seed, 'open') % 100 < 30 THEN NULL
            ELSE ct + to_seconds(CAST(300 + hash(i, $seed, 'dur') % 259200 AS BIGINT)) END,
       CASE WHEN hash(i, $seed, 'expl') % 100 < 20 THEN 'd' || (hash(i, $seed, 'dep') % $deployments) END,
       'bench'
FROM (SELECT i, hash(i, $seed, 'repo') % $repos AS r,
             TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i, $seed, 'c') % $span AS BIGINT)) AS ct
      FROM range($incidents) t(i));
"""


def bench_teams(sizes: dict) -> dict[str, dict[str, list[str]]]:
    """25 teams (or fewer), repo and service i owned by team i mod teams: the ``teams`` table of
    the configuration."""
    teams: dict[str, dict[str, list[str]]] = {}
    for r in range(sizes["repos"]):
        team = teams.setdefault(f"team-{r % sizes['teams']:02d}", {"repos": [], "services": []})
        team["repos"].append(f"org/repo-{r:03d}")
        team["services"].append(f"svc-{r:03d}")
    return teams


def bench_config(sizes: dict):
    """The configuration of ``bench_teams`` (nothing else set)."""
    from cadence.core.config import parse_config

    return parse_config({"teams": bench_teams(sizes)})


def bench_config_toml(sizes: dict) -> str:
    """``bench_config`` as a cadence.toml (``[teams.NAME]`` repos and services), for a server."""
    blocks = [f"[teams.{name}]\nrepos = {json.dumps(t['repos'])}\nservices = {json.dumps(t['services'])}\n"
              for name, t in bench_teams(sizes).items()]
    return "\n".join(blocks)


def build_warehouse(path: Path, sizes: dict) -> float:
    """Generate the synthetic warehouse at ``path``; returns seconds taken."""
    from warehouse import connect

    t0 = time.perf_counter()
    if path.exists():
        path.unlink()
    con = connect(path)
    try:
        for statement in [s for s in GENERATE.split(";\n") if s.strip()]:
            used = {k: v for k, v in {"seed": SEED, "span": SPAN_SECONDS, **sizes}.items()
                    if f"${k}" in statement}
            con.execute(statement, used)
        con.execute("CHECKPOINT")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # fixed table names
                  for t in ("deployments", "changes", "deployment_changes", "incidents")}
    finally:
        con.close()
    log.info("built %s in %.1f s: %s", path, time.perf_counter() - t0, counts)
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# The baseline: the same definitions, written the straightforward pandas way (read the tables,
# merge, merge_asof, groupby). It does not reuse anything from metrics/.
# ---------------------------------------------------------------------------------------------

def pandas_dora(db_path: Path, config, start: date, end: date):
    import duckdb
    import numpy as np
    import pandas as pd

    con = duckdb.connect(str(db_path), read_only=True)
    dep = con.execute("SELECT * FROM deployments").df()
    chg = con.execute("SELECT * FROM changes").df()
    links = con.execute("SELECT * FROM deployment_changes").df()
    inc = con.execute("SELECT * FROM incidents").df()
    con.close()

    t_start, t_end = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)
    window = pd.Timedelta(days=config.attribution_window_days)
    prod_envs = {e.lower() for e in config.production_environments}
    rework_labels = {label.lower() for label in config.rework_labels}

    prod = dep[(dep["status"].str.lower() == "success") & dep["environment"].str.lower().isin(prod_envs)
               & dep["finished_at"].notna()].copy()
    prod["start_key"] = prod["started_at"].fillna(prod["finished_at"])
    prod = prod.sort_values(["start_key", "finished_at", "id"])
    in_range = prod[(prod["finished_at"] >= t_start) & (prod["finished_at"] < t_end)]

    # change -> deployment: explicit, else same sha, else first started at/after the merge
    merged = chg[chg["merged_at"].notna()].copy()
    explicit = links.merge(prod[["id", "start_key", "finished_at"]], left_on="deployment_id", right_on="id")
    explicit = explicit.sort_values(["start_key", "finished_at", "deployment_id"]).groupby("change_id").first()
    by_sha = merged[["id", "repo", "merge_sha"]].merge(
        prod[["id", "repo", "sha"]].rename(columns={"id": "dep_id"}),
        left_on=["repo", "merge_sha"], right_on=["repo", "sha"])
    by_sha = by_sha.groupby("id")["dep_id"].first()          # prod is already in "first" order
    targets = prod.drop_duplicates(["repo", "start_key"])[["repo", "start_key", "id"]]
    targets = targets.rename(columns={"id": "inferred_id"}).sort_values("start_key")
    merged = merged.sort_values("merged_at")
    merged = pd.merge_asof(merged, targets, left_on="merged_at", right_on="start_key", by="repo",
                           direction="forward")
    merged["deployment_id"] = merged["id"].map(explicit["deployment_id"])
    merged["deployment_id"] = merged["deployment_id"].fillna(merged["id"].map(by_sha))
    merged["deployment_id"] = merged["deployment_id"].fillna(merged["inferred_id"])
    merged = merged.merge(prod[["id", "finished_at", "service"]].rename(
        columns={"id": "deployment_id", "finished_at": "deployed_at", "service": "deployment_service"}),
        on="deployment_id", how="left")
    done = merged[(merged["deployed_at"] >= t_start) & (merged["deployed_at"] < t_end)].copy()

    def hours(a, b):
        h = (a - b).dt.total_seconds() / 3600
        return h.where(h >= 0)

    done["lead"] = hours(done["deployed_at"], done["first_commit_at"].fillna(done["opened_at"]).fillna(done["merged_at"]))
    done["coding"] = hours(done["opened_at"], done["first_commit_at"])
    done["pickup"] = hours(done["first_review_at"], done["opened_at"])
    done["review"] = hours(done["merged_at"], done["first_review_at"].fillna(done["opened_at"]))
    done["deploy"] = hours(done["deployed_at"], done["merged_at"])
    done["is_rework"] = [
        bool(set(str(x).lower() for x in (labels if labels is not None else [])) & rework_labels)
        or str(title or "").lower().startswith("revert")
        for labels, title in zip(done["labels"], done["title"])]

    # incident -> deployment: explicit, else latest of the same service (repo without a service)
    # within the window
    targets = prod.sort_values(["finished_at", "id"]).drop_duplicates(["service", "finished_at"], keep="last")
    inc = inc.sort_values("created_at")
    cand = inc.copy()
    by_service = pd.merge_asof(cand[cand["service"].notna()], targets[["service", "finished_at", "id"]].rename(
        columns={"id": "match"}).sort_values("finished_at"), left_on="created_at", right_on="finished_at",
        by="service", direction="backward", tolerance=window)
    rtargets = prod.sort_values(["finished_at", "id"]).drop_duplicates(["repo", "finished_at"], keep="last")
    by_repo = pd.merge_asof(cand[cand["service"].isna() & cand["repo"].notna()],
                            rtargets[["repo", "finished_at", "id"]].rename(columns={"id": "match"})
                            .sort_values("finished_at"), left_on="created_at", right_on="finished_at",
                            by="repo", direction="backward", tolerance=window)
    attributed = pd.concat([by_service, by_repo, cand[cand["service"].isna() & cand["repo"].isna()]])
    attributed["deployment_id"] = attributed["caused_by_deployment_id"].fillna(attributed["match"])

    # failures: incidents, rollbacks
    failed_ids = set(attributed["deployment_id"].dropna())
    ordered = prod.sort_values(["service", "finished_at", "id"]).reset_index(drop=True)
    ordered["rank"] = np.arange(len(ordered))
    ordered["next_sha"] = ordered.groupby("service")["sha"].shift(-1)
    first_ship = ordered.groupby(["service", "sha"])["rank"].min().rename("first_rank").reset_index()
    ordered = ordered.merge(first_ship.rename(columns={"sha": "next_sha"}), on=["service", "next_sha"], how="left")
    rolled = ordered[ordered["sha"].notna() & ordered["next_sha"].notna() & (ordered["next_sha"] != ordered["sha"])
                     & (ordered["first_rank"] < ordered["rank"])]
    failed_ids |= set(rolled["id"])

    # rework: a rework change shipped, or an incident of the service open at finish
    rework_ids = set(done.loc[done["is_rework"], "deployment_id"])
    cover = inc[inc["service"].notna() & (inc["created_at"] < t_end)].copy()
    cover["until"] = cover["resolved_at"].fillna(pd.Timestamp("9999-12-31").as_unit("us"))
    cover = cover.sort_values("created_at")
    cover["open_until"] = cover.groupby("service")["until"].cummax()
    cover = cover.drop_duplicates(["service", "created_at"], keep="last")
    d = pd.merge_asof(in_range.sort_values("finished_at"), cover[["service", "created_at", "open_until"]],
                      left_on="finished_at", right_on="created_at", by="service", direction="backward")
    d["failed"] = d["id"].isin(failed_ids)
    d["rework"] = d["id"].isin(rework_ids) | (d["open_until"] >= d["finished_at"])

    # team scopes
    tm = pd.DataFrame(config.team_rows(), columns=["team", "kind", "value"])
    repo_team = tm[tm["kind"] == "repo"][["value", "team"]]
    service_team = tm[tm["kind"] == "service"][["value", "team"]]

    def scoped(frame, key, repo_col, service_col):
        a = frame.merge(repo_team, left_on=repo_col, right_on="value")
        b = frame.merge(service_team, left_on=service_col, right_on="value")
        return pd.concat([a, b]).drop_duplicates([key, "team"]).rename(columns={"team": "scope"})

    def week(ts):
        return (ts.dt.normalize() - pd.to_timedelta(ts.dt.day_of_week, unit="D")).dt.date

    ds = scoped(d, "id", "repo", "service")
    ds["period_start"] = week(ds["finished_at"])
    ds["day"] = ds["finished_at"].dt.date
    dep_totals = ds.groupby(["scope", "period_start"]).agg(
        deployments=("id", "size"), deployment_days=("day", "nunique"),
        failed_deployments=("failed", "sum"), rework_deployments=("rework", "sum"))
    cs = scoped(done, "id", "repo", "deployment_service")
    cs["period_start"] = week(cs["deployed_at"])
    g = cs.groupby(["scope", "period_start"])
    chg_totals = pd.DataFrame({
        "changes_deployed": g.size(),
        "lead_time_p50_hours": g["lead"].quantile(0.5), "lead_time_p75_hours": g["lead"].quantile(0.75),
        "lead_time_p90_hours": g["lead"].quantile(0.9), "coding_p50_hours": g["coding"].quantile(0.5),
        "pickup_p50_hours": g["pickup"].quantile(0.5), "review_p50_hours": g["review"].quantile(0.5),
        "deploy_p50_hours": g["deploy"].quantile(0.5)})
    ia = attributed[(attributed["created_at"] >= t_start) & (attributed["created_at"] < t_end)].copy()
    ia["rec"] = hours(ia["resolved_at"], ia["created_at"])
    ia["rec_attr"] = ia["rec"].where(ia["deployment_id"].notna())
    is_ = scoped(ia, "id", "repo", "service")
    is_["period_start"] = week(is_["created_at"])
    g = is_.groupby(["scope", "period_start"])
    inc_totals = pd.DataFrame({"incidents": g.size(), "open_incidents": g["resolved_at"].apply(lambda s: s.isna().sum()),
                               "recovery_time_p50_hours": g["rec_attr"].quantile(0.5),
                               "mttr_p50_hours": g["rec"].quantile(0.5)})
    out = dep_totals.join(chg_totals, how="outer").join(inc_totals, how="outer").reset_index()
    for c in ("deployments", "deployment_days", "failed_deployments", "rework_deployments",
              "changes_deployed", "incidents", "open_incidents"):
        out[c] = out[c].fillna(0).astype("int64")
    days = [(min(p + pd.Timedelta(days=7).to_pytimedelta(), end + pd.Timedelta(days=1).to_pytimedelta())
             - max(p, start)).days for p in out["period_start"]]
    out["deploys_per_week"] = out["deployments"] / (np.array(days) / 7.0)
    has = out["deployments"] > 0
    out["change_failure_rate"] = (out["failed_deployments"] / out["deployments"]).where(has)
    out["rework_rate"] = (out["rework_deployments"] / out["deployments"]).where(has)
    return out.sort_values(["scope", "period_start"]).reset_index(drop=True)


COMPARED = ("deployments", "deployment_days", "deploys_per_week", "changes_deployed",
            "lead_time_p50_hours", "lead_time_p75_hours", "lead_time_p90_hours", "coding_p50_hours",
            "pickup_p50_hours", "review_p50_hours", "deploy_p50_hours", "failed_deployments",
            "change_failure_rate", "incidents", "open_incidents", "recovery_time_p50_hours",
            "mttr_p50_hours", "rework_rate")


def compare(ours, theirs) -> list[str]:
    """Differences between the two results (empty when they agree)."""
    import numpy as np

    problems = []
    if len(ours) != len(theirs):
        problems.append(f"row count: warehouse {len(ours)}, pandas {len(theirs)}")
        return problems
    for column in ("scope", "period_start"):
        if list(ours[column]) != list(theirs[column]):
            problems.append(f"{column} differs")
    for column in COMPARED:
        a = ours[column].to_numpy(dtype="float64")
        b = theirs[column].to_numpy(dtype="float64")
        bad = ~(np.isclose(a, b, rtol=1e-9, atol=1e-6) | (np.isnan(a) & np.isnan(b)))
        if bad.any():
            i = int(np.argmax(bad))
            problems.append(f"{column}: {int(bad.sum())} rows differ, e.g. {ours.loc[i, 'scope']} "
                            f"{ours.loc[i, 'period_start']}: warehouse {a[i]!r}, pandas {b[i]!r}")
    return problems


def _child(mode: str, db_path: str, sizes_json: str, out_path: str) -> None:
    """Run one path in this (fresh) process; write timing, peak RSS and the result to out_path."""
    sizes = json.loads(sizes_json)
    config = bench_config(sizes)
    import duckdb  # noqa: F401  (imports are not what is timed)
    import pandas  # noqa: F401

    from metrics import dora_metrics
    from warehouse import read_connection

    def cpu_seconds() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    t0, c0 = time.perf_counter(), cpu_seconds()
    if mode == "warehouse":
        with read_connection(db_path) as con:
            df = dora_metrics(con, config, START, END, by="team", period="week")
    else:
        df = pandas_dora(Path(db_path), config, START, END)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(out_path, "wb") as fh:
        pickle.dump({"seconds": seconds, "cpu": cpu, "peak_mb": peak_mb, "df": df}, fh)


def run_child(mode: str, db_path: Path, sizes: dict) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as tmp:
        out = tmp.name
    try:
        subprocess.run([sys.executable, __file__, "--child", mode, str(db_path), json.dumps(sizes), out],
                       check=True, cwd=ROOT)
        with open(out, "rb") as fh:
            return pickle.load(fh)
    finally:
        os.unlink(out)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(*sys.argv[2:6])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs per path (median reported)")
    parser.add_argument("--pandas-runs", type=int, default=1, help="timed runs of the pandas path")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the synthetic warehouse")
    parser.add_argument("--small", action="store_true", help="a small warehouse (quick check)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sizes = SMALL if args.small else FULL
    data_dir = ROOT / "benchmarks" / "out"
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / ("metrics-small.duckdb" if args.small else "metrics.duckdb")
    if args.rebuild or not db_path.exists():
        build_seconds = build_warehouse(db_path, sizes)
        print(f"generated warehouse in {build_seconds:.1f} s ({db_path.stat().st_size / 1e6:.0f} MB)")

    import statistics

    ours = [run_child("warehouse", db_path, sizes) for _ in range(args.runs)]
    theirs = [run_child("pandas", db_path, sizes) for _ in range(args.pandas_runs)]
    problems = compare(ours[0]["df"], theirs[0]["df"])
    t_ours = statistics.median(r["seconds"] for r in ours)
    t_theirs = statistics.median(r["seconds"] for r in theirs)
    peak_ours = max(r["peak_mb"] for r in ours)
    peak_theirs = max(r["peak_mb"] for r in theirs)
    print(f"data: {sizes['deployments']:,} deployments, {sizes['changes']:,} changes, "
          f"{sizes['incidents']:,} incidents, {sizes['repos']} repos in {sizes['teams']} teams")
    print(f"query: dora_metrics by team, weekly, {START}..{END}: {len(ours[0]['df'])} rows")
    print(f"warehouse (DuckDB SQL): median {t_ours:.2f} s over {len(ours)} runs "
          f"({', '.join(format(r['seconds'], '.2f') for r in ours)}), peak RSS {peak_ours:.0f} MB")
    print(f"pandas baseline:        median {t_theirs:.2f} s over {len(theirs)} runs, peak RSS {peak_theirs:.0f} MB")
    cpu_ours = statistics.median(r["cpu"] for r in ours)
    cpu_theirs = statistics.median(r["cpu"] for r in theirs)
    print(f"CPU seconds (user+sys, median): warehouse {cpu_ours:.2f}, pandas {cpu_theirs:.2f}; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"ratio: warehouse is {t_theirs / t_ours:.1f}x faster (wall), {cpu_theirs / cpu_ours:.1f}x (CPU)")
    print("same numbers: " + ("yes" if not problems else "NO\n  " + "\n  ".join(problems)))
    ok = not problems and (args.small or (t_ours < 3.0 and t_theirs / t_ours >= 20 and peak_ours < 2048))
    print("targets (< 3 s, >= 20x, < 2 GB): " + ("met" if ok else "NOT met"))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
