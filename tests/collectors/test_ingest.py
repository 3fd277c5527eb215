"""collectors/files/ and `cadence ingest`: every kind loads, bad input is refused with file, line,
column and reason, nothing is written then, and the same file twice leaves the same rows."""

from __future__ import annotations

import sys
import textwrap
import threading
from pathlib import Path

import duckdb
import pytest

from cadence.cli import main
from cadence.core.config import parse_config
from cadence.core.errors import IngestError, WarehouseError
from tests.support.lock_support import lock_contention_seen, lock_held
from warehouse import write_connection
from collectors.files import SPECS, TABLES, ingest_file, ingest_records

REPO_ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def rows(db_path, sql):
    with duckdb.connect(str(db_path), read_only=True) as c:
        return c.execute(sql).fetchall()


def count(db_path, table):
    return rows(db_path, f"SELECT count(*) FROM {table}")[0][0]


def refused(db_path, kind, path, config=None) -> str:
    """The error message of an ingest that must fail, after checking it wrote nothing."""
    tables = ("deployments", "deployment_changes", "changes", "incidents", "costs")
    before = {t: count(db_path, t) for t in tables}
    with pytest.raises(IngestError) as info:
        ingest_file(db_path, kind, path, config=config or parse_config({}))
    assert {t: count(db_path, t) for t in tables} == before, "a refused file must write nothing"
    return str(info.value)


DEPLOYS = """
    id,repo,environment,status,finished_at,started_at,change_ids
    ci:1,shop/api,production,success,2026-03-02T10:00:00+02:00,2026-03-02T07:50:00Z,"c1,c2"
    ci:2,shop/web,staging,FAILED,2026-03-02 11:00,,
"""


# -- each kind loads ------------------------------------------------------------------------------

def test_deployments_load_with_utc_times_default_service_and_links(db_path, tmp_path):
    result = ingest_file(db_path, "deployments", write(tmp_path, "d.csv", DEPLOYS), config=parse_config({}))
    assert (result.rows_read, result.inserted, result.updated, result.links_written) == (2, 2, 0, 2)
    got = rows(db_path, "SELECT id, service, status, started_at::VARCHAR, finished_at::VARCHAR, source "
                        "FROM deployments ORDER BY id")
    # 10:00 at +02:00 is 08:00 UTC; a naive time is UTC; FAILED is the synonym of failure.
    assert got == [("ci:1", "shop/api", "success", "2026-03-02 07:50:00", "2026-03-02 08:00:00", "ingest"),
                   ("ci:2", "shop/web", "failure", None, "2026-03-02 11:00:00", "ingest")]
    assert rows(db_path, "SELECT deployment_id, change_id FROM deployment_changes ORDER BY 2") == \
        [("ci:1", "c1"), ("ci:1", "c2")]


def test_same_file_twice_leaves_the_same_rows(db_path, tmp_path):
    path = write(tmp_path, "d.csv", DEPLOYS)
    ingest_file(db_path, "deployments", path, config=parse_config({}))
    first = rows(db_path, "SELECT * FROM deployments ORDER BY id")
    again = ingest_file(db_path, "deployments", path, config=parse_config({}))
    assert (again.inserted, again.updated, again.unchanged, again.links_written) == (0, 0, 2, 0)
    assert rows(db_path, "SELECT * FROM deployments ORDER BY id") == first
    assert count(db_path, "deployment_changes") == 2


def test_a_changed_row_is_updated_and_links_replaced(db_path, tmp_path):
    ingest_file(db_path, "deployments", write(tmp_path, "d.csv", DEPLOYS), config=parse_config({}))
    changed = DEPLOYS.replace("FAILED", "success").replace('"c1,c2"', "c3")
    result = ingest_file(db_path, "deployments", write(tmp_path, "d2.csv", changed), config=parse_config({}))
    assert (result.inserted, result.updated) == (0, 1)  # ci:2's status; ci:1's row is the same, its links not
    assert rows(db_path, "SELECT status FROM deployments WHERE id = 'ci:2'") == [("success",)]
    assert rows(db_path, "SELECT change_id FROM deployment_changes") == [("c3",)]


