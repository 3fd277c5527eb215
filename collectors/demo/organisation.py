"""The demo organisation's configuration document, stored with the demo for
``warehouse.meta.effective_config``."""

from __future__ import annotations

from collectors.demo.data import ACCOUNTS, COST_ALLOCATION_ACCOUNTS, COST_ALLOCATION_SERVICES, ORG, TEAMS
from collectors.demo.pipelines import MOBILE_REPO, MOBILE_TEAM
from collectors.demo.slo import demo_slos


def demo_config() -> dict:
    """The demo organisation's configuration document (same shape as cadence.toml)."""
    teams = {}
    for team in TEAMS:
        body = {"repos": [f"{ORG}/{r}" for r in team.repos],
                "services": [s for svcs in team.repos.values() for s in svcs] + list(team.extra_services),
                "cost_tags": list(team.cost_tags)}
        if team.accounts:
            body["accounts"] = [ACCOUNTS[a][0] for a in team.accounts]
        teams[team.name] = body
    # a repo with CI runs only (issue 18)
    teams[MOBILE_TEAM]["repos"].append(f"{ORG}/{MOBILE_REPO}")
    return {
        "teams": teams,
        "slos": demo_slos(),  # fed by the demo's hourly SLIs (slo.py), not by Prometheus
        "cost_allocation": {
            "accounts": {ACCOUNTS[k][0]: t for k, t in COST_ALLOCATION_ACCOUNTS.items()},
            "services": dict(COST_ALLOCATION_SERVICES),
        },
    }
