"""Deployments from a deploy workflow's runs on the default branch (REST), for the ``workflow``
signal: finding the workflow, then reading its runs since the cursor."""

from __future__ import annotations

from datetime import datetime

from collectors.github.model import (SOURCE, UNFINISHED_HORIZON, RepoAccessError, RepoFailure,
                                     deployment_id, iso, parse_time)
from collectors.github.rest import PAGE, list_runs
from collectors.github_client import GitHubHTTPError

RUNS_RESULT_CAP = 1000        # GitHub serves at most 1,000 results of a filtered runs query


class WorkflowReading:
    """The part of ``RepoFetcher`` that reads deploy-workflow runs (mixed into it; uses its
    ``client``, ``repo``, ``details``, ``plan``, ``targets`` and ``result``)."""

    def _find_workflow(self) -> dict | None:
        if hasattr(self, "_workflow"):
            return self._workflow
        self._workflow = self._lookup_workflow()
        return self._workflow

    def _lookup_workflow(self) -> dict | None:
        wanted = self.plan.settings.workflow
        etags = self.details.setdefault("etags", {})
        path = f"/repos/{self.repo}/actions/workflows"
        try:
            resp = self.client.get(path, {"per_page": 100}, etag=etags.get(path),
                                   what=f"{self.repo} workflows")
        except GitHubHTTPError as exc:
            if exc.status in (403, 404):
                if wanted:
                    raise RepoAccessError(f'The token cannot list Actions workflows of "{self.repo}" '
                                          f'({exc.status}); grant it "Actions: read-only".') from exc
                return None
            raise
        if resp.status == 304:
            workflows = self.details.get("workflows") or []
        else:
            workflows = [{"id": w["id"], "name": w["name"], "path": w["path"]}
                         for w in (resp.data or {}).get("workflows", [])]
            self.details["workflows"] = workflows
            if resp.headers.get("etag"):
                etags[path] = resp.headers["etag"]
        if wanted:
            low = wanted.lower()
            found = next((w for w in workflows if w["name"].lower() == low
                          or w["path"].lower().rsplit("/", 1)[-1] == low or str(w["id"]) == wanted), None)
            if found is None:
                raise RepoFailure(f'Workflow "{wanted}" not found in {self.repo}; set [sources.github.repo."'
                                  f'{self.repo}"] workflow to a file name such as "deploy.yml".')
            return found
        return next((w for w in workflows if "deploy" in w["name"].lower()
                     or "deploy" in w["path"].lower().rsplit("/", 1)[-1]), None)

    def _workflow_runs(self) -> None:
        workflow = self._find_workflow()
        if workflow is None or not self.default_branch:
            return
        self.details["workflow"] = {"id": workflow["id"], "name": workflow["name"]}
        path = f"/repos/{self.repo}/actions/workflows/{workflow['id']}/runs"
        cursor = self.plan.cursors.get("deployments")
        lo = parse_time(cursor) or self.settings.since
        runs = self._runs_window(path, lo)
        env = self._production_name()
        for run in runs:
            conclusion, status = run.get("conclusion"), run.get("status")
            created = parse_time(run.get("created_at"))
            self._note("deployments", created)
            if status != "completed":
                state = "in_progress"
                if created and self.now - created < UNFINISHED_HORIZON:
                    self.unfinished.append(created)
            elif conclusion == "success":
                state = "success"
            elif conclusion in ("failure", "timed_out", "startup_failure"):
                state = "failure"
            elif conclusion == "cancelled":
                state = "cancelled"
            else:   # skipped, neutral, action_required, stale: not a deployment attempt
                continue
            if state == "success" and run.get("head_sha"):
                self.targets.setdefault(run["head_sha"], created)
            self.result.deployments.append({
                "id": deployment_id(self.repo, "run", run["id"]), "repo": self.repo,
                "service": self.service, "environment": env, "sha": run.get("head_sha"),
                "status": state, "started_at": parse_time(run.get("run_started_at")) or created,
                "finished_at": parse_time(run.get("updated_at")) if status == "completed" else None,
                "url": run.get("html_url"), "source": SOURCE})

    def _runs_window(self, path: str, lo: datetime | None) -> list[dict]:
        """Runs on the default branch created since ``lo``; the listing's first request is
        conditional (its ETag is kept per query), so an unchanged listing costs one free 304."""
        def query(lo: datetime | None, hi: datetime | None) -> dict:
            params = {"branch": self.default_branch, "per_page": PAGE}
            if lo or hi:
                params["created"] = f"{iso(lo) if lo else '*'}..{iso(hi) if hi else '*'}"
            return params

        etags = self.details.setdefault("etags", {})
        key = path + "?" + "&".join(f"{k}={v}" for k, v in sorted(query(lo, None).items()))
        runs, etag = list_runs(self.client, path, query, lo, None, cap=RUNS_RESULT_CAP,
                               start=parse_time(self.details.get("created_at")) or datetime(2008, 1, 1),
                               now=self.now, what=f"{self.repo} workflow runs", etag=etags.get(key))
        if etag:
            etags[key] = etag
        return runs or []