def test_changes_jsonl_labels_array_and_csv_labels_string(db_path, tmp_path):
    jsonl = write(tmp_path, "c.jsonl", '{"id": "c1", "repo": "shop/api", "number": 7, "labels": ["hotfix", "ui"], '
                                       '"merged_at": "2026-03-01T12:00:00-05:00"}\n'
                                       '{"id": "c2", "repo": "shop/api", "merged_at": null}\n')
    ingest_file(db_path, "changes", jsonl, config=parse_config({}))
    csv = write(tmp_path, "c.csv", 'id,repo,labels\nc3,shop/web," revert , backend,"\n')
    ingest_file(db_path, "changes", csv, config=parse_config({}))
    assert rows(db_path, "SELECT id, number, labels, merged_at::VARCHAR FROM changes ORDER BY id") == [
        ("c1", 7, ["hotfix", "ui"], "2026-03-01 17:00:00"),   # 12:00 at -05:00 = 17:00 UTC
        ("c2", None, None, None),                              # not merged
        ("c3", None, ["revert", "backend"], None),
    ]


def test_updating_labels_only(db_path, tmp_path):
    ingest_file(db_path, "changes", write(tmp_path, "a.csv", "id,repo,labels\nc1,r,bug\n"), config=parse_config({}))
    result = ingest_file(db_path, "changes", write(tmp_path, "b.csv", "id,repo,labels\nc1,r,\"bug,hotfix\"\n"),
                         config=parse_config({}))
    assert result.updated == 1
    assert rows(db_path, "SELECT labels FROM changes") == [(["bug", "hotfix"],)]


def test_incidents_service_defaults_to_repo(db_path, tmp_path):
    path = write(tmp_path, "i.csv", """
        id,repo,created_at,resolved_at
        pd:1,shop/api,2026-03-02T12:00:00Z,2026-03-02T13:30:00Z
    """)
    ingest_file(db_path, "incidents", path, config=parse_config({}))
    assert rows(db_path, "SELECT service, repo FROM incidents") == [("shop/api", "shop/api")]


def test_costs_aliases_allocation_and_defaults(db_path, tmp_path, config):
    path = write(tmp_path, "k.csv", """
        date,service,amount,account,tags,currency,team
        2026-03-01,Amazon EC2,12.5,111,"{""team"": ""payments""}",usd,
        2026-03-01,Amazon S3,3,111,,,storefront
        2026-03-01,Amazon RDS,-1.25,222,,,
    """)
    result = ingest_file(db_path, "costs", path, config=config)
    assert result.inserted == 3
    got = rows(db_path, "SELECT service_name, provider, billing_account_id, allocation_tag, team, effective_cost, "
                        "billed_cost, currency FROM costs ORDER BY service_name")
    assert got == [
        ("Amazon EC2", "unknown", "111", "payments", "payments", 12.5, 12.5, "USD"),      # by the tag
        ("Amazon RDS", "unknown", "222", "", "unallocated", -1.25, -1.25, "USD"),        # a credit
        ("Amazon S3", "unknown", "111", "storefront", "storefront", 3.0, 3.0, "USD"),    # explicit team
    ]


def test_cost_export_headers_go_to_the_export_loader(db_path, tmp_path, capsys):
    path = write(tmp_path, "focus.csv", """
        BillingAccountId,ChargePeriodStart,ChargePeriodEnd,BilledCost,EffectiveCost,ProviderName,ServiceName,RegionId
        acct,2026-03-01 00:00:00,2026-03-02 00:00:00,2.5,2.0,AWS,Amazon EC2,us-east-1
    """)
    assert main(["--db", str(db_path), "ingest", "costs", str(path)]) == 0
    assert "focus" in capsys.readouterr().out
    assert rows(db_path, "SELECT source, effective_cost FROM costs") == [("focus", 2.0)]


