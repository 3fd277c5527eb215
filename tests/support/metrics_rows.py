"""Hand-written warehouse rows for the metric tests.

Times are written as ISO strings, optionally with an offset; like ingest, ``utc`` converts them to
naive UTC before they are stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from warehouse import upsert_rows


def utc(text: str | None) -> datetime | None:
    """'2024-01-08T08:59+09:00' -> naive UTC datetime (2024-01-07 23:59); naive text is UTC."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def dep(id, finished, *, repo="shop/api", service=None, env="production", sha=None,
        status="success", started=None):
    return {"id": id, "repo": repo, "service": service or repo.split("/")[-1], "environment": env,
            "sha": sha, "status": status, "started_at": utc(started), "finished_at": utc(finished)}


def chg(id, merged, *, repo="shop/api", first_commit=None, opened=None, review=None, sha=None,
        labels=None, title=None):
    return {"id": id, "repo": repo, "number": int("".join(ch for ch in id if ch.isdigit()) or 0),
            "title": title or f"change {id}", "labels": labels or [], "first_commit_at": utc(first_commit),
            "opened_at": utc(opened), "first_review_at": utc(review), "merged_at": utc(merged),
            "merge_sha": sha}


def inc(id, created, *, service="api", repo="shop/api", resolved=None, caused_by=None):
    return {"id": id, "service": service, "repo": repo, "title": f"incident {id}", "severity": "SEV2",
            "created_at": utc(created), "resolved_at": utc(resolved), "caused_by_deployment_id": caused_by}


def load(con, *, deployments=(), changes=(), links=(), incidents=()):
    """Write the rows in one transaction, as a sync would."""
    con.execute("BEGIN TRANSACTION")
    upsert_rows(con, "deployments", list(deployments))
    upsert_rows(con, "changes", list(changes))
    upsert_rows(con, "deployment_changes", [{"deployment_id": d, "change_id": c} for d, c in links])
    upsert_rows(con, "incidents", list(incidents))
    con.execute("COMMIT")


# The SLO the SLO command and export tests both declare: the api service at 99 % over one day
# (a budget of 1 % of the day's events).
API_AVAILABILITY_SLO = """
[[slos]]
name = "api-availability"
service = "api"
objective = 99.0
window_days = 1
"""
