"""``[investment]``, ``exclude_authors`` and ``[capacity]`` in ``cadence.toml``: the settings of the
quarterly capacity review (issue 21), validated at start.

- ``[investment]``: ordered rules that classify every change shipped as feature, maintenance,
  unplanned or other (the first rule whose label or title prefix matches wins; none → ``default``).
- ``exclude_authors`` (top level): glob patterns of bot authors, left out of lead time, investment
  balance and contributor counts everywhere, and counted apart.
- ``[capacity]``: the right-sizing target utilization and the cost that scales with traffic in the
  next-quarter scenario.

Shared by the metrics and the CLI, so it lives in the bottom layer and imports nothing of Cadence
but its errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError

CATEGORIES = ("feature", "maintenance", "unplanned", "other")
RULE_KEYS = ("category", "labels", "title_prefixes")
INVESTMENT_KEYS = ("rules", "default")
CAPACITY_KEYS = ("target_utilization", "traffic_growth", "usage_driven_categories", "usage_driven_services")
DEFAULT_EXCLUDE_AUTHORS = ("*[bot]", "dependabot*", "renovate*", "github-actions*")
DEFAULT_TARGET_UTILIZATION = 0.60
# FOCUS service categories whose spend follows traffic within a quarter: compute is scaled out with
# request volume (autoscaling groups, containers, Lambda invocations) and networking is billed per
# GB or request (CDN, load balancers, data transfer, API Gateway). Storage, databases, analytics,
# security, management and support are provisioned or grow with data held, not with this quarter's
# traffic.
DEFAULT_USAGE_CATEGORIES = ("Compute", "Networking")


@dataclass(frozen=True)
class InvestmentRule:
    category: str
    labels: tuple[str, ...] = ()           # lower case; a change carrying any of them matches
    title_prefixes: tuple[str, ...] = ()   # lower case; a title starting with any of them matches

    def describe(self, number: int) -> str:
        return f"rule {number} ({self.category})"


DEFAULT_RULES = (
    InvestmentRule("unplanned", ("bug", "hotfix", "incident", "regression", "revert"),
                   ("fix:", "fix(", "hotfix:", "hotfix(", "revert", "fix ")),
    InvestmentRule("maintenance", ("chore", "dependencies", "tech-debt", "refactor", "maintenance",
                                   "documentation", "ci", "build"),
                   ("chore:", "chore(", "build:", "build(", "ci:", "ci(", "refactor:", "refactor(",
                    "deps:", "deps(", "docs:", "docs(", "perf:", "perf(", "test:", "test(", "style:",
                    "bump ")),
    InvestmentRule("feature", ("feature", "enhancement"), ("feat:", "feat(")),
)


@dataclass(frozen=True)
class InvestmentSettings:
    rules: tuple[InvestmentRule, ...] = DEFAULT_RULES
    default: str = "other"
    configured: bool = False               # False: the defaults above (no [investment] section)


@dataclass(frozen=True)
class CapacitySettings:
    target_utilization: float = DEFAULT_TARGET_UTILIZATION
    traffic_growth: float = 0.0        # the default scenario's expected traffic growth, percent
    usage_driven_categories: tuple[str, ...] = DEFAULT_USAGE_CATEGORIES
    usage_driven_services: tuple[str, ...] = ()   # extra services by name (e.g. "Amazon DynamoDB")


@dataclass(frozen=True)
class ReviewSettings:
    """Everything of the capacity review the config holds (``Config.review``)."""

    investment: InvestmentSettings = field(default_factory=InvestmentSettings)
    exclude_authors: tuple[str, ...] = DEFAULT_EXCLUDE_AUTHORS
    capacity: CapacitySettings = field(default_factory=CapacitySettings)


def _fail(path: Path | None, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path or 'configuration'}: {key}: {problem}")


def _table(path: Path | None, key: str, raw: Any, keys: tuple[str, ...], not_a_table: str) -> None:
    """``raw`` must be a table (else ``not_a_table`` is the message) holding only ``keys``."""
    if not isinstance(raw, dict):
        raise _fail(path, key, not_a_table)
    bad = sorted(set(raw) - set(keys))
    if bad:
        raise _fail(path, f"{key}.{bad[0]}", f"unknown key; expected {', '.join(keys)}")


def _strings(path, key, value, *, lower: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(path, key, f"must be a list of non-empty strings, got {str(value)[:80]!s}")
    return tuple(v.strip().lower() if lower else v.strip() for v in value)


def parse_investment(raw: Any, path: Path | None = None) -> InvestmentSettings:
    _table(path, "investment", raw, INVESTMENT_KEYS, "must be a table: [investment] with rules = [...] and default")
    default = raw.get("default", "other")
    if default not in CATEGORIES:
        raise _fail(path, "investment.default", f"must be one of {', '.join(CATEGORIES)}, got {default!r}")
    rules_raw = raw.get("rules", [])
    if not isinstance(rules_raw, list):
        raise _fail(path, "investment.rules", "must be a list of { category, labels, title_prefixes } tables")
    rules = []
    for number, body in enumerate(rules_raw, start=1):
        key = f"investment.rules[{number}]"
        _table(path, key, body, RULE_KEYS, "must be a table such as { category = \"feature\", labels = [\"feature\"] }")
        category = body.get("category")
        if category not in CATEGORIES:
            raise _fail(path, f"{key}.category", f"must be one of {', '.join(CATEGORIES)}, got {category!r}")
        labels = _strings(path, f"{key}.labels", body.get("labels", []), lower=True)
        prefixes = _strings(path, f"{key}.title_prefixes", body.get("title_prefixes", []), lower=True)
        if not labels and not prefixes:
            raise _fail(path, key, "matches nothing; give labels, title_prefixes or both")
        rules.append(InvestmentRule(category, labels, prefixes))
    return InvestmentSettings(tuple(rules), default, configured=True)


def parse_capacity(raw: Any, path: Path | None = None) -> CapacitySettings:
    _table(path, "capacity", raw, CAPACITY_KEYS, "must be a table: [capacity] with target_utilization, ...")
    kwargs: dict[str, Any] = {}
    if "target_utilization" in raw:
        v = raw["target_utilization"]
        # Given as a percentage (60) or a fraction (0.6); either way it must be above 0 and at most 100 %.
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 100:
            raise _fail(path, "capacity.target_utilization",
                        f"must be a percentage above 0 and at most 100 (e.g. 60), got {v!r}")
        kwargs["target_utilization"] = float(v) / 100 if v > 1 else float(v)
    if "traffic_growth" in raw:
        v = raw["traffic_growth"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not -100 <= v <= 1000:
            raise _fail(path, "capacity.traffic_growth",
                        f"must be a percentage from -100 to 1000 (e.g. 15 for +15 %), got {v!r}")
        kwargs["traffic_growth"] = float(v)
    for key in ("usage_driven_categories", "usage_driven_services"):
        if key in raw:
            kwargs[key] = _strings(path, f"capacity.{key}", raw[key])
    return CapacitySettings(**kwargs)


def parse_exclude_authors(raw: Any, path: Path | None = None) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        raise _fail(path, "exclude_authors",
                    'must be a list of author patterns such as ["*[bot]", "dependabot*"] (an empty list '
                    "excludes nobody)")
    return tuple(v.strip() for v in raw)


def parse_review(data: dict[str, Any], path: Path | None = None) -> ReviewSettings:
    """The review settings of a parsed cadence.toml (defaults for what it leaves out)."""
    kwargs: dict[str, Any] = {}
    if "investment" in data:
        kwargs["investment"] = parse_investment(data["investment"], path)
    if "exclude_authors" in data:
        kwargs["exclude_authors"] = parse_exclude_authors(data["exclude_authors"], path)
    if "capacity" in data:
        kwargs["capacity"] = parse_capacity(data["capacity"], path)
    return ReviewSettings(**kwargs)


def author_pattern(patterns: tuple[str, ...] | list[str]) -> str | None:
    """One regular expression (RE2 and Python alike) matching, in full and ignoring case, an author
    that any glob pattern matches (``*`` any run of characters, ``?`` one); None for no patterns.
    ``[`` and ``]`` are literal, so ``*[bot]`` means a name ending in "[bot]" as GitHub writes bots."""
    parts = []
    for glob in patterns:
        out = []
        for ch in glob.lower():
            out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
        parts.append("".join(out))
    return "(?s)(?:" + "|".join(parts) + ")" if parts else None


def is_bot(author: str | None, patterns: tuple[str, ...] | list[str]) -> bool:
    """Whether ``author`` matches one of the ``exclude_authors`` patterns (ignoring case)."""
    regex = author_pattern(patterns)
    return bool(author) and regex is not None and re.fullmatch(regex, author.lower()) is not None