def test_stdin_with_format(db_path, tmp_path, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"id":"c1","repo":"r"}\n')))
    assert main(["--db", str(db_path), "ingest", "changes", "-", "--format", "jsonl"]) == 0
    assert "1 new" in capsys.readouterr().out
    assert count(db_path, "changes") == 1


def test_stdin_without_format_is_a_usage_error(db_path, capsys):
    assert main(["--db", str(db_path), "ingest", "changes", "-"]) == 2
    assert "--format" in capsys.readouterr().err


# -- bad input: each message asserted, nothing written ----------------------------------------------

def test_missing_required_column(db_path, tmp_path):
    path = write(tmp_path, "d.csv", "id,repo,environment,status\nci:1,shop/api,production,success\n")
    msg = refused(db_path, "deployments", path)
    assert f"{path}:1: finished_at: missing required column; the input has: id, repo, environment, status" in msg
    assert msg.splitlines()[0] == f"{path}: 1 problem; nothing was written. Fix the input and run again " \
                                  f"(columns and formats: docs/ingest.md)."


def test_unparseable_timestamp_names_line_and_column_and_writes_nothing(db_path, tmp_path):
    path = write(tmp_path, "c.csv", """
        id,repo,merged_at
        c1,shop/api,2026-03-01T10:00:00Z
        c2,shop/api,yesterday
    """)
    msg = refused(db_path, "changes", path)
    assert f'{path}:3: merged_at: "yesterday" is not an ISO-8601 timestamp' in msg


def test_resolved_before_created_is_rejected(db_path, tmp_path):
    path = write(tmp_path, "i.csv", """
        id,service,created_at,resolved_at
        pd:1,api,2026-03-02T12:00:00Z,2026-03-02T11:00:00Z
    """)
    msg = refused(db_path, "incidents", path)
    # Times as parsed, in UTC (+00).
    assert (f'{path}:2: resolved_at: resolved at "2026-03-02 11:00:00+00", before it was created '
            f"(2026-03-02 12:00:00+00)") in msg


def test_merged_before_first_commit_is_accepted_with_a_warning(db_path, tmp_path):
    path = write(tmp_path, "c.csv", """
        id,repo,first_commit_at,merged_at
        c1,shop/api,2026-03-01T10:00:00Z,2026-03-01T12:00:00Z
        c2,shop/api,2026-03-01T10:00:00Z,2026-03-01T09:00:00Z
    """)
    result = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert result.inserted == 2
    assert result.warnings == [f"{path}: 1 row(s) merged before its first commit (rebase or clock skew); kept, "
                               f"with the coding stage counted as unknown (line 3)"]


def test_duplicate_id_inside_one_file(db_path, tmp_path):
    path = write(tmp_path, "c.csv", "id,repo\nc1,shop/api\nc2,shop/api\nc1,shop/web\n")
    msg = refused(db_path, "changes", path)
    assert f'{path}:4: id: "c1" appears again (first on line 2); each id once per input' in msg


@pytest.mark.parametrize("name", ["empty.csv", "empty.jsonl"])
def test_empty_file(db_path, tmp_path, name):
    path = write(tmp_path, name, b"")
    msg = refused(db_path, "changes", path)
    assert msg.startswith(f"{path}: the file is empty; expected ")
    assert msg.endswith("Nothing was written.")


def test_utf8_bom_and_crlf_are_accepted(db_path, tmp_path):
    path = write(tmp_path, "c.csv", "\ufeffid,repo,title\r\nc1,shop/api,Fix login\r\nc2,shop/web,\"Say \"\"hi\"\"\"\r\n"
                 .encode("utf-8"))
    result = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert result.ignored_columns == []           # "\ufeffid" was read as id
    assert rows(db_path, "SELECT id, title FROM changes ORDER BY id") == [("c1", "Fix login"), ("c2", 'Say "hi"')]


