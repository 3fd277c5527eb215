"""Cost allocation to teams: one rule set, used when a collector writes ``costs.team`` and when
the cost metrics re-allocate at query time (so an edit to cadence.toml applies without a re-sync).

Order (docs/costs.md): the team tag's value mapped through ``[teams.*].cost_tags`` → an account
rule (``[cost_allocation.accounts]``, then ``[teams.*].accounts``) → a service rule
(``[cost_allocation.services]``) → ``unallocated``. The reserved team name ``shared`` (a rule's
target, or a tag value listed in ``[cost_allocation] shared_tags``) marks cost that the metrics split
across the teams by ``[cost_allocation] shared_split``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadence.core.config import Config

if TYPE_CHECKING:   # pandas is imported where used: the export ingest needs only the rows
    import pandas as pd

UNALLOCATED = "unallocated"
SHARED = "shared"
SHARED_SPLITS = ("none", "even", "proportional")
RULE_KINDS = ("tag", "account", "service")


def allocation_rules(config: Config) -> pd.DataFrame:
    """(kind, value, team) with one team per (kind, value): the lookup tables of the rules.

    When two teams claim the same value the alphabetically first wins, so the result does not
    depend on the order of the config file.
    """
    import pandas as pd

    return pd.DataFrame(allocation_rule_rows(config), columns=["kind", "value", "team"]).astype(object)


def allocation_rule_rows(config: Config) -> list[tuple[str, str, str]]:
    """``allocation_rules`` as plain (kind, value, team) tuples, sorted by kind and value."""
    # (kind, value, team, priority): an explicit [cost_allocation.accounts] rule (0) beats a
    # team's own `accounts` list (1).
    rows: list[tuple[str, str, str, int]] = []
    alloc = config.cost_allocation or {}
    for team in config.teams.values():
        rows += [("tag", v, team.name, 1) for v in team.cost_tags]
        rows += [("account", v, team.name, 1) for v in team.accounts]
    rows += [("tag", str(v), SHARED, 0) for v in alloc.get("shared_tags", []) or []]
    rows += [("account", str(k), str(t), 0) for k, t in (alloc.get("accounts") or {}).items()]
    rows += [("service", str(k), str(t), 0) for k, t in (alloc.get("services") or {}).items()]
    kept: dict[tuple[str, str], str] = {}
    for kind, value, team, _ in sorted(rows, key=lambda r: (r[0], r[1], r[3], r[2])):
        kept.setdefault((kind, value), team)
    return [(kind, value, team) for (kind, value), team in kept.items()]


def has_rules(config: Config) -> bool:
    """True when the config maps anything to a team (else the stored ``costs.team`` stands)."""
    return bool(config.teams) or bool((config.cost_allocation or {}).get("accounts")) \
        or bool((config.cost_allocation or {}).get("services"))


def shared_split(config: Config) -> str:
    return str((config.cost_allocation or {}).get("shared_split", "none"))


class Allocator:
    """Allocates one cost line at a time (collectors); the metrics do the same in SQL."""

    def __init__(self, config: Config):
        rules = allocation_rules(config)
        self._maps = {kind: dict(zip(rules.loc[rules.kind == kind, "value"],
                                     rules.loc[rules.kind == kind, "team"], strict=True))
                      for kind in RULE_KINDS} if len(rules) else {k: {} for k in RULE_KINDS}

    def team(self, tag_value: str | None, accounts: tuple[str | None, ...], service: str | None) -> str:
        """Team for a line with this team-tag value, these account ids (sub, billing) and service."""
        if tag_value and tag_value in self._maps["tag"]:
            return self._maps["tag"][tag_value]
        for account in accounts:
            if account and account in self._maps["account"]:
                return self._maps["account"][account]
        if service and service in self._maps["service"]:
            return self._maps["service"][service]
        return UNALLOCATED
