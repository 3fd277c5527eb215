"""Issue 13, item 1 (b): whatever times the warehouse holds, no page and no CLI command fails.

Rows written around Cadence (SQL in the duckdb shell) can hold times ingest refuses: year 10000,
275760, BC, 0001, or a year-9998 day that a long CLI range would take in. Each such row is left out
of every figure and counted on Data health with what to do; a far-future row does not move "data
through" (the end of the sidebar's presets). The rows go into a copy of the demo warehouse with
plain SQL, then every page renders under AppTest and the CLI runs over them.
"""

from __future__ import annotations

import csv
import io
import json
import shutil

import duckdb
import pytest

from cadence.cli import main
from tests.support.apptest_support import PAGES, dashboard_env, open_app
from tests.support.demo import shared_demo

pytestmark = pytest.mark.xdist_group("dashboard")

# Rows no writer of Cadence would store, one or more per time column the dashboard reads. Times
# are written as DuckDB literals: TIMESTAMP '0045-03-15 (BC)' is the "-0044-03-15" of ISO 8601.
BAD_ROWS = """
INSERT INTO deployments (id, repo, service, environment, sha, status, started_at, finished_at, source) VALUES
 ('bad:d1', 'brightcart/cart-service', 'cart', 'production', 'b1', 'success', NULL, TIMESTAMP '10000-01-01', 'sql'),
 ('bad:d2', 'brightcart/cart-service', 'cart', 'production', 'b2', 'success', NULL, TIMESTAMP '0045-03-15 (BC)', 'sql'),
 ('bad:d3', 'brightcart/cart-service', 'cart', 'production', 'b3', 'success', TIMESTAMP '0001-01-01',
  TIMESTAMP '2026-11-10 12:00', 'sql'),
 ('bad:d4', 'brightcart/cart-service', 'cart', 'production', 'b4', 'success', NULL, TIMESTAMP '9998-06-01', 'sql'),
 ('bad:d5', 'brightcart/cart-service', 'cart', 'production', 'b5', 'success', NULL, TIMESTAMP '275760-01-01', 'sql'),
 ('bad:d6', 'brightcart/cart-service', 'cart', 'production', 'b6', 'success', NULL, TIMESTAMP '9999-12-31 23:59', 'sql');
INSERT INTO changes (id, repo, number, title, first_commit_at, opened_at, first_review_at, merged_at, merge_sha,
                     source) VALUES
 ('bad:c1', 'brightcart/cart-service', 9001, 'far future', NULL, NULL, NULL, TIMESTAMP '10000-01-01', 'b1', 'sql'),
 ('bad:c2', 'brightcart/cart-service', 9002, 'year one', TIMESTAMP '0001-01-01', NULL, NULL,
  TIMESTAMP '2026-11-10 10:00', 'b3', 'sql'),
 ('bad:c3', 'brightcart/cart-service', 9003, 'opened late', NULL, TIMESTAMP '275760-01-01', NULL,
  TIMESTAMP '2026-11-10 09:00', NULL, 'sql'),
 ('bad:c4', 'brightcart/cart-service', 9004, 'reviewed BC', NULL, NULL, TIMESTAMP '0045-03-15 (BC)',
  TIMESTAMP '2026-11-10 09:30', NULL, 'sql');
INSERT INTO incidents (id, service, repo, title, severity, created_at, resolved_at, source) VALUES
 ('bad:i1', 'cart', NULL, 'far future', 'sev1', TIMESTAMP '275760-01-01', NULL, 'sql'),
 ('bad:i2', 'cart', NULL, 'resolved late', 'sev1', TIMESTAMP '2026-11-10 13:00', TIMESTAMP '10000-01-01', 'sql');
INSERT INTO costs (charge_date, source, provider, billing_account_id, sub_account_id, service_name, region,
                   resource_id, allocation_tag, team, billed_cost, effective_cost, currency, estimated) VALUES
 (DATE '10000-01-01', 'sql', 'AWS', '1', '', 'Amazon EC2', '', '', '', 'unallocated', 5, 5, 'USD', false),
 (DATE '0001-01-01', 'sql', 'AWS', '1', '', 'Amazon EC2', '', '', '', 'unallocated', 7, 7, 'USD', false);
INSERT INTO utilization (date, provider, resource, service, team, metric, avg, p95, capacity) VALUES
 (DATE '10000-01-01', 'AWS', 'i-bad', 'cart', 'platform', 'cpu', 0.5, 0.9, 4);
INSERT INTO commitments (date, provider, kind, utilization, coverage) VALUES
 (DATE '0001-01-01', 'AWS', 'savings_plan', 0.5, 0.5);
INSERT INTO sync_state (source, scope, cursor, last_success_at, last_attempt_at, rows_written) VALUES
 ('sql', 'odd', 'x', TIMESTAMP '10000-01-01', TIMESTAMP '0001-01-01', 0);
"""
# 6 deployments + 4 changes + 2 incidents + 2 costs + 1 utilization + 1 commitments = 16 rows.
BAD_COUNT = {"deployments": 6, "changes": 4, "incidents": 2, "costs": 2, "utilization": 1, "commitments": 1}