def test_unknown_extra_columns_are_ignored_and_reported_once(db_path, tmp_path):
    path = write(tmp_path, "c.csv", "id,repo,colour,Mood\nc1,r,red,ok\nc2,r,blue,meh\n")
    result = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert result.inserted == 2
    assert result.ignored_columns == ["colour", "Mood"]
    assert result.warnings == [f"{path}: ignored unknown column(s) colour, Mood (known columns: docs/ingest.md)"]


def test_non_numeric_cost(db_path, tmp_path, config):
    path = write(tmp_path, "k.csv", "date,service,amount\n2026-03-01,EC2,12.5\n2026-03-02,EC2,\"12,50\"\n"
                                    "2026-03-03,EC2,$4\n")
    msg = refused(db_path, "costs", path, config)
    assert f'{path}:3: amount: "12,50" is not a number' in msg     # named as the file names it
    assert f'{path}:4: amount: "$4" is not a number' in msg
    assert msg.splitlines()[0].startswith(f"{path}: 2 problems; nothing was written.")


def test_cost_row_with_a_team_not_in_config(db_path, tmp_path, config):
    path = write(tmp_path, "k.csv", "date,service,cost,team\n2026-03-01,EC2,1,payments\n2026-03-01,S3,1,growth\n")
    msg = refused(db_path, "costs", path, config)
    assert f'{path}:3: team: unknown team "growth"; teams: payments, storefront' in msg


def test_config_cost_allocation_to_unknown_team_is_one_line(tmp_path, capsys):
    cfg = write(tmp_path, "cadence.toml", """
        [teams.payments]
        repos = ["shop/api"]
        [cost_allocation.services]
        "Amazon S3" = "growth"
    """)
    data = write(tmp_path, "c.csv", "id,repo\nc1,r\n")
    assert main(["--config", str(cfg), "--db", str(tmp_path / "w.duckdb"), "ingest", "changes", str(data)]) == 1
    err = capsys.readouterr().err
    assert err == (f'Error: {cfg}: cost_allocation.services.Amazon S3: unknown team "growth"; '
                   f"known teams: payments\n")
    assert not (tmp_path / "w.duckdb").exists()


def test_database_that_is_not_duckdb(tmp_path):
    db = tmp_path / "notes.duckdb"
    db.write_text("not a database\n" * 100)
    before = db.read_bytes()
    with pytest.raises(WarehouseError, match=r'"[^"]*notes.duckdb" is not a DuckDB file; point --db'):
        ingest_file(db, "changes", write(tmp_path, "c.csv", "id,repo\nc1,r\n"), config=parse_config({}))
    assert db.read_bytes() == before


def test_database_locked_by_another_writer_waits_then_succeeds(db_path, tmp_path, monkeypatch):
    """Another process holds the file; the ingest finds it locked, waits, and writes once the holder
    lets go (each step a condition, so a busy machine changes only how long it takes)."""
    seen = lock_contention_seen(monkeypatch)
    source = write(tmp_path, "c.csv", "id,repo\nc1,r\n")
    outcome: dict = {}

    def run_ingest() -> None:
        try:
            outcome["result"] = ingest_file(db_path, "changes", source, config=parse_config({}))
        except Exception as exc:  # reported below
            outcome["error"] = exc

    with lock_held(db_path) as holder:
        worker = threading.Thread(target=run_ingest)
        worker.start()
        assert seen.wait(120), "the ingest never found the database locked"
        assert not outcome, "the ingest finished while the lock was held"
        holder.release()
        worker.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].inserted == 1
    assert count(db_path, "changes") == 1 and count(db_path, "warehouse_meta") >= 1


# -- more faults, and the file format itself -----------------------------------------------------

