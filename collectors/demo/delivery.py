"""``deployments``, ``changes``, ``deployment_changes`` and ``incidents`` for every team: each
repository's rows (deployments.py), the incidents no deployment caused, numbered and timed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from collectors.demo.common import Calendar, Delivery, hours_to_ts, lognormal, value_at
from collectors.demo.data import BACKGROUND_TITLES, CI_URL, GIT_URL, ORG, PAGER_URL, SOURCE, TEAMS, TeamSpec
from collectors.demo.deployments import repo_delivery


def unattributed_incidents(rng, cal: Calendar, team: TeamSpec) -> pd.DataFrame:
    """Incidents no deployment caused: providers, certificates, traffic (some unattributable)."""
    p = team.profile
    n = int(rng.poisson(p.background_incidents))
    service_repo = [(s, f"{ORG}/{r}") for r, svcs in team.repos.items() for s in svcs]
    service_repo += [(s, None) for s in team.extra_services] * 3
    pick = rng.integers(0, len(service_repo), n)
    services = [service_repo[i][0] for i in pick]
    repos = [service_repo[i][1] for i in pick]
    created = np.sort(rng.uniform(0, cal.end_hours - 1, n))
    sev = rng.choice(["sev1", "sev2", "sev3", "sev4"], n, p=[0.03, 0.27, 0.5, 0.2])
    titles = rng.choice(BACKGROUND_TITLES, n)
    df = pd.DataFrame({"service": services, "repo": repos,
                       "title": [ti.format(s=s) for ti, s in zip(titles, services)], "severity": sev,
                       "created_h": created,
                       "resolved_h": created + lognormal(rng, value_at(p.recovery_hours, created / cal.end_hours) * 1.5, 1.0, n),
                       "caused_key": -1})
    # A few come from an issue tracker that only knows the repository.
    repo_only = (rng.random(n) < 0.15) & df.repo.notna().to_numpy()
    df.loc[repo_only, "service"] = None
    return df


def build_delivery(rng: np.random.Generator, cal: Calendar) -> dict[str, pd.DataFrame]:
    """deployments, changes, deployment_changes and incidents for every team."""
    out = Delivery()
    background = []
    for team in TEAMS:
        for repo_name, services in team.repos.items():
            repo_delivery(rng, cal, team, repo_name, services, out)
        background.append(unattributed_incidents(rng, cal, team))
    t0 = pd.Timestamp(cal.start)
    end = cal.end_hours

    # changes: numbered per repo in the order they were opened
    prs = pd.concat([df.assign(local=np.arange(len(df))) for df in out.prs], ignore_index=True)
    base = {repo: 120 + 37 * i for i, repo in enumerate(sorted(prs.repo.unique()))}
    prs = prs.sort_values(["repo", "opened_h", "local"], kind="stable")
    prs["number"] = prs.groupby("repo").cumcount() + prs.repo.map(base)
    prs = prs[prs.opened_h < end]
    merged_late = prs.merged_h >= end
    prs.loc[merged_late, "merged_h"] = np.nan
    prs.loc[merged_late, "merge_sha"] = None
    prs.loc[prs.first_review_h >= end, "first_review_h"] = np.nan
    change_id = "demo:pr:" + prs.repo + "#" + prs.number.astype(str)
    changes = pd.DataFrame({
        "id": change_id, "repo": prs.repo, "number": prs.number, "title": prs.title,
        "author": prs.author, "labels": prs.labels,
        "first_commit_at": hours_to_ts(t0, prs.first_commit_h.to_numpy()).to_numpy(),
        "opened_at": hours_to_ts(t0, prs.opened_h.to_numpy()).to_numpy(),
        "first_review_at": hours_to_ts(t0, prs.first_review_h.to_numpy()).to_numpy(),
        "merged_at": hours_to_ts(t0, prs.merged_h.to_numpy()).to_numpy(),
        "merge_sha": prs.merge_sha,
        "url": GIT_URL + "/" + prs.repo + "/pull/" + prs.number.astype(str),
        "source": SOURCE}).reset_index(drop=True)
    pr_id = dict(zip(zip(prs.repo, prs.local), change_id))

    # deployments: numbered in start order
    dep = pd.concat(out.deploys, ignore_index=True)
    dep = dep[dep.started_h < end].sort_values(["started_h", "key"], kind="stable").reset_index(drop=True)
    dep["id"] = "demo:deploy:" + pd.Series(np.arange(1, len(dep) + 1)).astype(str)
    dep_id = dict(zip(dep.key, dep.id))
    finished = np.minimum(dep.finished_h.to_numpy(), end - 1e-3)
    deployments = pd.DataFrame({
        "id": dep.id, "repo": dep.repo, "service": dep.service, "environment": dep.environment,
        "sha": dep.sha, "status": dep.status,
        "started_at": hours_to_ts(t0, dep.started_h.to_numpy()).to_numpy(),
        "finished_at": hours_to_ts(t0, finished).to_numpy(),
        "url": CI_URL + "/" + dep.repo + "/deployments/" + dep.id.str.rsplit(":", n=1).str[-1],
        "source": SOURCE})

    merged_ids = set(changes.id[changes.merged_at.notna()])
    links = [(dep_id[k], pr_id[(repo, local)]) for k, repo, local in out.links
             if k in dep_id and (repo, local) in pr_id]
    links = [(d, c) for d, c in links if c in merged_ids]
    deployment_changes = pd.DataFrame(links, columns=["deployment_id", "change_id"]).assign(source=SOURCE)

    inc = pd.concat(out.incidents + background, ignore_index=True)
    inc = inc[inc.created_h < end]
    # Two incidents are still open at the end of the demo: one of them just started.
    inc = pd.concat([inc, pd.DataFrame({
        "service": ["payments", "wms-sync"], "repo": [f"{ORG}/payments-service", f"{ORG}/warehouse-integration"],
        "title": ["payments: intermittent 502s from the card processor",
                  "wms-sync: stock levels out of sync with the warehouse"],
        "severity": ["sev2", "sev3"], "created_h": [end - 19.5, end - 62.25], "resolved_h": [np.nan, np.nan],
        "caused_key": [-1, -1]})], ignore_index=True)
    inc.loc[inc.resolved_h >= end, "resolved_h"] = np.nan
    inc = inc.sort_values(["created_h", "title"], kind="stable").reset_index(drop=True)
    inc_id = "demo:incident:" + pd.Series(np.arange(1, len(inc) + 1)).astype(str)
    incidents = pd.DataFrame({
        "id": inc_id, "service": inc.service, "repo": inc.repo, "title": inc.title,
        "severity": inc.severity,
        "created_at": hours_to_ts(t0, inc.created_h.to_numpy()).to_numpy(),
        "resolved_at": hours_to_ts(t0, inc.resolved_h.to_numpy()).to_numpy(),
        "caused_by_deployment_id": inc.caused_key.map(dep_id),
        "url": PAGER_URL + "/Q" + pd.Series(np.arange(1, len(inc) + 1) + 4100).astype(str),
        "source": SOURCE})
    return {"deployments": deployments, "changes": changes,
            "deployment_changes": deployment_changes, "incidents": incidents}