@pytest.fixture(scope="module")
def demo_dbs(tmp_path_factory):
    """(clean, odd): the demo warehouse, and a copy of it holding BAD_ROWS."""
    clean = shared_demo(tmp_path_factory)
    odd = tmp_path_factory.mktemp("odd-times") / "odd.duckdb"
    shutil.copy(clean, odd)
    with duckdb.connect(str(odd)) as con:
        con.execute(BAD_ROWS)
    return clean, odd


def sidebar_captions(at) -> list[str]:
    return [str(c.value) for c in at.sidebar.caption]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_over_odd_times(demo_dbs, page):
    clean, odd = demo_dbs
    with dashboard_env(clean):
        before = open_app(page)
    with dashboard_env(odd):
        at = open_app(page)
    assert not at.exception, [str(e.value)[:300] for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    # The far-future rows move neither "data through" nor the presets' dates.
    assert sidebar_captions(at) == sidebar_captions(before)
    assert any("data through" in c for c in sidebar_captions(at))
    # The rows are left out of every figure: the page's tiles read the same as without them.
    assert {m.label: m.value for m in at.metric} == {m.label: m.value for m in before.metric}


def test_data_health_counts_them_with_what_to_do(demo_dbs):
    clean, odd = demo_dbs
    with dashboard_env(odd):
        at = open_app("data_health")
    warnings = [str(w.value) for w in at.warning]
    for table, n in BAD_COUNT.items():
        found = [w for w in warnings if w.startswith(f"**{table}**: {n} row")]
        assert len(found) == 1, (table, warnings)
        assert "outside 1970-01-01" in found[0] and "left out of every figure" in found[0]
        assert "docs/operations.md" in found[0]
    with dashboard_env(clean):
        at = open_app("data_health")
    assert not [w for w in at.warning if "outside 1970-01-01" in str(w.value)]


def test_cli_metrics_drilldown_and_export_run_over_them(demo_dbs, capsys):
    clean, odd = demo_dbs
    # A range that takes in the year-9998 deployment: it is still left out.
    args = ["metrics", "--start", "2026-11-09", "--end", "9998-12-31", "--period", "total", "--format", "json"]
    outputs = []
    for db in (clean, odd):
        assert main(["--db", str(db), *args]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[1] == outputs[0]
    for kind in ("changes", "deployments", "incidents"):
        assert main(["--db", str(odd), "drilldown", kind, "--start", "2026-11-09", "--end", "2026-11-15",
                     "--format", "csv"]) == 0
        out = capsys.readouterr().out
        assert "bad:" not in out, kind
    assert main(["--db", str(odd), "export", "--week", "2026-W46", "--out", "-", "--only", "changes"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and not [r for r in rows if r["change_id"].startswith("bad:")]
