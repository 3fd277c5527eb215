"""The demo warehouse: deterministic, believable, safe to rebuild.

One full build per module (about 2 s); the profile checks compute their figures with plain SQL
here rather than through metrics/, so they test the data, not the metrics layer.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from cadence.cli import main
from cadence.core.config import DEMO_DB, Config, parse_config
from warehouse.meta import effective_config, is_demo_database
from collectors.demo import anchor_end, build_demo
from cadence.core.errors import WarehouseError
from warehouse import read_connection

# One worker builds the module's demo once. (pytest-xdist 3.8 under pytest 9 ignores this mark,
# pytest-xdist#1386: each worker then builds its own, about 2 s.)
pytestmark = pytest.mark.xdist_group("demo")

TODAY = date(2026, 3, 4)            # a Wednesday: the demo ends Sunday 2026-03-01
TABLES = ("deployments", "changes", "deployment_changes", "incidents", "costs", "utilization",
          "commitments", "sli_hours", "pipeline_runs", "pipeline_jobs", "warehouse_meta")


def checksums(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every row, per table."""
    with read_connection(path) as con:
        return {t: con.execute(f"SELECT count(*), md5(string_agg(r::VARCHAR, '|' ORDER BY r::VARCHAR)) "
                               f"FROM {t} r").fetchone() for t in TABLES}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    counts = build_demo(path, seed=42, today=TODAY)
    return path, counts, checksums(path)


@pytest.fixture(scope="module")
def cfg(demo) -> Config:
    with read_connection(demo[0]) as con:
        raw = con.execute("SELECT value FROM warehouse_meta WHERE key = 'demo_config'").fetchone()[0]
    return parse_config(json.loads(raw))


def query(path, sql, params=()):
    with read_connection(path) as con:
        return con.execute(sql, list(params)).fetchall()


def team_table(cfg: Config) -> str:
    """A VALUES list (team, repo) from the demo config; names come from our own config."""
    rows = ", ".join(f"('{t}', '{r}')" for t, team in cfg.teams.items() for r in team.repos)
    return f"(VALUES {rows}) AS rt(team, repo)"


def test_anchor_is_the_sunday_before_today():
    assert anchor_end(date(2026, 3, 4)) == date(2026, 3, 1)      # Wednesday -> last Sunday
    assert anchor_end(date(2026, 3, 2)) == date(2026, 3, 1)      # Monday -> yesterday
    assert anchor_end(date(2026, 3, 1)) == date(2026, 2, 22)     # Sunday -> the week before


def test_counts_in_plausible_ranges(demo):
    path, counts, sums = demo
    assert {t: sums[t][0] for t in counts} == counts            # what it reports is what is there
    assert 4_000 <= counts["deployments"] <= 15_000
    assert 5_000 <= counts["changes"] <= 15_000
    assert 500 <= counts["deployment_changes"] <= 5_000
    assert 150 <= counts["incidents"] <= 600
    assert 30_000 <= counts["costs"] <= 120_000
    assert 20_000 <= counts["utilization"] <= 100_000
    assert 364 <= counts["commitments"] <= 2 * 364
    assert 10_000 <= counts["pipeline_runs"] <= 40_000        # CI attempts (issue 18)
    assert 2 * counts["pipeline_runs"] - 500 <= counts["pipeline_jobs"] <= 2 * counts["pipeline_runs"]
    span = query(path, "SELECT min(charge_date), max(charge_date), max(finished_at) FROM costs, deployments")[0]
    assert span[0] == date(2025, 3, 3) and span[1] == date(2026, 3, 1)   # 52 ISO weeks
    assert span[2].date() <= date(2026, 3, 1)