def test_many_faults_are_all_reported_in_line_order(db_path, tmp_path):
    path = write(tmp_path, "d.csv", """
        id,repo,environment,status,finished_at
        ci:1,shop/api,production,deployed,2026-03-02T10:00:00Z
        ci:2,,production,success,2026-03-02T10:00:00Z
        ci:3,shop/api,production,success,soon
    """)
    msg = refused(db_path, "deployments", path)
    lines = msg.splitlines()
    assert lines[0].startswith(f"{path}: 3 problems;")
    assert lines[1].startswith(f'{path}:2: status: "deployed" is not a deployment status; use one of success,')
    assert lines[2] == f"{path}:3: repo: is empty; a value is required"
    assert lines[3].startswith(f'{path}:4: finished_at: "soon" is not an ISO-8601 timestamp')


def test_row_with_too_many_values(db_path, tmp_path):
    path = write(tmp_path, "c.csv", "id,repo\nc1,r\nc2,r,extra\n")
    msg = refused(db_path, "changes", path)
    assert f"{path}:3: 3 values where the header has 2 columns" in msg


def test_jsonl_bad_line_and_non_object(db_path, tmp_path):
    path = write(tmp_path, "c.jsonl", '{"id": "c1", "repo": "r"}\n{"id": "c2", "repo": \n[1, 2]\n')
    msg = refused(db_path, "changes", path)
    assert f"{path}:2: not valid JSON; each line must be one JSON object" in msg
    path2 = write(tmp_path, "d.jsonl", '{"id": "c1", "repo": "r"}\n[1, 2]\n')
    assert f"{path2}:2: must be a JSON object with the columns as keys, got an array" in refused(db_path, "changes", path2)


def test_jsonl_wrong_types(db_path, tmp_path):
    path = write(tmp_path, "c.jsonl", '{"id": "c1", "repo": ["a"], "labels": 3}\n')
    msg = refused(db_path, "changes", path)
    assert f"{path}:1: repo: must be a single value, not an array or object (got an array)" in msg
    assert f"{path}:1: labels: must be an array of strings (got a number)" in msg


def test_unknown_extension_needs_format(db_path, tmp_path):
    path = write(tmp_path, "c.txt", "id,repo\nc1,r\n")
    with pytest.raises(IngestError, match=r"cannot tell the format from the name; use a \.csv or \.jsonl file, "
                                          r"or pass --format csv\|jsonl"):
        ingest_file(db_path, "changes", path, config=parse_config({}))
    assert ingest_file(db_path, "changes", path, fmt="csv", config=parse_config({})).inserted == 1


