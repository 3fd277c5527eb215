"""``[[slos]]`` in ``cadence.toml``: service level objectives, validated at start.

An SLO is a service, an objective (a percentage, e.g. 99.9), a rolling window of whole days and an
SLI given as good and total events. For ``cadence sync prometheus`` the SLI is two counter
selectors (``good``, ``total``); an SLO whose hourly SLI arrives by ``cadence ingest sli`` or the
webhook's ``POST /sli`` may leave both out. Shared by the collector, the ingest checks and the
metrics, so it lives in the bottom layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cadence.core.errors import ConfigError

SLO_KEYS = ("name", "service", "objective", "window_days", "good", "total")
MAX_WINDOW_DAYS = 90


@dataclass(frozen=True)
class SLO:
    name: str
    service: str
    objective: float            # percent, 0 < objective < 100
    window_days: int
    good: str | None = None     # Prometheus counter selector of good events
    total: str | None = None    # Prometheus counter selector of all events

    @property
    def target(self) -> float:
        """The objective as a fraction (99.9 → 0.999), the double nearest the decimal."""
        return float(Decimal(repr(self.objective)) / 100)

    @property
    def budget_fraction(self) -> float:
        """1 - objective as a fraction (99.9 → 0.001), computed in decimal: in binary floating point
        1 - 0.95 is 0.05000000000000004, which would keep an exactly spent budget above zero."""
        return float((100 - Decimal(repr(self.objective))) / 100)

    @property
    def has_selectors(self) -> bool:
        return bool(self.good and self.total)


def parse_slos(raw: Any, path: Path | None = None) -> tuple[SLO, ...]:
    """Validate the ``slos`` array of tables; raises ConfigError naming file and key on the first
    fault (``slos[2].objective``, counting from 1 as a reader counts the ``[[slos]]`` blocks)."""
    where = str(path) if path else "configuration"

    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"{where}: {key}: {problem}")

    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("slos", "must be an array of [[slos]] tables (name, service, objective, "
                           "window_days, good, total)")
    slos: list[SLO] = []
    seen: dict[str, int] = {}
    for n, body in enumerate(raw, start=1):
        key = f"slos[{n}]"
        if not isinstance(body, dict):
            raise fail(key, "must be a table: write it as a [[slos]] block")
        unknown = sorted(set(body) - set(SLO_KEYS))
        if unknown:
            raise fail(f"{key}.{unknown[0]}", f"unknown key; expected {', '.join(SLO_KEYS)}")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail(f"{key}.name", f"must be a non-empty string naming the SLO, got {name!r}")
        name = name.strip()
        if name in seen:
            raise fail(f"{key}.name", f'"{name}" is already the name of slos[{seen[name]}]; '
                                      f"SLO names must be unique")
        seen[name] = n
        service = body.get("service")
        if not isinstance(service, str) or not service.strip():
            raise fail(f"{key}.service", f'SLO "{name}": must name the service it measures, got {service!r}')
        objective = body.get("objective")
        if isinstance(objective, bool) or not isinstance(objective, int | float) or not 0 < objective < 100:
            raise fail(f"{key}.objective", f'SLO "{name}": must be a percentage above 0 and below 100 '
                                           f"(e.g. 99.9), got {objective!r}")
        window = body.get("window_days")
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_DAYS:
            raise fail(f"{key}.window_days", f'SLO "{name}": must be a whole number of days from 1 to '
                                             f"{MAX_WINDOW_DAYS} (e.g. 28), got {window!r}")
        selectors = {}
        for side in ("good", "total"):
            value = body.get(side)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise fail(f"{key}.{side}", f'SLO "{name}": must be a non-empty Prometheus counter '
                                            f"selector, e.g. 'http_requests_total{{service=\"api\"}}', got {value!r}")
            selectors[side] = value.strip()
        if len(selectors) == 1:
            missing = "total" if "good" in selectors else "good"
            raise fail(f"{key}.{missing}", f'SLO "{name}": good and total go together; add the {missing} '
                                           f"selector, or leave both out for an SLO fed by `cadence ingest sli`")
        slos.append(SLO(name=name, service=service.strip(), objective=float(objective),
                        window_days=window, **selectors))
    return tuple(slos)