@pytest.mark.slow
def test_same_seed_same_rows_and_rebuild_replaces_the_file(demo, tmp_path):
    path, _, first = demo
    reader = duckdb.connect(str(path), read_only=True)  # a dashboard mid-query keeps its file
    try:
        build_demo(path, seed=42, today=TODAY)          # over the existing file
        assert reader.execute("SELECT count(*) FROM costs").fetchone()[0] == first["costs"][0]
    finally:
        reader.close()
    assert checksums(path) == first
    assert [p.name for p in path.parent.iterdir()] == [path.name]   # no temporary file left
    other = tmp_path / "other.duckdb"
    build_demo(other, seed=7, today=TODAY)
    assert checksums(other)["deployments"] != first["deployments"]
    assert checksums(other)["costs"] != first["costs"]


def test_failed_rebuild_leaves_the_previous_demo_intact(demo, monkeypatch):
    path, _, first = demo

    def broken(con, key, value):
        raise RuntimeError("disk full")

    monkeypatch.setattr("collectors.demo.build.set_meta", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        build_demo(path, seed=99, today=TODAY)
    assert checksums(path) == first
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_refuses_to_replace_a_real_database(db_path):
    with read_connection(db_path) as con:
        before = con.execute("SELECT count(*) FROM schema_version").fetchone()
    with pytest.raises(WarehouseError, match="not a Cadence demo database.*--force"):
        build_demo(db_path, seed=1, today=TODAY)
    with read_connection(db_path) as con:
        assert con.execute("SELECT count(*) FROM schema_version").fetchone() == before
        assert con.execute("SELECT count(*) FROM warehouse_meta").fetchone() == (0,)


def test_meta_and_config(demo, cfg):
    path = demo[0]
    meta = dict(query(path, "SELECT key, value FROM warehouse_meta"))
    assert meta["is_demo"] == "true" and is_demo_database(path)
    assert len(cfg.teams) >= 5
    repos = {r for t in cfg.teams.values() for r in t.repos}
    services = {s for t in cfg.teams.values() for s in t.services}
    assert len(repos) >= 15 and len(services) >= 15
    # every repo and service in the data belongs to exactly one team
    for (repo,) in query(path, "SELECT DISTINCT repo FROM changes UNION SELECT DISTINCT repo FROM deployments"):
        assert len(cfg.teams_of("repo", repo)) == 1, repo
    for (service,) in query(path, "SELECT DISTINCT service FROM deployments UNION "
                                  "SELECT DISTINCT service FROM incidents WHERE service IS NOT NULL"):
        assert len(cfg.teams_of("service", service)) == 1, service
    for (tag,) in query(path, "SELECT DISTINCT allocation_tag FROM costs WHERE team <> 'unallocated'"
                              " AND allocation_tag <> ''"):
        assert cfg.teams_of("cost_tag", tag), tag
    # effective_config hands the demo's teams to whoever computes metrics
    assert set(effective_config(Config(), path).teams) == set(cfg.teams)


def test_delivery_profiles_differ(demo, cfg):
    path = demo[0]
    rt = team_table(cfg)
    per_week = dict(query(path, f"""
        SELECT team, count(*) / 52.0 FROM deployments JOIN {rt} USING (repo)
        WHERE environment = 'production' AND status = 'success' GROUP BY team"""))
    assert per_week["platform"] >= 5 * per_week["fulfilment"], per_week
    assert per_week["platform"] >= 20                      # several a day
    assert 1 <= per_week["fulfilment"] <= 6                 # weekly-ish per service
    # Share of production deployments with an incident: explicit, or the latest deploy of the
    # same service within 7 days before the incident (the attribution rule of docs/metrics.md).
    linked = dict(query(path, f"""
        WITH prod AS (SELECT * FROM deployments WHERE environment = 'production' AND status = 'success'),
        attributed AS (
            SELECT coalesce(i.caused_by_deployment_id,
                   (SELECT p.id FROM prod p WHERE p.service = i.service AND p.finished_at <= i.created_at
                      AND p.finished_at >= i.created_at - INTERVAL 7 DAY ORDER BY p.finished_at DESC LIMIT 1)) AS dep_id
            FROM incidents i)
        SELECT team, avg((prod.id IN (SELECT dep_id FROM attributed WHERE dep_id IS NOT NULL))::INT) FROM prod JOIN {rt} USING (repo) GROUP BY team"""))
    assert linked["fulfilment"] > 4 * linked["platform"], linked
    assert 0.01 <= linked["platform"] <= 0.06 and 0.15 <= linked["fulfilment"] <= 0.4, linked
    # Lead time (first commit -> first production deploy started after the merge), medians.
    lead = dict(query(path, f"""
        SELECT team, median(epoch((SELECT min(p.finished_at) FROM deployments p
                 WHERE p.repo = c.repo AND p.environment = 'production' AND p.status = 'success'
                   AND p.started_at >= c.merged_at) - c.first_commit_at) / 3600)
        FROM changes c JOIN {rt} USING (repo) WHERE merged_at IS NOT NULL GROUP BY team"""))
    assert lead["platform"] < 12 and lead["fulfilment"] > 24 * 7, lead
    # The improving team deploys far more often at the end of the year than at its start.
    first, last = query(path, f"""
        SELECT count(*) FILTER (finished_at < DATE '2025-06-01'), count(*) FILTER (finished_at >= DATE '2025-12-01')
        FROM deployments JOIN {rt} USING (repo)
        WHERE team = 'checkout' AND environment = 'production' AND status = 'success'""")[0]
    assert last > 3 * first, (first, last)


def test_delivery_looks_real(demo):
    path = demo[0]
    one = lambda sql: query(path, sql)[0][0]  # noqa: E731
    # weekday rhythm
    assert one("SELECT avg((dayofweek(finished_at) IN (0, 6))::INT) FROM deployments "
               "WHERE environment = 'production'") < 0.1
    # every failed attempt is retried later with the same sha
    assert one("SELECT count(*) FROM deployments f WHERE status = 'failure'") > 50
    # (the last day's failures may be retried after the demo ends)
    assert one("""SELECT count(*) FROM deployments f WHERE status = 'failure'
                  AND f.started_at < TIMESTAMP '2026-03-01' AND NOT EXISTS (
                    SELECT 1 FROM deployments s WHERE s.service = f.service AND s.sha = f.sha
                    AND s.status = 'success' AND s.environment = f.environment AND s.started_at > f.started_at)""") == 0
    # staging before production, same sha
    assert one("""SELECT avg((EXISTS (SELECT 1 FROM deployments p WHERE p.repo = s.repo AND p.sha = s.sha
                    AND p.environment = 'production' AND p.started_at > s.started_at))::INT)
                  FROM deployments s WHERE environment = 'staging'""") > 0.95
    # rollbacks: the next deployment redeploys a sha the service already shipped
    assert one("""WITH p AS (SELECT *, lead(sha) OVER w AS next_sha, row_number() OVER w AS rn
                             FROM deployments WHERE environment = 'production' AND status = 'success'
                             WINDOW w AS (PARTITION BY service ORDER BY finished_at))
                  SELECT count(*) FROM p WHERE next_sha <> sha AND EXISTS (
                    SELECT 1 FROM p e WHERE e.service = p.service AND e.rn < p.rn AND e.sha = p.next_sha)""") >= 5
    # pull requests: most merges match a deployed sha, some explicit links, heavy-tailed review
    assert one("""SELECT avg((merge_sha IN (SELECT sha FROM deployments))::INT) FROM changes
                  WHERE merged_at IS NOT NULL""") > 0.5
    assert one("SELECT count(DISTINCT change_id) FROM deployment_changes") > 500
    p50, p90 = query(path, "SELECT quantile_cont(h, 0.5), quantile_cont(h, 0.9) FROM (SELECT "
                           "epoch(merged_at - first_review_at) / 3600 AS h FROM changes)")[0]
    assert p90 > 4 * p50
    assert one("SELECT count(*) FROM changes WHERE list_contains(labels, 'hotfix')") >= 10
    assert one("SELECT count(*) FROM changes WHERE title LIKE 'Revert \"%' AND list_contains(labels, 'revert')") >= 5
    assert one("SELECT count(*) FROM changes WHERE merged_at IS NULL") > 100
    assert one("SELECT count(*) FROM changes WHERE merged_at IS NOT NULL AND merged_at > "
               "(SELECT max(started_at) FROM deployments d WHERE d.repo = changes.repo)") >= 1
    assert one("SELECT count(DISTINCT author) FROM changes") >= 25
    # incidents: explicit links, open ones, and some nobody can attribute
    assert one("SELECT count(*) FROM incidents WHERE caused_by_deployment_id IS NOT NULL") >= 50
    assert one("SELECT count(*) FROM incidents WHERE resolved_at IS NULL") >= 2
    assert one("""SELECT count(*) FROM incidents i WHERE caused_by_deployment_id IS NULL AND NOT EXISTS (
                    SELECT 1 FROM deployments p WHERE p.environment = 'production' AND p.status = 'success'
                    AND (p.service = i.service OR (i.service IS NULL AND p.repo = i.repo))
                    AND p.finished_at BETWEEN i.created_at - INTERVAL 7 DAY AND i.created_at)""") >= 3
    assert one("SELECT count(DISTINCT severity) FROM incidents") >= 3


def test_costs_utilization_commitments_look_like_aws(demo, cfg):
    path = demo[0]
    one = lambda sql: query(path, sql)[0][0]  # noqa: E731
    assert one("SELECT count(DISTINCT service_name) FROM costs") >= 20
    assert one("SELECT count(DISTINCT sub_account_id) FROM costs") >= 4
    assert one("SELECT count(DISTINCT region) FROM costs") >= 3
    assert query(path, "SELECT DISTINCT provider, source FROM costs") == [("AWS", "demo")]
    tagged, untagged = query(path, "SELECT sum(effective_cost) FILTER (allocation_tag <> ''), "
                                   "sum(effective_cost) FILTER (allocation_tag = '') FROM costs")[0]
    assert 0.05 < untagged / (tagged + untagged) < 0.35                # a tag on most spend
    assert one("SELECT count(*) FROM costs WHERE allocation_tag = '' AND team = 'unallocated'") > 1000
    assert set(r[0] for r in query(path, "SELECT DISTINCT team FROM costs")) == set(cfg.teams) | {"unallocated"}
    # amortized differs from billed (Savings Plan, upfront reservation), totals in a sane range
    eff, billed = query(path, "SELECT sum(effective_cost), sum(billed_cost) FROM costs")[0]
    assert 1e6 < eff < 1e7 and billed > eff
    # growth: the last four weeks cost more than the first four
    early, late = query(path, """SELECT sum(effective_cost) FILTER (charge_date < DATE '2025-03-31'),
                                        sum(effective_cost) FILTER (charge_date > DATE '2026-02-01')
                                 FROM costs WHERE service_name <> 'AWS Support (Business)'""")[0]
    assert late > 1.1 * early
    # at least three anomalies: a day over 3x the median of the 14 days before, per service and team
    assert one("""WITH d AS (SELECT charge_date, service_name, team, sum(effective_cost) AS c FROM costs GROUP BY ALL),
                  m AS (SELECT *, median(c) OVER (PARTITION BY service_name, team ORDER BY charge_date
                                                 ROWS BETWEEN 14 PRECEDING AND 1 PRECEDING) AS med FROM d)
                  SELECT count(DISTINCT service_name || team) FROM m
                  WHERE c > 3 * med AND med > 20 AND day(charge_date + 2) > 2""") >= 3
    sp = query(path, "SELECT avg(utilization), min(utilization), max(utilization), avg(coverage) "
                     "FROM commitments WHERE kind = 'savings_plan'")[0]
    assert 0.8 <= sp[1] and sp[2] <= 0.97 and 0.84 <= sp[0] <= 0.93 and 0.4 < sp[3] < 0.9
    assert one("SELECT count(*) FROM commitments WHERE kind = 'reservation'") > 30
    cpu = dict(query(path, "SELECT team, avg(avg) FROM utilization WHERE metric = 'cpu' GROUP BY team"))
    assert set(cpu) == set(cfg.teams)
    assert all(cpu["catalog"] * 2.5 < v for t, v in cpu.items() if t != "catalog"), cpu
    assert one("SELECT count(*) FROM utilization WHERE NOT (avg BETWEEN 0 AND 1 AND p95 BETWEEN avg AND 1)") == 0


def test_cli_paths(tmp_path, monkeypatch):
    """`cadence demo` writes data/demo.duckdb, never CADENCE_DB; --db before or after `demo` wins."""
    written = []
    monkeypatch.setattr("collectors.demo.build_demo",
                        lambda path, seed, today, force: written.append((Path(path), seed)) or {"deployments": 1})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CADENCE_DB", str(tmp_path / "real.duckdb"))
    assert main(["demo"]) == 0
    assert main(["--db", "a.duckdb", "demo", "--seed", "3"]) == 0
    assert main(["demo", "--db", "b.duckdb"]) == 0
    assert written == [(DEMO_DB, 42), (Path("a.duckdb"), 3), (Path("b.duckdb"), 42)]


def test_cli_builds_and_refuses(tmp_path, capsys):
    target = tmp_path / "cli.duckdb"
    assert main(["demo", "--db", str(target), "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert f"Demo database written to {target}" in out and "deployments" in out
    assert is_demo_database(target)
    real = tmp_path / "real.duckdb"
    real.write_bytes(b"not a database")
    assert main(["demo", "--db", str(real)]) == 1
    assert "not a Cadence demo database" in capsys.readouterr().err
    assert real.read_bytes() == b"not a database"


def test_cost_teams_follow_the_allocation_rules(demo, cfg):
    """costs.team is what cadence.core.allocation would give each line under the demo's own config."""
    from cadence.core.allocation import Allocator

    allocator = Allocator(cfg)
    combos = query(demo[0], "SELECT DISTINCT allocation_tag, sub_account_id, billing_account_id, "
                            "service_name, team FROM costs")
    assert len(combos) > 100
    for tag, sub, billing, service, team in combos:
        assert allocator.team(tag, (sub, billing), service) == team, (tag, sub, service)
    # each rule kind is used: tag, account (platform's shared-services account), service (SES)
    kinds = {team for tag, _, _, _, team in combos if tag == ""}
    assert {"platform", "data", "growth", "unallocated"} <= kinds


def test_cadence_slo_on_the_demo_gives_every_documented_key(demo, capsys, monkeypatch, tmp_path):
    """The demo carries its SLOs (in its stored config) and their hourly SLIs, so `cadence slo` works on
    it with no cadence.toml: eight SLOs, exactly the keys of metrics.slo.SLO_STATUS_COLUMNS."""
    from collectors.demo.slo import DEMO_SLOS
    from metrics.slo import SLO_STATUS_COLUMNS

    monkeypatch.chdir(tmp_path)              # no cadence.toml around
    monkeypatch.delenv("CADENCE_CONFIG", raising=False)
    path = demo[0]
    assert query(path, "SELECT count(*) FROM sli_hours")[0][0] == len(DEMO_SLOS) * 364 * 24   # 8 SLOs x 52 weeks
    assert main(["--db", str(path), "slo", "--at", "2026-03-01", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [list(r) for r in rows] == [list(SLO_STATUS_COLUMNS)] * len(DEMO_SLOS)
    assert sorted(r["slo"] for r in rows) == sorted(s[0] for s in DEMO_SLOS)
    status = {r["slo"]: r["status"] for r in rows}
    # search-api degrades over the demo's last two days: the 1 h and 6 h burn exceed 14.4 and 6
    assert status["search-availability"] == "fast-burn"
    assert all(0 < r["total"] and 0 <= r["good"] <= r["total"] for r in rows)
    assert all(r["status"] in ("ok", "slow-burn", "fast-burn", "exhausted") for r in rows)