def test_cli_exit_status_and_one_summary_line(db_path, tmp_path, capsys):
    bad = write(tmp_path, "c.csv", "id,repo,merged_at\nc1,r,never\n")
    assert main(["--db", str(db_path), "ingest", "changes", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {bad}: 1 problem; nothing was written.")
    assert f'{bad}:2: merged_at: "never" is not an ISO-8601 timestamp' in err
    good = write(tmp_path, "g.csv", "id,repo\nc1,r\n")
    assert main(["--db", str(db_path), "ingest", "changes", str(good)]) == 0
    assert capsys.readouterr().out == f"changes from {good}: 1 rows read, 1 new, 0 updated, 0 unchanged into {db_path}\n"


# -- ingest_records (the webhook's entry) ---------------------------------------------------------

def test_ingest_records_writes_and_reports_structured_problems(db_path):
    good = [{"id": "w:1", "repo": "shop/api", "environment": "production", "status": "success",
             "finished_at": "2026-03-02T10:00:00Z", "change_ids": ["c1"]}]
    result = ingest_records(db_path, "deployments", good)
    assert (result.inserted, result.links_written) == (1, 1)
    assert rows(db_path, "SELECT source FROM deployments") == [("webhook",)]
    bad = good + [{"id": "w:2", "repo": "shop/api", "environment": "production", "status": "success",
                   "finished_at": "later"}]
    with pytest.raises(IngestError) as info:
        ingest_records(db_path, "deployments", bad)
    assert [p.as_dict() for p in info.value.problems] == [
        {"line": None, "row": 1, "column": "finished_at",
         "reason": '"later" is not an ISO-8601 timestamp (e.g. 2026-03-01T14:30:00Z or 2026-03-01 14:30:00+02:00)'}]
    assert "webhook: record 2: finished_at:" in str(info.value)
    assert count(db_path, "deployments") == 1


def test_ingest_records_missing_key(db_path):
    with pytest.raises(IngestError) as info:
        ingest_records(db_path, "incidents", [{"id": "x", "service": "api"}])
    assert "webhook: created_at: missing required column; the records have: id, service" in str(info.value)


def test_every_spec_column_is_a_warehouse_column(db_path):
    """The column lists in docs/ingest.md come from SPECS: they must exist in the schema."""
    with duckdb.connect(str(db_path), read_only=True) as c:
        for kind, cols in SPECS.items():
            have = {r[0] for r in c.execute("SELECT column_name FROM information_schema.columns "
                                            "WHERE table_name = ?", [TABLES[kind]]).fetchall()}
            extra = {col.name for col in cols} - have - {"change_ids", "team"}
            assert not extra, (kind, extra)


def test_docs_ingest_lists_every_column():
    text = (REPO_ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    for kind, cols in SPECS.items():
        assert f"## {kind}" in text
        for col in cols:
            assert f"`{col.name}`" in text, (kind, col.name)


def test_write_connection_is_used_only_after_validation(tmp_path):
    """A refused file does not even create the database file."""
    db = tmp_path / "new.duckdb"
    path = write(tmp_path, "c.csv", "id,repo\nc1,\n")
    with pytest.raises(IngestError):
        ingest_file(db, "changes", path, config=parse_config({}))
    assert not db.exists()
    with write_connection(db):
        pass
    assert count(db, "changes") == 0


def test_docs_examples_ingest(db_path, tmp_path):
    """Every CSV and JSON Lines example in docs/ingest.md loads as documented."""
    import re

    text = (REPO_ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    config = parse_config({"teams": {"payments": {"cost_tags": ["payments"]}, "platform": {"repos": []}},
                           "slos": [{"name": "checkout-availability", "service": "checkout", "objective": 99.9,
                                     "window_days": 28}]})
    seen = []
    for section in re.split(r"^## ", text, flags=re.M):
        kind = section.split("\n", 1)[0].strip()
        if kind not in SPECS:
            continue
        for fmt, body in re.findall(r"```(csv|json)\n(.*?)```", section, flags=re.S):
            path = write(tmp_path, f"{kind}.{'csv' if fmt == 'csv' else 'jsonl'}", body)
            result = ingest_file(db_path, kind, path, config=config)
            assert result.rows_read == 2 and not result.ignored_columns, (kind, fmt, result)
            seen.append((kind, fmt))
    assert len(seen) == 14   # csv and json for each of the 7 kinds
    assert rows(db_path, "SELECT team FROM costs ORDER BY team") == [("payments",), ("platform",)]


def test_values_the_fast_reader_refuses_go_through_the_text_path(db_path, tmp_path):
    """Spaces around a time, or a time the CSV reader's parser does not take, are still read
    (the file is re-read as text and cast value by value); only truly bad values are refused."""
    path = write(tmp_path, "c.csv", 'id,repo,number,merged_at\nc1,r, 7 , 2026-03-01 10:00 \n'
                                    'c2,r,8,2026-03-01T10:00:00.5+05:30\n')
    result = ingest_file(db_path, "changes", path, config=parse_config({}))
    assert result.inserted == 2
    assert rows(db_path, "SELECT id, number, merged_at::VARCHAR FROM changes ORDER BY id") == [
        ("c1", 7, "2026-03-01 10:00:00"), ("c2", 8, "2026-03-01 04:30:00.5")]   # 10:00:00.5 at +05:30


def test_non_finite_amount_is_refused(db_path, tmp_path, config):
    path = write(tmp_path, "k.csv", "date,service,amount\n2026-03-01,EC2,inf\n")
    assert f'{path}:2: amount: "inf" is not a finite number' in refused(db_path, "costs", path, config)
