"""One repository's transaction: its plan read before the fetch, its rows, chain, links and cursors
written after it."""

from __future__ import annotations

from collections.abc import Iterable

from collectors.github.chain import attribute_changes
from collectors.github.model import SOURCE, RepoPlan, RepoResult, iso
from collectors.github.settings import RepoSettings
from collectors.pipelines import write_pipeline_rows
from warehouse import read_cursor, upsert_rows, write_cursor
from warehouse.state import read_details

ENTITIES = ("pulls", "deployments", "incidents", "releases", "history")


def load_plan(con, repo: str, settings: RepoSettings) -> RepoPlan:
    cursors = {e: read_cursor(con, SOURCE, f"{repo}:{e}") for e in ENTITIES}
    details = read_details(con, SOURCE, repo)
    chain = dict(con.execute("SELECT sha, position FROM branch_commits WHERE repo = ?", [repo]).fetchall())
    known = {rid: (attempt, status, iso(finished)) for rid, attempt, status, finished in con.execute(
        "SELECT id, attempt, status, finished_at FROM pipeline_runs WHERE repo = ? AND source = ? "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY attempt DESC) = 1", [repo, SOURCE]).fetchall()}
    return RepoPlan(repo, settings, cursors, details, chain, read_cursor(con, SOURCE, f"{repo}:actions"),
                    read_details(con, SOURCE, f"{repo}:actions"), known)


def write_result(con, result: RepoResult, production: Iterable[str]) -> dict[str, int]:
    """Upsert one repo's rows, chain and links, and move its cursors, in the caller's transaction."""
    repo = result.name
    rows = {"changes": upsert_rows(con, "changes", result.changes),
            "deployments": upsert_rows(con, "deployments", result.deployments),
            "incidents": upsert_rows(con, "incidents", result.incidents)}
    for iid in result.dropped_incidents:
        con.execute("DELETE FROM incidents WHERE id = ?", [iid])
    if result.chain_reset:
        con.execute("DELETE FROM branch_commits WHERE repo = ?", [repo])
    elif result.chain_drop_above is not None:
        con.execute("DELETE FROM branch_commits WHERE repo = ? AND position > ?", [repo, result.chain_drop_above])
    upsert_rows(con, "branch_commits", result.chain_rows)
    rows["deployment_changes"] = link_deployments(con, repo, production, result.details.get("compare", {}))
    if result.actions is not None:
        rows.update(write_pipeline_rows(con, result.actions.runs, result.actions.jobs))
        write_cursor(con, SOURCE, f"{repo}:actions", result.actions.cursor,
                     rows_written=rows["pipeline_runs"] + rows["pipeline_jobs"], details=result.actions.details)
    total = sum(rows.values())
    for entity, cursor in result.cursors.items():
        if cursor is not None:
            write_cursor(con, SOURCE, f"{repo}:{entity}", cursor)
    write_cursor(con, SOURCE, repo, result.cursors.get("history"), rows_written=total, details=result.details)
    return rows


def link_deployments(con, repo: str, production: Iterable[str], compare: dict) -> int:
    """Recompute this repo's ``deployment_changes`` from the stored chain (explicit links)."""
    positions = dict(con.execute("SELECT sha, position FROM branch_commits WHERE repo = ?", [repo]).fetchall())
    envs = sorted({e.lower() for e in production})
    marks = ", ".join("?" for _ in envs)
    deps = con.execute(
        f"SELECT id, sha, finished_at FROM deployments WHERE repo = ? AND source = ? AND status = 'success' "
        f"AND finished_at IS NOT NULL AND lower(environment) IN ({marks})", [repo, SOURCE, *envs]).fetchall()
    placed = []
    for did, sha, finished in deps:
        pos = positions.get(sha)
        if pos is None:
            entry = compare.get(sha) or {}
            if entry.get("status") in ("ahead", "diverged"):
                pos = positions.get(entry.get("base"))
        if pos is not None:
            placed.append((did, pos, finished))
    changes = [(cid, positions[sha]) for cid, sha in con.execute(
        "SELECT id, merge_sha FROM changes WHERE repo = ? AND source = ? AND merge_sha IS NOT NULL",
        [repo, SOURCE]).fetchall() if sha in positions]
    pairs = attribute_changes(changes, placed)
    con.execute("DELETE FROM deployment_changes WHERE source = ? AND change_id IN "
                "(SELECT id FROM changes WHERE repo = ? AND source = ?)", [SOURCE, repo, SOURCE])
    return upsert_rows(con, "deployment_changes",
                       [{"deployment_id": d, "change_id": c, "source": SOURCE} for c, d in pairs])
