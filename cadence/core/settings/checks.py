"""The checks a forge section (``[sources.github]``, ``[sources.gitlab]``) runs on its values.

Both sections share their names wherever the idea is the same (docs/sources.md), so they share the
checks too: each fault is a ConfigError naming the file and the key (``FILE: sources.X.KEY: problem``).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from cadence.core.errors import ConfigError

S = TypeVar("S")


def selected(names: Iterable[str], include: tuple[str, ...], exclude: tuple[str, ...]) -> list[str]:
    """``names`` kept by the include/exclude patterns (fnmatch on the full name, case-insensitive)."""
    out = []
    for n in names:
        low = n.lower()
        if include and not any(fnmatch.fnmatchcase(low, p.lower()) for p in include):
            continue
        if any(fnmatch.fnmatchcase(low, p.lower()) for p in exclude):
            continue
        out.append(n)
    return out


class Selecting:
    """``selected`` for a settings dataclass with ``include`` and ``exclude`` pattern tuples."""

    include: tuple[str, ...]
    exclude: tuple[str, ...]

    def selected(self, names: Iterable[str]) -> list[str]:
        """``names`` kept by the include/exclude patterns (fnmatch on the full name, case-insensitive)."""
        return selected(names, self.include, self.exclude)


class SectionChecks:
    """The value checks of one section, ``where`` being e.g. ``cadence.toml: sources.gitlab``."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where}.{key}: {problem}")

    def known(self, raw: dict, keys: set[str], key: str = "") -> None:
        """Raise on the first key of ``raw`` not in ``keys`` (``key``: the table's own key, if nested)."""
        unknown = sorted(set(raw) - keys)
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else unknown[0],
                            f"unknown key; expected one of {', '.join(sorted(keys))}")

    def strings(self, key: str, value: Any, *, trim: str | None = None) -> tuple[str, ...]:
        """A list of non-empty strings, each stripped of spaces (then of the characters in ``trim``)."""
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, f"must be a list of non-empty strings, got {value!r}")
        return tuple(v.strip().strip(trim) if trim else v.strip() for v in value)

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def number(self, key: str, value: Any, lo: float, hi: float, kind: Callable[[Any], Any] = float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
            raise self.fail(key, f"must be a number from {lo} to {hi}, got {value!r}")
        return kind(value)

    def flag(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {value!r}")
        return value

    def forge_labels(self, raw: dict, kw: dict) -> None:
        """The keys GitHub and GitLab share, checked into ``kw``: the label names that mark incidents,
        services and severities, and the longest wait on a rate limit."""
        for key in ("incident_label", "service_label_prefix", "severity_label_prefix"):
            if key in raw:
                kw[key] = self.text(key, raw[key])
        if "max_rate_limit_wait" in raw:
            kw["max_rate_limit_wait"] = self.number("max_rate_limit_wait", raw["max_rate_limit_wait"], 0, 86400)

    def since(self, key: str, value: Any) -> datetime:
        """A date (TOML date or "YYYY-MM-DD"; a datetime keeps its day) as midnight of that day."""
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError as exc:
                raise self.fail(key, f"must be a date YYYY-MM-DD, got {value!r}") from exc
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            raise self.fail(key, f"must be a date YYYY-MM-DD, got {value!r}")
        return datetime(value.year, value.month, value.day)

    def sections(self, raw: dict, key: str, name: re.Pattern, what: str, keys: set[str],
                 parse: Callable[[str, dict], S]) -> dict[str, S]:
        """The per-scope tables ``[sources.X.KEY."NAME"]``, by lower-cased name: each name must match
        ``name`` (``what`` says the form), each table hold only ``keys``; ``parse(prefix, body)``
        reads one."""
        tables = raw.get(key, {})
        if not isinstance(tables, dict):
            raise self.fail(key, f'must be a table of [{self.where.rsplit(": ", 1)[-1]}.{key}."{what}"] sections')
        out = {}
        for n, body in tables.items():
            if not name.match(n):
                raise self.fail(f'{key}."{n}"', f"section name must be {what}")
            if isinstance(body, dict):
                self.known(body, keys, f'{key}."{n}"')
            out[n.lower()] = parse(f'{key}."{n}"', body)
        return out

    def scope(self, prefix: str, body: Any, base: Any, signals: tuple[str, ...], texts: tuple[str, ...],
              *, lower_environments: bool = False, trim: str | None = None) -> dict[str, Any]:
        """One scope's choices over ``base`` (a dataclass): ``deployments`` (one of ``signals``),
        the non-empty strings ``texts``, and ``environments`` (lower-cased if ``lower_environments``,
        ``trim`` as in ``strings``); returns the merged fields."""
        def key(k: str) -> str:
            return f"{prefix}.{k}" if prefix else k

        if not isinstance(body, dict):
            raise self.fail(prefix, "must be a table")
        kw = dict(base.__dict__)
        if "deployments" in body:
            if body["deployments"] not in signals:
                raise self.fail(key("deployments"),
                                f"must be one of {', '.join(signals)}, got {body['deployments']!r}")
            kw["deployments"] = body["deployments"]
        for k in texts:
            if k in body:
                kw[k] = self.text(key(k), body[k])
        if "environments" in body:
            envs = self.strings(key("environments"), body["environments"], trim=trim)
            kw["environments"] = tuple(e.lower() for e in envs) if lower_environments else envs
        return kw


__all__ = ["SectionChecks", "Selecting", "selected"]
